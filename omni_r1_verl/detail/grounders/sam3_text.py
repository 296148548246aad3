"""Grounding with SAM 3's image detector (transformers ``Sam3Model``): the description is the text concept.

System 1's keyframe description prompts SAM 3 directly, with no grounding VLM: every detection whose score
(``sigmoid(logit) * sigmoid(presence)``, transformers' ``post_process_object_detection``) exceeds
``grounding.score_threshold`` becomes a box in original pixels. SAM 3 is trained on short noun phrases
("red car", "the dog on the left"); a description that needs reasoning ("the one that moves first") is better
served by a VLM grounder. Descriptions are cut to SAM 3's 32 text tokens. Combined with the ``sam3_tracker``
segmenter this is a one-checkpoint System 2 (both load ``facebook/sam3``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from omni_r1_verl.detail.config import GroundingConfig
from omni_r1_verl.detail.grounders.base import Grounder, GroundingOutput, register_grounder

#: Tokens per text prompt (the text encoder's positions); longer descriptions are truncated.
TEXT_TOKENS = 32


@register_grounder("sam3_text")
class Sam3TextGrounder(Grounder):
    """``Sam3Model`` + ``Sam3Processor`` from ``grounding.model_path`` (a ``facebook/sam3`` style directory).

    Only ``model_path``, ``score_threshold``, ``batch_size`` and ``dtype`` apply; the VLM keys (prompt style, box
    format, pixel bounds, generation budget) do not.

    Args:
        cfg: The ``grounding`` config section.
        device: Compute device.
        dtype: Weights dtype.
    """

    def __init__(self, cfg: GroundingConfig, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        from transformers import Sam3Model, Sam3Processor

        self.model = Sam3Model.from_pretrained(cfg.model_path, dtype=dtype).to(device).eval()
        self.processor = Sam3Processor.from_pretrained(cfg.model_path)

    def describe(self) -> dict[str, Any]:
        """What is loaded."""
        return {"backend": self.name, "model": self.cfg.model_path, "score_threshold": self.cfg.score_threshold}

    def ground(self, images: Sequence[Image.Image], descriptions: Sequence[str]) -> list[GroundingOutput]:
        """Detect each description on its image.

        The image encoder runs once per distinct keyframe (rollouts of a group describe the same frames in different
        words), ``grounding.batch_size`` images per call; the detector heads run per (keyframe, description) pair,
        ``batch_size`` pairs per call.

        Args:
            images: Original-resolution keyframes.
            descriptions: System 1's description for each.

        Returns:
            One output per pair: the kept boxes in original pixels; ``text`` lists them with their scores as
            JSON (``bbox_2d`` / ``score``), ``resized_hw`` is the model's input side.
        """
        if len(images) != len(descriptions):
            raise ValueError(f"{len(images)} images but {len(descriptions)} descriptions")
        slots: dict[tuple, int] = {}
        distinct: list[Image.Image] = []
        image_of = []
        for image in images:
            key = (image.size, image.mode, hashlib.blake2b(image.tobytes(), digest_size=16).digest())
            if key not in slots:
                slots[key] = len(distinct)
                distinct.append(image.convert("RGB"))
            image_of.append(slots[key])
        outputs: list[GroundingOutput | None] = [None] * len(images)
        step = self.cfg.batch_size
        for first in range(0, len(distinct), step):
            chunk = distinct[first : first + step]
            pixels = self.processor(images=chunk, return_tensors="pt")["pixel_values"].to(self.device, self.dtype)
            with torch.inference_mode():
                features = self.model.get_vision_features(pixel_values=pixels)
            pairs = [i for i, slot in enumerate(image_of) if first <= slot < first + step]
            for start in range(0, len(pairs), step):
                batch = pairs[start : start + step]
                rows = torch.tensor([image_of[i] - first for i in batch], device=self.device)
                found = self._detect(features, rows, [descriptions[i] for i in batch], [images[i] for i in batch])
                for i, output in zip(batch, found):
                    outputs[i] = output
        return outputs  # type: ignore[return-value]  # every slot is filled above

    def _detect(self, features, rows: torch.Tensor, descriptions: list[str], images: list[Image.Image]):
        """Detector heads for pairs whose image features are ``features[rows]``."""
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        text = self.processor.tokenizer(
            descriptions, padding="max_length", truncation=True, max_length=TEXT_TOKENS, return_tensors="pt"
        ).to(self.device)
        embeds = Sam3VisionEncoderOutput(
            fpn_hidden_states=tuple(x[rows] for x in features.fpn_hidden_states),
            fpn_position_encoding=tuple(x[rows] for x in features.fpn_position_encoding),
        )
        with torch.inference_mode():
            raw = self.model(vision_embeds=embeds, input_ids=text["input_ids"], attention_mask=text["attention_mask"])
        detections = self.processor.post_process_object_detection(
            raw, threshold=self.cfg.score_threshold, target_sizes=[(img.height, img.width) for img in images]
        )
        side = int(self.model.config.image_size)
        outputs = []
        for found in detections:
            boxes = [[float(v) for v in box] for box in found["boxes"].float().cpu().tolist()]
            scores = [round(float(s), 4) for s in found["scores"].float().cpu().tolist()]
            answer = json.dumps([{"bbox_2d": [round(v, 1) for v in b], "score": s} for b, s in zip(boxes, scores)])
            outputs.append(GroundingOutput(answer, boxes, 0, (side, side)))
        return outputs
