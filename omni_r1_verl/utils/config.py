"""The one config loader: a section of a verl / Hydra config tree -> a typed, validated dataclass.

Every config class of the project is a dataclass whose ``__post_init__`` validates its own fields (raising
:class:`ConfigError` that names the field) and whose ``SECTION`` class attribute says where it lives in verl's
config tree. :func:`build` turns a plain or OmegaConf mapping into such a class the way verl's
``omega_conf_to_dataclass`` does for verl's own sections, with two guarantees: an unknown key is an error naming the
full key, and every error message starts with the section's full key (``system2.pool: num_workers=0 ...``).
Pure module: stdlib only (OmegaConf containers are converted through their own API when one is passed).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A config section holds an unknown key, a value of the wrong type or an invalid value."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds (for ``__post_init__`` checks)."""
    if not condition:
        raise ConfigError(message)


def to_plain(value: Any) -> Any:
    """An OmegaConf container as plain dicts / lists (interpolations resolved); anything else unchanged."""
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    return value


def select(config: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` of a nested mapping (a dict or an OmegaConf node), or ``default``.

    Args:
        config: The config tree.
        path: Dotted key, e.g. ``reward.reward_kwargs``.
        default: Returned when a key on the way is missing or the value there is ``None``.

    Returns:
        The value, as plain containers.
    """
    node = config
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    node = to_plain(node)
    return default if node is None else node


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, value: Any, key: str) -> Any:
    value = to_plain(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        return build(hint, value, key)
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return tuple(value)
    return value


def build(cls: type[_T], data: Any, prefix: str | None = None) -> _T:
    """Build a config dataclass from a mapping; missing keys take their defaults.

    Args:
        cls: The dataclass.
        data: A mapping (plain or OmegaConf), ``None`` (all defaults) or already an instance of ``cls``.
        prefix: Full key of the section, for messages (defaults to ``cls.SECTION``).

    Returns:
        The validated config.

    Raises:
        ConfigError: On a non-mapping section, an unknown key, a wrongly typed or an invalid value; the message
            starts with the full key.
    """
    prefix = prefix if prefix is not None else getattr(cls, "SECTION", cls.__name__)
    if isinstance(data, cls):
        return data
    data = to_plain(data)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        keys = ", ".join(f"{prefix}.{k}" for k in unknown)
        raise ConfigError(f"unknown key(s) {keys}; known: {', '.join(sorted(fields))}")
    hints = _hints(cls)
    kwargs = {name: _convert(hints.get(name), value, f"{prefix}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(str(err) if str(err).startswith(prefix) else f"{prefix}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{prefix}: {err}") from None


def load_section(config: Any, cls: type[_T], path: str | None = None) -> _T:
    """Read ``cls``'s section of a whole config tree (e.g. verl's trainer config).

    Args:
        config: The config tree.
        cls: The section's dataclass (with a ``SECTION`` attribute unless ``path`` is given).
        path: Dotted location of the section (defaults to ``cls.SECTION``).

    Returns:
        The validated config (all defaults when the section is absent).

    Raises:
        ConfigError: As :func:`build`.
    """
    path = path or cls.SECTION  # type: ignore[attr-defined]
    return build(cls, select(config, path), path)


def field_docs(cls: type) -> dict[str, str]:
    """One line per field from the class docstring's ``Attributes:`` section (config reference, YAML comments).

    Args:
        cls: A dataclass with a Google-style docstring.

    Returns:
        ``{field: description}`` (descriptions joined onto one line).
    """
    docs: dict[str, str] = {}
    lines = (cls.__doc__ or "").splitlines()
    names = {f.name for f in dataclasses.fields(cls)}
    inside, current = False, None
    for raw in lines:
        line = raw.strip()
        if line == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if not line:
            current = None
            continue
        name, sep, text = line.partition(":")
        if sep and name in names:
            current = name
            docs[name] = text.strip()
        elif current is not None:
            docs[current] += " " + line
    return docs


#: Where verl keeps the GRPO group size (rollouts per prompt).
GROUP_SIZE_PATH = "actor_rollout_ref.rollout.n"


def grpo_group_size(config: Any) -> int:
    """Rollouts per prompt of a run (``actor_rollout_ref.rollout.n``; 1 when absent).

    The agent loop (to run a group's System-2 job as soon as it is complete) and the reward manager (to wait for
    a group's length term) both read it here, from the one place verl defines it.

    Args:
        config: The trainer config (a dict or an OmegaConf node).

    Returns:
        The group size, at least 1.
    """
    try:
        return max(1, int(select(config, GROUP_SIZE_PATH, 1)))
    except (TypeError, ValueError):
        return 1
