"""Tracking many objects per model step: the propagation loop shared by the ``sam2`` and ``sam3_tracker`` backends.

SAM-style video predictors run memory attention, mask decoder and memory encoder once per object per frame
(batch size 1), which dominates the cost once image features are shared. Objects with the same conditioning frames
see the same memory frames, so :class:`GroupedSegmenter` stacks them along the batch dimension and runs one step per
(frame, group of objects). The order of steps is the official predictors': every conditioning frame of a group
first (no memory), then one forward pass and, for bidirectional propagation, one backward pass. Backends implement
the model calls (:meth:`GroupedSegmenter.track_step` and the image encoder); tests check mask parity of each
backend with its library's own single-object predictor and of grouped with one-by-one tracking.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from omni_r1_verl.detail.association import ObjectPrompt
from omni_r1_verl.detail.clip import ClipFrames
from omni_r1_verl.detail.segmenters.base import MaskSink, Segmenter

#: ``encode(images) -> (features, positional encodings)``: per feature level a ``(HW, N, C)`` tensor for the N images.
ImageEncoder = Callable[[torch.Tensor], tuple[list[torch.Tensor], list[torch.Tensor]]]


class FeatureCache:
    """Image features per frame, computed a few frames per encoder call, least recently used evicted.

    Args:
        encode: The backend's image encoder.
        images: Preprocessed frames ``(F, 3, S, S)`` (moved to ``device`` a batch at a time).
        capacity: Frames kept.
        batch_size: Frames per encoder call.
        device: Compute device.
    """

    def __init__(self, encode: ImageEncoder, images: torch.Tensor, capacity: int, batch_size: int, device):
        self.encode = encode
        self.images = images
        self.capacity = max(1, capacity)
        self.batch_size = max(1, batch_size)
        self.device = device
        self.frames: dict[int, list[torch.Tensor]] = {}
        self.pos: list[torch.Tensor] | None = None
        self.encoded = 0

    def get(self, frame: int, step: int, batch: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Features of ``frame`` expanded to ``batch`` objects; on a miss, encode ahead in direction ``step``."""
        if frame not in self.frames:
            self._encode(frame, step)
        feats = self.frames.pop(frame)
        self.frames[frame] = feats  # most recently used last
        return [x.expand(-1, batch, -1) for x in feats], [x.expand(-1, batch, -1) for x in self.pos]

    def _encode(self, frame: int, step: int) -> None:
        todo = []
        f = frame
        while 0 <= f < len(self.images) and len(todo) < min(self.batch_size, self.capacity):
            if f not in self.frames:
                todo.append(f)
            f += step
        vision_feats, vision_pos = self.encode(self.images[todo].to(self.device, non_blocking=True))
        self.encoded += len(todo)
        if self.pos is None:
            self.pos = [x[:, :1] for x in vision_pos]  # positional encodings depend on the size only
        for i, f in enumerate(todo):
            self.frames[f] = [x[:, i : i + 1] for x in vision_feats]
        while len(self.frames) > self.capacity:
            self.frames.pop(next(iter(self.frames)))


@dataclass
class ObjectGroup:
    """Objects tracked together: same conditioning frames, so same memory frames.

    Attributes:
        frames: The conditioning frames, ascending.
        members: Indices of the objects (into the ``objects`` given to ``propagate``).
        output: The group's memory bank, in the predictors' layout (``cond_frame_outputs`` / ``non_cond_frame_outputs``
            mapping a frame to what later frames read: memory features, object pointer, object score).
        cond_masks: Mask logits of the conditioning frames, until the forward pass delivers them.
    """

    frames: tuple[int, ...]
    members: list[int]
    output: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
    )
    cond_masks: dict[int, torch.Tensor] = field(default_factory=dict)


class GroupedSegmenter(Segmenter):
    """A segmenter that tracks each conditioning-frame group of objects in one batched step per frame.

    Subclasses provide the image pipeline (:meth:`prepare_images`, :meth:`encode_images`), the prompt encoding
    (:meth:`box_prompts`), one tracking step (:meth:`track_step`) and the mask upsampling (:meth:`to_video`).
    """

    #: Frames the image encoder processed in the last ``propagate`` (each frame once when the cache holds the clip).
    last_encoded_frames: int = 0

    @abstractmethod
    def prepare_images(self, clip: ClipFrames) -> torch.Tensor:
        """Model-input frames ``(F, 3, S, S)`` (resized and normalised), on the CPU."""

    @abstractmethod
    def encode_images(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Image features and positional encodings per level, each ``(HW, N, C)`` for ``N`` images (see
        :data:`ImageEncoder`)."""

    @abstractmethod
    def box_prompts(self, boxes: Sequence[Sequence[float]], hw: tuple[int, int]) -> Any:
        """The model's prompt for one box per object (original pixels ``[x1, y1, x2, y2]``)."""

    @abstractmethod
    def track_step(
        self,
        feats: tuple[list[torch.Tensor], list[torch.Tensor]],
        group: ObjectGroup,
        frame: int,
        num_frames: int,
        prompts: Any,
        reverse: bool,
    ) -> tuple[dict[str, Any], torch.Tensor]:
        """One step for every object of ``group`` on ``frame``.

        Args:
            feats: The frame's features and positional encodings, expanded to the group's size.
            group: The objects and their memory bank (read, not written: the caller stores the output).
            frame: Frame index.
            num_frames: Frames in the clip.
            prompts: :meth:`box_prompts` of the group on a conditioning frame; ``None`` on a tracked frame.
            reverse: Tracking backwards in time.

        Returns:
            What later frames read from this one (stored in ``group.output``), and low-resolution mask logits
            ``(B, 1, h, w)``.
        """

    @abstractmethod
    def to_video(self, masks: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Low-resolution logits ``(B, 1, h, w)`` to bool masks ``(B, H, W)`` at the original resolution."""

    def step_context(self) -> contextlib.AbstractContextManager:
        """Context every model call runs in (e.g. autocast); none by default."""
        return contextlib.nullcontext()

    def propagate(self, clip: ClipFrames, objects: Sequence[ObjectPrompt], sink: MaskSink) -> None:
        """See :meth:`Segmenter.propagate`."""
        if not objects:
            return
        num_frames, hw = clip.num_frames, (clip.height, clip.width)
        feats = FeatureCache(
            self.encode_images,
            self.prepare_images(clip),
            self.cfg.feature_cache_frames,
            self.cfg.image_batch_size,
            self.device,
        )
        groups = self.groups(objects)
        forward_from, backward_from = self._split_frames(objects, num_frames)

        def step(group: ObjectGroup, frame: int, prompts: Any, reverse: bool):
            features = feats.get(frame, -1 if reverse else 1, len(group.members))
            return self.track_step(features, group, frame, num_frames, prompts, reverse)

        with torch.inference_mode(), self.step_context():
            for group in groups:
                for frame in group.frames:
                    prompts = self.box_prompts([objects[i].box_at(frame) for i in group.members], hw)
                    out, masks = step(group, frame, prompts, reverse=False)
                    group.output["cond_frame_outputs"][frame] = out
                    group.cond_masks[frame] = masks
            for frame in range(forward_from, num_frames):
                for group in groups:
                    if not self._is_forward_frame(objects[group.members[0]], frame):
                        continue
                    masks = group.cond_masks.pop(frame, None)
                    if masks is None:
                        out, masks = step(group, frame, None, reverse=False)
                        group.output["non_cond_frame_outputs"][frame] = out
                    sink(frame, group.members, self.to_video(masks, hw))
            for frame in range(backward_from, -1, -1):
                for group in groups:
                    if frame >= group.frames[0]:
                        continue
                    out, masks = step(group, frame, None, reverse=True)
                    group.output["non_cond_frame_outputs"][frame] = out
                    sink(frame, group.members, self.to_video(masks, hw))
        self.last_encoded_frames = feats.encoded

    def groups(self, objects: Sequence[ObjectPrompt]) -> list[ObjectGroup]:
        """Objects grouped by conditioning frames, at most ``max_objects_per_step`` per group."""
        by_frames: dict[tuple[int, ...], list[int]] = {}
        for i, obj in enumerate(objects):
            by_frames.setdefault(obj.frames, []).append(i)
        step = self.cfg.max_objects_per_step
        return [
            ObjectGroup(frames, members[k : k + step])
            for frames, members in by_frames.items()
            for k in range(0, len(members), step)
        ]
