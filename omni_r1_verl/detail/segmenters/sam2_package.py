"""SAM2 from the ``sam2`` package, tracking many objects per forward pass.

A :class:`~omni_r1_verl.detail.segmenters.grouped.GroupedSegmenter`: one ``SAM2Base.track_step`` per (frame, group
of objects with the same conditioning frames), with the same model calls, memory selection and box encoding as the
official ``SAM2VideoPredictor`` (``tests/detail/test_segmenters.py`` checks mask parity against it).

Other differences from the official predictor, all deliberate:

* frames come from memory (the dataset's decoded images), not from a JPEG folder;
* image features are computed once per frame per job, a few frames per encoder call, and kept in a small cache;
* only what later frames read is kept per tracked frame (memory features, object pointer, object score);
* the model is built from its YAML with OmegaConf + ``hydra.utils.instantiate``, without Hydra's global state, so
  it can live in any process (verl's driver runs Hydra).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from omni_r1_verl.detail.clip import ClipFrames
from omni_r1_verl.detail.config import Sam2Config
from omni_r1_verl.detail.devices import autocast
from omni_r1_verl.detail.segmenters.base import register_segmenter
from omni_r1_verl.detail.segmenters.grouped import GroupedSegmenter, ObjectGroup

logger = logging.getLogger(__name__)

#: Settings ``sam2.build_sam.build_sam2_video_predictor`` adds with ``apply_postprocessing=True``.
POSTPROCESSING = {
    "model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability": True,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta": 0.05,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh": 0.98,
    "model.binarize_mask_from_pts_for_mem_enc": True,
    "model.fill_hole_area": 8,
}
#: ImageNet statistics the ``sam2`` frame loader normalises with.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def resolve_sam2_config(name: str) -> Path:
    """A config file: an existing path, or a config inside the ``sam2`` package.

    Args:
        name: ``configs/sam2.1/sam2.1_hiera_l.yaml`` style name, or a YAML path.

    Returns:
        The file.

    Raises:
        FileNotFoundError: If neither exists.
    """
    path = Path(os.path.expanduser(name))
    if path.is_file():
        return path
    spec = importlib.util.find_spec("sam2")
    if spec is not None and spec.origin is not None:
        packaged = Path(spec.origin).parent / name
        if packaged.is_file():
            return packaged
    raise FileNotFoundError(f"SAM2 config {name!r} is neither a file nor a config inside the sam2 package")


def build_sam2_model(config: str, checkpoint: str | None, image_size: int = 0, device: str | torch.device = "cpu"):
    """Build a ``SAM2VideoPredictor`` from a config and an official-format checkpoint.

    Args:
        config: See :func:`resolve_sam2_config`.
        checkpoint: ``.pt`` file holding ``{"model": state_dict}`` (or a bare state dict); ``None`` keeps the
            random initialisation (benchmarks only).
        image_size: Input side override (0 keeps the config's).
        device: Target device.

    Returns:
        The model in eval mode.

    Raises:
        RuntimeError: If the checkpoint's keys do not match the config's architecture.
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(resolve_sam2_config(config))
    overrides: dict[str, Any] = {"model._target_": "sam2.sam2_video_predictor.SAM2VideoPredictor", **POSTPROCESSING}
    if image_size:
        overrides["model.image_size"] = int(image_size)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    if checkpoint is not None:
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - unpickling errors of many kinds: name the file
            raise RuntimeError(f"cannot read SAM2 checkpoint {checkpoint}: {type(err).__name__}: {err}") from err
        state = state.get("model", state)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # shape mismatches: keep the first few of possibly hundreds of lines
            details = "; ".join(line.strip() for line in str(err).splitlines()[1:4])
            raise RuntimeError(f"checkpoint {checkpoint} does not match config {config}: {details} ...") from None
        if missing or unexpected:
            raise RuntimeError(
                f"checkpoint {checkpoint} does not match config {config}: missing {sorted(missing)[:5]}, "
                f"unexpected {sorted(unexpected)[:5]} ({len(missing)} / {len(unexpected)} keys)"
            )
    return model.to(device).eval()


@register_segmenter("sam2")
class Sam2PackageSegmenter(GroupedSegmenter):
    """The official SAM2.1 checkpoints and configs, objects batched per conditioning-frame group.

    Args:
        cfg: The ``sam2`` config section (``checkpoint`` = ``.pt`` file, ``config`` = YAML).
        device: Compute device.
        dtype: bf16 runs under autocast and stores memory features in bf16 (as the official predictor does);
            float32 keeps everything in float32.
    """

    def __init__(self, cfg: Sam2Config, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        self.model = build_sam2_model(cfg.config, cfg.checkpoint, cfg.image_size, device)
        self.image_size = int(self.model.image_size)
        self._fill_holes = self.model.fill_hole_area > 0 and importlib.util.find_spec("sam2._C") is not None
        if self.model.fill_hole_area > 0 and not self._fill_holes:
            logger.info("sam2._C is not built: small-hole filling is skipped, as in the official predictor")
        self._maskmem_pos: list[torch.Tensor] | None = None
        self._feat_sizes: list[tuple[int, int]] = []

    def describe(self) -> dict[str, Any]:
        """See :meth:`Segmenter.describe`."""
        return {**super().describe(), "image_size": self.image_size, "checkpoint": self.cfg.checkpoint}

    def prepare_images(self, clip: ClipFrames) -> torch.Tensor:
        """Resize to the model's square input and normalise, as the ``sam2`` frame loader does.

        Args:
            clip: Original-resolution frames.

        Returns:
            Float tensor ``(F, 3, S, S)`` on the CPU.
        """
        size = (self.image_size, self.image_size)
        batch = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC)) for f in clip.frames])
        images = torch.from_numpy(batch / 255.0).permute(0, 3, 1, 2).float()  # same rounding as the sam2 loader
        mean = torch.tensor(_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_STD).view(1, 3, 1, 1)
        return (images - mean) / std

    def encode_images(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """See :meth:`GroupedSegmenter.encode_images` (``SAM2Base.forward_image`` + its feature preparation)."""
        backbone_out = self.model.forward_image(images)
        _, vision_feats, vision_pos, self._feat_sizes = self.model._prepare_backbone_features(backbone_out)
        return vision_feats, vision_pos

    def box_prompts(self, boxes: Sequence[Sequence[float]], hw: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Boxes as SAM2's two labelled corner points (labels 2 and 3) in model-input coordinates."""
        coords = torch.tensor(boxes, dtype=torch.float32).view(-1, 2, 2)
        coords = coords / torch.tensor([hw[1], hw[0]], dtype=torch.float32) * self.image_size
        labels = torch.tensor([[2, 3]], dtype=torch.int32).expand(len(boxes), 2)
        return {"point_coords": coords.to(self.device), "point_labels": labels.contiguous().to(self.device)}

    def step_context(self):
        """bf16 autocast on GPU (and on CPU when asked), as the official predictor runs."""
        return autocast(self.device, self.dtype)

    def track_step(self, feats, group: ObjectGroup, frame: int, num_frames: int, prompts, reverse: bool):
        """See :meth:`GroupedSegmenter.track_step`: one ``SAM2Base.track_step`` for the group."""
        vision_feats, vision_pos = feats
        out = self.model.track_step(
            frame_idx=frame,
            is_init_cond_frame=prompts is not None,
            current_vision_feats=vision_feats,
            current_vision_pos_embeds=vision_pos,
            feat_sizes=self._feat_sizes,
            point_inputs=prompts,
            mask_inputs=None,
            output_dict=group.output,
            num_frames=num_frames,
            track_in_reverse=reverse,
            run_mem_encoder=True,
        )
        masks = out["pred_masks"]
        if self._fill_holes:
            from sam2.utils.misc import fill_holes_in_mask_scores

            masks = fill_holes_in_mask_scores(masks, self.model.fill_hole_area)
        memory = out["maskmem_features"]
        if self.dtype == torch.bfloat16:
            memory = memory.to(torch.bfloat16)
        compact = {
            "maskmem_features": memory,
            "maskmem_pos_enc": self._shared_maskmem_pos(out["maskmem_pos_enc"], len(group.members)),
            "obj_ptr": out["obj_ptr"],
            "object_score_logits": out["object_score_logits"],
        }
        return compact, masks

    def _shared_maskmem_pos(self, pos: list[torch.Tensor], batch: int) -> list[torch.Tensor]:
        """The memory positional encoding is the same for every frame and object: keep one copy."""
        if self._maskmem_pos is None:
            self._maskmem_pos = [x[:1].clone() for x in pos]
        return [x.expand(batch, -1, -1, -1) for x in self._maskmem_pos]

    def to_video(self, masks: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """See :meth:`GroupedSegmenter.to_video` (bilinear, as the official predictor)."""
        full = F.interpolate(masks.float(), size=hw, mode="bilinear", align_corners=False)
        return full[:, 0] > self.cfg.mask_threshold
