"""One name registry for every extension point of ours (segmenters, grounders, dataset converters).

verl's own registries (reward managers, agent loops, rollouts, platforms) are verl's; these are the project's:
a class decorator registers a class under a name, and a lookup by the config value that selects it fails with the
known names. Built-in entries are registered on first lookup by importing the package that defines them, so
importing a registry never imports its (possibly heavy) implementations.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

_T = TypeVar("_T", bound=type)


class UnknownNameError(KeyError, ValueError):
    """No class is registered under the name (the message lists the known ones)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[_T]):
    """Classes by name.

    Args:
        kind: What is registered (for messages), e.g. ``"segmenter"``.
        config_key: The config key whose value selects an entry (for messages), e.g. ``"system2.sam2.backend"``.
        builtins: Module that registers the built-in entries when imported (imported on first lookup).
    """

    def __init__(self, kind: str, config_key: str = "", builtins: str | None = None):
        self.kind = kind
        self.config_key = config_key
        self.builtins = builtins
        self._classes: dict[str, _T] = {}

    def register(self, name: str | None = None) -> Callable[[_T], _T]:
        """Class decorator: register the class under ``name`` (default: its ``name`` attribute) and set ``name``.

        Args:
            name: Registry name.

        Returns:
            The decorator (raises ``ValueError`` if another class already holds the name).
        """

        def decorator(cls: _T) -> _T:
            key = name if name is not None else cls.name
            existing = self._classes.get(key)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} name {key!r} is taken by {existing.__module__}.{existing.__qualname__}")
            cls.name = key
            self._classes[key] = cls
            return cls

        return decorator

    def _load_builtins(self) -> None:
        if self.builtins is not None:
            importlib.import_module(self.builtins)

    def get(self, name: str) -> _T:
        """The class registered as ``name``.

        Args:
            name: Registry name.

        Returns:
            The class.

        Raises:
            UnknownNameError: If nothing is registered under ``name``.
        """
        self._load_builtins()
        if name not in self._classes:
            where = f" ({self.config_key})" if self.config_key else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}{where}; known: {', '.join(self.names())}")
        return self._classes[name]

    def names(self) -> list[str]:
        """Registered names, sorted (built-ins included)."""
        self._load_builtins()
        return sorted(self._classes)

    def items(self) -> list[tuple[str, _T]]:
        """``(name, class)`` pairs, sorted by name."""
        return [(name, self._classes[name]) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
