"""Video segmenters behind one interface: ``sam2`` (the ``sam2`` package) and ``hf_sam2`` (transformers)."""

from omni_r1_verl.detail.segmenters import hf_sam2, sam2_package  # noqa: F401  register the built-in backends
from omni_r1_verl.detail.segmenters.base import SEGMENTERS, MaskSink, Segmenter, get_segmenter_cls, register_segmenter

__all__ = ["SEGMENTERS", "MaskSink", "Segmenter", "get_segmenter_cls", "register_segmenter"]
