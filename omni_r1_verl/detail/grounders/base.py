"""The grounding interface (keyframe + description -> boxes in original pixels) and its registry.

Every VLM backend resizes the keyframe with :func:`omni_r1_verl.utils.vision.smart_resize` *before* the model sees it
and forbids the model's processor from resizing again, so the model's pixel coordinates map back to original pixels
exactly (:func:`omni_r1_verl.detail.boxes.to_original`). VLM backends only implement :meth:`Grounder.generate`
(images + prompts -> texts); prompt rendering, resizing, parsing and mapping are shared. A detector that returns
boxes itself (``sam3_text``) overrides :meth:`Grounder.ground` instead.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from omni_r1_verl.contracts.prompts import render_grounding_prompt
from omni_r1_verl.detail.boxes import Box, parse_boxes, to_original
from omni_r1_verl.detail.config import GroundingConfig
from omni_r1_verl.utils.registry import Registry
from omni_r1_verl.utils.vision import smart_resize


@dataclass
class GroundingOutput:
    """What the grounding model said about one keyframe.

    Attributes:
        text: The decoded answer.
        boxes: Boxes in original pixels (not yet validated).
        malformed: Box entries that were not four numbers.
        resized_hw: ``(height, width)`` the model saw.
    """

    text: str
    boxes: list[Box]
    malformed: int
    resized_hw: tuple[int, int]


def resize_for_grounding(image: Image.Image, min_pixels: int, max_pixels: int) -> Image.Image:
    """Resize a keyframe to the size the grounding model sees (``smart_resize``, bicubic as qwen-vl-utils).

    Args:
        image: Original-resolution RGB image.
        min_pixels: Smallest area.
        max_pixels: Largest area.

    Returns:
        The resized image (sides are multiples of 28).
    """
    height, width = smart_resize(image.height, image.width, min_pixels=min_pixels, max_pixels=max_pixels)
    if (height, width) == (image.height, image.width):
        return image
    return image.resize((width, height), Image.Resampling.BICUBIC)


class Grounder:
    """Turns (keyframe, description) pairs into boxes.

    Args:
        cfg: The ``grounding`` config section.
        device: Compute device.
        dtype: Model precision.
    """

    #: Registry name (set by ``register_grounder``).
    name: str = ""

    def __init__(self, cfg: GroundingConfig, device: torch.device, dtype: torch.dtype):
        self.cfg = cfg
        self.device = device
        self.dtype = dtype

    def ground(self, images: Sequence[Image.Image], descriptions: Sequence[str]) -> list[GroundingOutput]:
        """Ground each description on its image (greedy decoding, one batch).

        Args:
            images: Original-resolution keyframes.
            descriptions: System 1's description for each.

        Returns:
            One output per pair, boxes mapped to original pixels.
        """
        if len(images) != len(descriptions):
            raise ValueError(f"{len(images)} images but {len(descriptions)} descriptions")
        if not images:
            return []
        resized = [resize_for_grounding(img, self.cfg.min_pixels, self.cfg.max_pixels) for img in images]
        prompts = [render_grounding_prompt(d, self.cfg.prompt_style) for d in descriptions]
        texts = self.generate(resized, prompts)
        outputs = []
        for image, small, text in zip(images, resized, texts):
            parsed = parse_boxes(text)
            resized_hw = (small.height, small.width)
            boxes = [to_original(b, resized_hw, (image.height, image.width), self.cfg.box_format) for b in parsed.boxes]
            outputs.append(GroundingOutput(text, boxes, parsed.malformed, resized_hw))
        return outputs

    def generate(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        """Greedy answers for already-resized images (the model must not resize them again); VLM backends implement
        it, detectors override :meth:`ground`.

        Args:
            images: Images at their ``smart_resize`` size.
            prompts: One prompt per image.

        Returns:
            Decoded answers, special tokens removed.
        """
        raise NotImplementedError(f"grounder {self.name!r} implements neither generate nor ground")

    def describe(self) -> dict[str, Any]:
        """What is loaded."""
        return {"backend": self.name, "model": self.cfg.model_path, "prompt_style": self.cfg.prompt_style}


#: Grounders by ``system2.grounding.backend``.
GROUNDERS: Registry[type[Grounder]] = Registry("grounder", "system2.grounding.backend", "omni_r1_verl.detail.grounders")

#: Class decorator: ``@register_grounder("name")``.
register_grounder = GROUNDERS.register


def get_grounder_cls(name: str, device: torch.device) -> type[Grounder]:
    """Look up a grounder; ``auto`` picks vLLM on a GPU when it is installed, else transformers.

    Args:
        name: ``grounding.backend``.
        device: The worker's device.

    Returns:
        The class.

    Raises:
        omni_r1_verl.utils.registry.UnknownNameError: For an unknown name.
    """
    if name == "auto":
        name = "vllm" if device.type == "cuda" and importlib.util.find_spec("vllm") is not None else "transformers"
    return GROUNDERS.get(name)
