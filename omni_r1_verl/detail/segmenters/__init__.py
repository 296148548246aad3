"""Video segmenters behind one interface: ``sam2`` (the ``sam2`` package), ``hf_sam2`` and ``sam3_tracker``
(transformers)."""

from omni_r1_verl.detail.segmenters import hf_sam2, sam2_package, sam3_tracker  # noqa: F401  register the built-ins
from omni_r1_verl.detail.segmenters.base import SEGMENTERS, MaskSink, Segmenter, get_segmenter_cls, register_segmenter

__all__ = ["SEGMENTERS", "MaskSink", "Segmenter", "get_segmenter_cls", "register_segmenter"]
