"""MeViS (Sa2VA layout): motion-expression video segmentation.

::

    <root>/<split>/JPEGImages/<video>/<frame_id>.jpg
    <root>/<split>/meta_expressions.json
    <root>/<split>/mask_dict.json

Splits ``train`` and ``valid_u`` ship masks. ``valid`` has none (it is scored by the online server), so it cannot
be converted into training or locally evaluated data. MeViS expressions have no ``type_id``.
"""

from __future__ import annotations

from pathlib import Path

from omni_r1_verl.data.converters.registry import register_converter
from omni_r1_verl.data.converters.sa2va import Sa2VAConverter


@register_converter
class MeViSConverter(Sa2VAConverter):
    """MeViS ``train`` / ``valid_u``."""

    name = "mevis"
    splits = ("train", "valid_u")

    def split_files(self) -> tuple[Path, Path, Path | None]:
        base = self.root / self.split
        return base / "meta_expressions.json", base / "mask_dict.json", None

    def frames_dir(self) -> Path:
        return self.root / self.split / "JPEGImages"
