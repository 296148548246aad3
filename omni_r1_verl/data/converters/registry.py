"""Converter registry: ``omni-r1 prepare NAME`` looks converters up here by their ``name``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from omni_r1_verl.data.converters.base import Converter

_C = TypeVar("_C", bound="type[Converter]")

#: Converter classes by dataset name.
CONVERTERS: dict[str, type[Converter]] = {}


def register_converter(cls: _C) -> _C:
    """Class decorator: make a :class:`~omni_r1_verl.data.converters.base.Converter` available by its ``name``.

    Raises:
        ValueError: If another class already has the name.
    """
    existing = CONVERTERS.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"converter name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    CONVERTERS[cls.name] = cls
    return cls


def get_converter(name: str) -> type[Converter]:
    """The converter class registered as ``name``.

    Raises:
        KeyError: With the known names, if ``name`` is not registered.
    """
    try:
        return CONVERTERS[name]
    except KeyError:
        raise KeyError(f"no converter named {name!r}; known: {', '.join(sorted(CONVERTERS))}") from None
