"""Dataset converters (ReVOS, MeViS, RefAVS, refCOCOg) and their registry.

Importing this package registers the built-in converters; add a dataset by subclassing
:class:`~omni_r1_verl.data.converters.base.Converter` and decorating it with :func:`register_converter`.
"""

from omni_r1_verl.data.converters import mevis, refavs, refcocog, revos  # noqa: F401 - registration
from omni_r1_verl.data.converters.registry import CONVERTERS, get_converter, register_converter

__all__ = ["CONVERTERS", "get_converter", "register_converter"]
