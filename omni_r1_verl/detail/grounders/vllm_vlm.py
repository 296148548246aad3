"""Grounding with vLLM on the worker's GPU (in-process engine, greedy, every keyframe of a job in one call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from omni_r1_verl.contracts.prompts import grounding_messages
from omni_r1_verl.detail.config import GroundingConfig
from omni_r1_verl.detail.grounders.base import Grounder, register_grounder


@register_grounder("vllm")
class VllmGrounder(Grounder):
    """vLLM ``LLM`` over ``grounding.model_path``; the chat template comes from the checkpoint's processor.

    Images are sent already resized, and ``mm_processor_kwargs`` pins vLLM's own resize to the same
    ``min_pixels`` / ``max_pixels``, under which a ``smart_resize`` output is a fixed point: the model sees exactly
    the pixels whose coordinates we map back.

    Args:
        cfg: The ``grounding`` config section.
        device: Must be a CUDA device.
        dtype: Weights dtype.
    """

    def __init__(self, cfg: GroundingConfig, device: torch.device, dtype: torch.dtype):
        super().__init__(cfg, device, dtype)
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(cfg.model_path)
        self.llm = self._create_engine()

    def _create_engine(self) -> Any:
        if self.device.type != "cuda":
            raise RuntimeError("the vllm grounding backend needs a GPU; use grounding.backend=transformers on CPU")
        from vllm import LLM

        return LLM(
            model=self.cfg.model_path,
            dtype="bfloat16" if self.dtype == torch.bfloat16 else "float32",
            gpu_memory_utilization=self.cfg.gpu_memory_utilization,
            max_model_len=self.cfg.max_model_len,
            limit_mm_per_prompt={"image": 1},
            seed=0,
        )

    def build_inputs(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[dict[str, Any]]:
        """vLLM prompt dicts: chat-templated text, the resized image, and the pinned resize limits.

        Args:
            images: Images at their ``smart_resize`` size.
            prompts: One prompt per image.

        Returns:
            One input per image.
        """
        return [
            {
                "prompt": self.processor.apply_chat_template(
                    grounding_messages(prompt), add_generation_prompt=True, tokenize=False
                ),
                "multi_modal_data": {"image": image},
                "mm_processor_kwargs": {"min_pixels": self.cfg.min_pixels, "max_pixels": self.cfg.max_pixels},
            }
            for image, prompt in zip(images, prompts)
        ]

    def generate(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        """See :meth:`Grounder.generate`."""
        return self._run(self.build_inputs(images, prompts))

    def _run(self, inputs: list[dict[str, Any]]) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=self.cfg.max_new_tokens)
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        return [out.outputs[0].text for out in outputs]
