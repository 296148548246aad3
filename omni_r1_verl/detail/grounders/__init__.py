"""Grounders behind one interface: the VLMs ``transformers`` (any device) and ``vllm`` (GPU), and SAM 3's text
detector ``sam3_text``."""

from omni_r1_verl.detail.grounders import sam3_text, transformers_vlm, vllm_vlm  # noqa: F401  register the built-ins
from omni_r1_verl.detail.grounders.base import (
    GROUNDERS,
    Grounder,
    GroundingOutput,
    get_grounder_cls,
    register_grounder,
    resize_for_grounding,
)

__all__ = ["GROUNDERS", "Grounder", "GroundingOutput", "get_grounder_cls", "register_grounder", "resize_for_grounding"]
