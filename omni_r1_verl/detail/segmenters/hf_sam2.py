"""SAM2 through transformers' ``Sam2VideoModel`` (in-memory frames, ``from_pretrained`` weights, no Hydra).

Public API only: objects are added frame by frame in time order (so no object receives a conditioning output on a
frame where it has no prompt), then one forward and, for bidirectional propagation, one backward pass of
``propagate_in_video_iterator``; :meth:`Segmenter._is_forward_frame` decides which pass each mask comes from.
transformers tracks objects one at a time (the memory encoder is batched); image features are computed once per
frame per pass and cached up to ``feature_cache_frames``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from omni_r1_verl.detail.association import ObjectPrompt
from omni_r1_verl.detail.clip import ClipFrames
from omni_r1_verl.detail.config import Sam2Config
from omni_r1_verl.detail.segmenters.base import MaskSink, Segmenter, register_segmenter


@register_segmenter("hf_sam2")
class HFSam2Segmenter(Segmenter):
    """transformers ``Sam2VideoModel`` + ``Sam2VideoProcessor`` loaded from ``sam2.checkpoint`` (a directory).

    Args:
        cfg: The ``sam2`` config section.
        device: Compute device.
        dtype: Weights and session dtype (transformers keeps memory features consistent itself).
    """

    def __init__(self, cfg: Sam2Config, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        from transformers import Sam2VideoModel, Sam2VideoProcessor

        self.model = Sam2VideoModel.from_pretrained(cfg.checkpoint, dtype=dtype).to(device).eval()
        self.processor = Sam2VideoProcessor.from_pretrained(cfg.checkpoint)

    def describe(self) -> dict[str, Any]:
        """See :meth:`Segmenter.describe`."""
        size = int(self.model.config.image_size)
        return {**super().describe(), "image_size": size, "checkpoint": self.cfg.checkpoint}

    def propagate(self, clip: ClipFrames, objects: Sequence[ObjectPrompt], sink: MaskSink) -> None:
        """See :meth:`Segmenter.propagate`."""
        if not objects:
            return
        hw = (clip.height, clip.width)
        prompts_by_frame: dict[int, list[tuple[int, Sequence[float]]]] = {}
        for index, obj in enumerate(objects):
            for frame, box in obj.prompts:
                prompts_by_frame.setdefault(frame, []).append((index, box))
        forward_from, backward_from = self._split_frames(objects, clip.num_frames)
        with torch.inference_mode():
            session = self.processor.init_video_session(
                video=clip.frames,
                inference_device=self.device,
                dtype=self.dtype,
                max_vision_features_cache_size=self.cfg.feature_cache_frames,
            )
            for frame in sorted(prompts_by_frame):
                ids = [i for i, _ in prompts_by_frame[frame]]
                boxes = [[float(v) for v in box] for _, box in prompts_by_frame[frame]]
                self.processor.add_inputs_to_inference_session(
                    inference_session=session, frame_idx=frame, obj_ids=ids, input_boxes=[boxes]
                )
                self.model(inference_session=session, frame_idx=frame)
            for out in self.model.propagate_in_video_iterator(session, start_frame_idx=forward_from):
                self._deliver(out, objects, hw, sink, forward=True)
            if backward_from >= 0:
                # transformers skips a backward pass that starts at frame 0, so start one frame later: that frame is
                # a conditioning frame of the object that needs the latest backward start, and is not delivered.
                backward = self.model.propagate_in_video_iterator(
                    session, start_frame_idx=backward_from + 1, reverse=True
                )
                for out in backward:
                    self._deliver(out, objects, hw, sink, forward=False)

    def _deliver(self, out, objects: Sequence[ObjectPrompt], hw: tuple[int, int], sink: MaskSink, forward: bool):
        frame = int(out.frame_idx)
        keep = [j for j, i in enumerate(out.object_ids) if self._is_forward_frame(objects[i], frame) == forward]
        if not keep:
            return
        logits = out.pred_masks[keep].float()
        masks = self.processor.post_process_masks(
            [logits], original_sizes=[list(hw)], mask_threshold=self.cfg.mask_threshold, binarize=True
        )[0]
        sink(frame, [int(out.object_ids[j]) for j in keep], masks[:, 0].to(self.device))
