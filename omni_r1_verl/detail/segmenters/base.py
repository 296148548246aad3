"""The video-segmenter interface and its registry (:class:`omni_r1_verl.utils.registry.Registry`).

A segmenter takes a clip and a list of objects (each a box on one or more conditioning frames) and delivers
binary masks at the clip's original resolution, each (object, frame) pair exactly once, through a callback, so
the caller can fold them into per-rollout unions without ever holding every object's masks at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch

from omni_r1_verl.detail.association import ObjectPrompt
from omni_r1_verl.detail.clip import ClipFrames
from omni_r1_verl.detail.config import Sam2Config
from omni_r1_verl.utils.registry import Registry

#: ``sink(frame_index, object_indices, masks)``: ``masks`` is bool ``(len(object_indices), H, W)``.
MaskSink = Callable[[int, Sequence[int], torch.Tensor], None]


class Segmenter(ABC):
    """Propagates box prompts through a clip.

    Args:
        cfg: The ``sam2`` config section.
        device: Compute device.
        dtype: Activation precision (bf16 runs under autocast).
    """

    #: Registry name (set by ``register_segmenter``).
    name: str = ""

    def __init__(self, cfg: Sam2Config, device: torch.device, dtype: torch.dtype):
        self.cfg = cfg
        self.device = device
        self.dtype = dtype

    @abstractmethod
    def propagate(self, clip: ClipFrames, objects: Sequence[ObjectPrompt], sink: MaskSink) -> None:
        """Segment every object on every clip frame.

        With ``propagation=bidirectional`` an object's masks come from forward tracking on and after its first
        conditioning frame and from backward tracking before it; with ``forward`` from one forward pass starting
        at frame 0 (frames before a prompt are tracked from the prompt's memory, as in the reference).

        Args:
            clip: The frames.
            objects: Objects to track; ``sink`` receives their indices in this list.
            sink: Called with each frame's masks; every (object, frame) pair exactly once.
        """

    def describe(self) -> dict[str, Any]:
        """What is loaded (for logs and ``DetailPool.stats``)."""
        return {"backend": self.name, "device": str(self.device), "dtype": str(self.dtype).replace("torch.", "")}

    def _split_frames(self, objects: Sequence[ObjectPrompt], num_frames: int) -> tuple[int, int]:
        """First frame of the forward pass and first frame of the backward pass (-1: no backward pass)."""
        if self.cfg.propagation == "forward":
            return 0, -1
        firsts = [obj.first_frame for obj in objects]
        return min(firsts), max(firsts) - 1

    def _is_forward_frame(self, obj: ObjectPrompt, frame: int) -> bool:
        """Whether ``obj``'s mask on ``frame`` comes from the forward pass."""
        return self.cfg.propagation == "forward" or frame >= obj.first_frame


#: Segmenters by ``system2.sam2.backend``.
SEGMENTERS: Registry[type[Segmenter]] = Registry("segmenter", "system2.sam2.backend", "omni_r1_verl.detail.segmenters")

#: Class decorator: ``@register_segmenter("name")``.
register_segmenter = SEGMENTERS.register

#: ``get_segmenter_cls(name)``: the class selected by ``system2.sam2.backend`` (raises, listing the known ones).
get_segmenter_cls = SEGMENTERS.get
