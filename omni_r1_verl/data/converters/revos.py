"""ReVOS (VISA / Sa2VA layout): reasoning video object segmentation.

::

    <root>/[JPEGImages/]<video>/<frame_id>.jpg     (VISA puts frames under JPEGImages/, Sa2VA at the root)
    <root>/meta_expressions_train_.json | meta_expressions_valid_.json
    <root>/mask_dict.json
    <root>/mask_dict_foreground.json               (all annotated objects per frame: the robustness metric R)

``type_id`` 0 = referring, 1 = reasoning (ReVOS reports J&F per type); rows keep it as ``exp_type``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from omni_r1_verl.data.converters.registry import register_converter
from omni_r1_verl.data.converters.sa2va import Sa2VAConverter


@register_converter
class ReVOSConverter(Sa2VAConverter):
    """ReVOS ``train`` / ``valid``."""

    name = "revos"
    splits = ("train", "valid")
    type_names: ClassVar[dict[int, str]] = {0: "referring", 1: "reasoning"}

    def split_files(self) -> tuple[Path, Path, Path | None]:
        return (
            self.root / f"meta_expressions_{self.split}_.json",
            self.root / "mask_dict.json",
            self.root / "mask_dict_foreground.json",
        )

    def frames_dir(self) -> Path:
        nested = self.root / "JPEGImages"
        return nested if nested.is_dir() else self.root
