"""SAM 3's video tracker (transformers ``Sam3TrackerVideoModel``), tracking many objects per model step.

transformers' own ``forward`` tracks the objects of a session one at a time (batch size 1; only the memory encoder
is batched, and it decides whether to binarise a frame's masks for all objects of the frame at once). This backend
is a :class:`~omni_r1_verl.detail.segmenters.grouped.GroupedSegmenter`: one step per (frame, group of objects with
the same conditioning frames), built from the model's own pieces (image features, memory selection, object
pointers, memory attention, prompt encoder, mask decoder, memory encoder) in the order of its per-object path, so a
group of one gives transformers' masks (``tests/detail/test_sam3.py`` checks parity with
``propagate_in_video_iterator`` and grouped against one-by-one tracking). Two steps are re-implemented because
transformers' versions only handle one object: the reshape after memory attention and the best-mask selection of
the multimask output.

The checkpoint is a ``from_pretrained`` directory of a ``Sam3TrackerVideoModel`` or of a ``Sam3VideoModel``
(``facebook/sam3``; transformers maps the detector's ViT and the tracker neck into the tracker's vision encoder).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from omni_r1_verl.detail.clip import ClipFrames
from omni_r1_verl.detail.config import Sam2Config
from omni_r1_verl.detail.segmenters.base import register_segmenter
from omni_r1_verl.detail.segmenters.grouped import GroupedSegmenter, ObjectGroup

#: Mask logit transformers writes where the object score says "no object" (``NO_OBJ_SCORE``).
NO_OBJECT_LOGIT = -1024.0


@register_segmenter("sam3_tracker")
class Sam3TrackerSegmenter(GroupedSegmenter):
    """``Sam3TrackerVideoModel`` + ``Sam3TrackerVideoProcessor`` from ``sam2.checkpoint``, objects batched per group.

    Args:
        cfg: The ``sam2`` config section (``checkpoint`` = a transformers SAM 3 directory).
        device: Compute device.
        dtype: Weights and activation dtype (bf16 on GPU); memory features are stored in bf16, as transformers does.
    """

    def __init__(self, cfg: Sam2Config, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        from transformers import Sam3TrackerVideoModel, Sam3TrackerVideoProcessor

        self.model = Sam3TrackerVideoModel.from_pretrained(cfg.checkpoint, dtype=dtype).to(device).eval()
        self.processor = Sam3TrackerVideoProcessor.from_pretrained(cfg.checkpoint)
        self.image_size = int(self.model.image_size)
        self._maskmem_pos: torch.Tensor | None = None

    def describe(self) -> dict[str, Any]:
        """See :meth:`Segmenter.describe`."""
        return {**super().describe(), "image_size": self.image_size, "checkpoint": self.cfg.checkpoint}

    def prepare_images(self, clip: ClipFrames) -> torch.Tensor:
        """The processor's video preprocessing (resize to the model side, SAM 3's normalisation), on the CPU."""
        processed = self.processor.video_processor(videos=clip.frames, device="cpu", return_tensors="pt")
        return processed.pixel_values_videos[0]

    def encode_images(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """See :meth:`GroupedSegmenter.encode_images` (``Sam3TrackerVideoModel.get_image_features``)."""
        out = self.model.get_image_features(images.to(self.dtype), return_dict=True)
        return list(out.fpn_hidden_states), list(out.fpn_position_encoding)

    def box_prompts(self, boxes: Sequence[Sequence[float]], hw: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Boxes as two labelled corner points (labels 2 and 3), scaled by the processor like its own box input."""
        scaled = self.processor(input_boxes=[[list(b) for b in boxes]], original_sizes=[list(hw)], return_tensors="pt")
        coords = scaled["input_boxes"][0].reshape(len(boxes), 1, 2, 2)
        labels = torch.tensor([2, 3], dtype=torch.int32).repeat(len(boxes), 1, 1)
        return {"point_coords": coords.to(self.device), "point_labels": labels.to(self.device)}

    def track_step(self, feats, group: ObjectGroup, frame: int, num_frames: int, prompts, reverse: bool):
        """See :meth:`GroupedSegmenter.track_step` (transformers' ``_run_single_frame_inference`` for a batch)."""
        model = self.model
        vision_feats, vision_pos = feats
        batch, channels = len(group.members), model.hidden_dim
        high_res = [
            x.permute(1, 2, 0).view(batch, x.size(2), *size)
            for x, size in zip(vision_feats[:-1], model.backbone_feature_sizes[:-1])
        ]
        if prompts is not None:  # an initial conditioning frame: no memory
            pix = vision_feats[-1] + model.no_memory_embedding
            pix = pix.permute(1, 2, 0).view(batch, channels, *model.backbone_feature_sizes[-1])
        else:
            pix = self._condition_on_memory(group, frame, vision_feats[-1], vision_pos[-1], num_frames, reverse)
        out = self._decode(pix, high_res, prompts)
        memory, memory_pos = model._encode_new_memory(
            current_vision_feats=vision_feats[-1],
            pred_masks_high_res=out["high_res_masks"],
            object_score_logits=out["object_score_logits"],
            is_mask_from_pts=prompts is not None,
        )
        if self._maskmem_pos is None:  # the same for every frame and object: keep one copy
            self._maskmem_pos = memory_pos[:, :1].clone()
        compact = {
            "maskmem_features": memory,
            "maskmem_pos_enc": self._maskmem_pos.expand(-1, batch, -1),
            "object_pointer": out["object_pointer"],
            "object_score_logits": out["object_score_logits"],
        }
        return compact, out["pred_masks"]

    def to_video(self, masks: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """See :meth:`GroupedSegmenter.to_video` (the processor's ``post_process_masks``)."""
        full = self.processor.post_process_masks(
            [masks.float()], original_sizes=[list(hw)], mask_threshold=self.cfg.mask_threshold, binarize=True
        )[0]
        return full[:, 0]

    def _condition_on_memory(self, group, frame, feats, pos, num_frames, reverse) -> torch.Tensor:
        """Memory attention over the group's memory bank: ``(B, C, H, W)`` (transformers' memory conditioning)."""
        model = self.model
        batch, device = feats.size(1), feats.device
        bank = SimpleNamespace(output_dict_per_obj={0: group.output})  # the session fields the selectors read
        previous = model._gather_memory_frame_outputs(bank, 0, frame, track_in_reverse_time=reverse)
        memories, memory_pos = model._build_memory_attention_inputs(previous, device)
        offsets, pointers, max_pointers = model._get_object_pointers(
            bank, 0, frame, num_frames, device, track_in_reverse_time=reverse
        )
        num_pointer_tokens = 0
        if pointers:
            tokens, tokens_pos = model._process_object_pointers(
                offsets, pointers, max_pointers, batch, model.hidden_dim, device
            )
            memories.append(tokens)
            memory_pos.append(tokens_pos)
            num_pointer_tokens = tokens.shape[0]
        conditioned = model.memory_attention(
            current_vision_features=feats,
            current_vision_position_embeddings=pos,
            memory=torch.cat(memories, dim=0).to(dtype=self.dtype),
            memory_posision_embeddings=torch.cat(memory_pos, dim=0),
            num_object_pointer_tokens=num_pointer_tokens,
        )  # (1, B, HW, C)
        return conditioned[0].transpose(1, 2).reshape(batch, model.hidden_dim, *model.backbone_feature_sizes[-1])

    def _decode(self, pix: torch.Tensor, high_res: list[torch.Tensor], prompts) -> dict[str, torch.Tensor]:
        """Prompt encoder + mask decoder for a batch (``_single_frame_forward`` from image embeddings)."""
        model = self.model
        batch = pix.shape[0]
        if prompts is None:  # a tracked frame: one padding point, as transformers feeds
            points = torch.zeros(batch, 1, 1, 2, dtype=pix.dtype, device=pix.device)
            labels = -torch.ones(batch, 1, 1, dtype=torch.int32, device=pix.device)
        else:
            points, labels = prompts["point_coords"], prompts["point_labels"]
        multimask = model._use_multimask(prompts is not None, prompts)
        sparse, dense = model.prompt_encoder(points, labels, input_boxes=None, input_masks=None)
        low_res, iou, tokens, object_score = model.mask_decoder(
            image_embeddings=pix,
            image_positional_embeddings=model.get_image_wide_positional_embeddings().repeat(batch, 1, 1, 1),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            high_resolution_features=high_res,
        )  # (B, 1, K, h, w), (B, 1, K), (B, 1, K, C), (B, 1, 1)
        appearing = object_score > 0
        low_res = torch.where(appearing[:, None, None], low_res, NO_OBJECT_LOGIT)
        high_res_masks = F.interpolate(
            low_res.squeeze(1).float(), size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        ).to(low_res.dtype)
        rows = torch.arange(batch, device=pix.device)
        best = iou[:, 0].argmax(dim=-1) if multimask else torch.zeros_like(rows)
        token = tokens[rows, 0, best] if tokens.size(2) > 1 else tokens[:, 0, 0]
        pointer = model.object_pointer_proj(token)
        weight = appearing[:, 0].to(pointer.dtype)
        pointer = weight * pointer + (1 - weight) * model.no_object_pointer
        return {
            "pred_masks": low_res[rows, 0, best].unsqueeze(1),
            "high_res_masks": high_res_masks[rows, best].unsqueeze(1),
            "object_pointer": pointer,
            "object_score_logits": object_score,
        }
