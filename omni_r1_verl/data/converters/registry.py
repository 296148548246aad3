"""Converter registry: ``omni-r1 prepare NAME`` looks converters up here by their ``name``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omni_r1_verl.utils.registry import Registry

if TYPE_CHECKING:
    from omni_r1_verl.data.converters.base import Converter

#: Converter classes by dataset name (the built-ins register when :mod:`omni_r1_verl.data.converters` is imported).
CONVERTERS: Registry[type[Converter]] = Registry("converter", "omni-r1 prepare DATASET", "omni_r1_verl.data.converters")

#: Class decorator making a :class:`~omni_r1_verl.data.converters.base.Converter` available by its ``name``.
register_converter = CONVERTERS.register()

#: ``get_converter(name)``: the converter class registered as ``name`` (raises, listing the known names).
get_converter = CONVERTERS.get
