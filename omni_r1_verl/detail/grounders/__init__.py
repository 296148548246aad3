"""Grounding VLMs behind one interface: ``transformers`` (any device) and ``vllm`` (GPU)."""

from omni_r1_verl.detail.grounders import transformers_vlm, vllm_vlm  # noqa: F401  register the built-in backends
from omni_r1_verl.detail.grounders.base import (
    GROUNDERS,
    Grounder,
    GroundingOutput,
    get_grounder_cls,
    register_grounder,
    resize_for_grounding,
)

__all__ = ["GROUNDERS", "Grounder", "GroundingOutput", "get_grounder_cls", "register_grounder", "resize_for_grounding"]
