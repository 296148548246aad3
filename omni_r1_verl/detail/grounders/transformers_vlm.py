"""Grounding with a transformers image-text-to-text model (Qwen2.5-VL, the Qwen2.5-Omni thinker), any device."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from omni_r1_verl.contracts.prompts import grounding_messages
from omni_r1_verl.detail.config import GroundingConfig
from omni_r1_verl.detail.grounders.base import Grounder, register_grounder


@register_grounder("transformers")
class TransformersGrounder(Grounder):
    """``AutoModelForImageTextToText`` + ``AutoProcessor`` from ``grounding.model_path``, greedy, batched.

    Args:
        cfg: The ``grounding`` config section.
        device: Compute device.
        dtype: Weights dtype.
    """

    def __init__(self, cfg: GroundingConfig, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(cfg.model_path)
        self.processor.tokenizer.padding_side = "left"
        self.model = AutoModelForImageTextToText.from_pretrained(cfg.model_path, dtype=dtype).to(device).eval()

    def generate(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        """See :meth:`Grounder.generate`."""
        texts: list[str] = []
        step = self.cfg.batch_size
        for start in range(0, len(images), step):
            chat = [
                self.processor.apply_chat_template(grounding_messages(p), add_generation_prompt=True, tokenize=False)
                for p in prompts[start : start + step]
            ]
            inputs = self.processor(
                text=chat,
                images=list(images[start : start + step]),
                padding=True,
                return_tensors="pt",
                images_kwargs={"do_resize": False},
            ).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.cfg.max_new_tokens, do_sample=False)
            new_tokens = out[:, inputs["input_ids"].shape[1] :]
            texts += self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return texts
