"""System 1 at evaluation: one greedy answer per sample from the Qwen2.5-Omni thinker.

:class:`System1Engine` turns the messages of :func:`omni_r1_verl.data.system1_inputs.build_system1_messages` into
answer texts. Two engines are registered (``evaluation.system1.engine``):

* ``hf``: in process, transformers through :class:`omni_r1_verl.platform.hf_engine.HFGenerationEngine` (greedy,
  the stop rules of the ``hf`` rollout backend); any device, the CPU tests use it on the tiny thinker.
* ``vllm``: vLLM's offline ``vllm.LLM`` (GPU only; vLLM is not in the CPU lock). Prompts are the chat template's
  text with one placeholder per media item; vLLM expands them from the ``multi_modal_data`` it receives.

Both read the media with :func:`omni_r1_verl.data.system1_inputs.load_item_media`, so System 1 sees exactly what
the policy saw in training (same budgets, same resizing).
"""

from __future__ import annotations

import importlib.util
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import uses_audio_in_video
from omni_r1_verl.evaluation.config import System1Config
from omni_r1_verl.models.qwen2_5_omni.inputs import AUDIO_RATE, load_media, processor_inputs, template_messages
from omni_r1_verl.utils.registry import Registry

logger = logging.getLogger(__name__)


class System1Engine(ABC):
    """Greedy System-1 answers.

    Args:
        model_path: Thinker-only or full Qwen2.5-Omni checkpoint directory.
        cfg: The ``evaluation.system1`` section.
        data: The ``data.omni_r1`` section (media budgets).
    """

    #: Registry name (set by ``register_system1``).
    name: str = ""

    def __init__(self, model_path: str, cfg: System1Config, data: OmniDataConfig) -> None:
        self.model_path = str(model_path)
        self.cfg = cfg
        self.data = data

    @abstractmethod
    def generate(self, messages: Sequence[list[dict[str, Any]]]) -> list[str]:
        """One answer per conversation (special tokens removed).

        Args:
            messages: Conversations of :func:`~omni_r1_verl.data.system1_inputs.build_system1_messages`.

        Returns:
            The answers, in order.

        Raises:
            omni_r1_verl.data.media.MediaError: If a conversation's media cannot be read.
        """

    def describe(self) -> dict[str, Any]:
        """What is loaded (for results.json)."""
        return {"engine": self.name, "model": self.model_path, "max_new_tokens": self.cfg.max_new_tokens}


#: System-1 engines by ``evaluation.system1.engine``.
SYSTEM1_ENGINES: Registry[type[System1Engine]] = Registry(
    "System-1 engine", "evaluation.system1.engine", "omni_r1_verl.evaluation.system1"
)
register_system1 = SYSTEM1_ENGINES.register


def resolve_engine(name: str) -> str:
    """``auto`` -> ``vllm`` when vLLM is installed and a GPU is visible, else ``hf``."""
    if name != "auto":
        return name
    import torch

    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "hf"


def build_system1(model_path: str, cfg: System1Config, data: OmniDataConfig) -> System1Engine:
    """The configured engine, loaded.

    Raises:
        omni_r1_verl.utils.registry.UnknownNameError: For an unknown engine name.
        omni_r1_verl.models.qwen2_5_omni.checkpoint.CheckpointError: When ``model_path`` is not a Qwen2.5-Omni
            checkpoint (the message names the file and what is wrong).
    """
    return SYSTEM1_ENGINES.get(resolve_engine(cfg.engine))(model_path, cfg, data)


@register_system1("hf")
class HFSystem1(System1Engine):
    """transformers generation in this process (:class:`~omni_r1_verl.platform.hf_engine.HFGenerationEngine`)."""

    def __init__(self, model_path: str, cfg: System1Config, data: OmniDataConfig) -> None:
        super().__init__(model_path, cfg, data)
        from omni_r1_verl.detail.devices import compute_dtype, resolve_device
        from omni_r1_verl.models.qwen2_5_omni.checkpoint import load_thinker
        from omni_r1_verl.models.qwen2_5_omni.processor import load_omni_processor
        from omni_r1_verl.platform.hf_engine import HFGenerationEngine

        self.device = resolve_device(cfg.device)
        dtype = compute_dtype(cfg.dtype, self.device)
        model = load_thinker(self.model_path, dtype=dtype).to(self.device)  # any released layout; else CheckpointError
        self.processor = load_omni_processor(self.model_path)
        eos = [self.processor.tokenizer.eos_token_id, *(_as_list(model.generation_config.eos_token_id))]
        self.engine = HFGenerationEngine(
            model, self.processor.tokenizer, self.processor, [t for t in eos if t is not None]
        )

    def _request(self, conversation: list[dict[str, Any]]):

        from omni_r1_verl.platform.hf_engine import GenerationRequest
        from omni_r1_verl.platform.sampling import SamplingParams

        inputs, aiv = processor_inputs(self.processor, conversation, self.data.max_audio_seconds)
        features = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
        tokens = self.cfg.max_new_tokens
        return GenerationRequest(
            prompt_ids=inputs["input_ids"][0].tolist(),
            sampling=SamplingParams(temperature=0.0, max_tokens=tokens),
            max_tokens=tokens,
            features={k: v.to(self.device) if hasattr(v, "to") else v for k, v in features.items()},
            model_kwargs={"use_audio_in_video": aiv},
        )

    def generate(self, messages: Sequence[list[dict[str, Any]]]) -> list[str]:
        """See :meth:`System1Engine.generate` (one ``generate`` call per conversation: their media differ)."""
        answers = []
        for conversation in messages:
            (result,) = self.engine.generate([self._request(conversation)])
            answers.append(self.processor.tokenizer.decode(result.token_ids, skip_special_tokens=True))
        return answers


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@register_system1("vllm")
class VLLMSystem1(System1Engine):
    """vLLM's offline engine (``vllm.LLM``), greedy, one batch per call."""

    def __init__(self, model_path: str, cfg: System1Config, data: OmniDataConfig) -> None:
        super().__init__(model_path, cfg, data)
        import vllm

        from omni_r1_verl.models.qwen2_5_omni.checkpoint import inspect_checkpoint
        from omni_r1_verl.models.qwen2_5_omni.processor import load_omni_processor

        inspect_checkpoint(self.model_path)  # a clear CheckpointError before vLLM's own, longer one
        self.processor = load_omni_processor(self.model_path)
        self.llm = vllm.LLM(
            model=self.model_path,
            dtype="auto" if cfg.dtype == "auto" else cfg.dtype,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            max_model_len=cfg.max_model_len,
            tensor_parallel_size=cfg.tensor_parallel_size,
            limit_mm_per_prompt={"image": 1, "video": 1, "audio": 2},
            seed=0,
        )
        self.sampling = vllm.SamplingParams(temperature=0.0, max_tokens=cfg.max_new_tokens)

    def prompt(self, conversation: list[dict[str, Any]]) -> dict[str, Any]:
        """The vLLM prompt of one conversation: template text, decoded media and processor kwargs."""
        media = load_media(conversation, self.data.max_audio_seconds)
        text = self.processor.apply_chat_template(
            template_messages(conversation), add_generation_prompt=True, tokenize=False
        )
        data: dict[str, Any] = {}
        if media["images"]:
            data["image"] = media["images"][0] if len(media["images"]) == 1 else media["images"]
        if media["videos"]:
            data["video"] = [np.ascontiguousarray(v) for v, _ in media["videos"]]
        if media["audios"]:
            data["audio"] = [(a, AUDIO_RATE) for a in media["audios"]]
        kwargs: dict[str, Any] = {"use_audio_in_video": uses_audio_in_video(conversation)}
        if media["videos"]:
            kwargs["fps"] = media["videos"][0][1]  # one video per prompt
        return {"prompt": text, "multi_modal_data": data, "mm_processor_kwargs": kwargs}

    def generate(self, messages: Sequence[list[dict[str, Any]]]) -> list[str]:
        """See :meth:`System1Engine.generate`."""
        outputs = self.llm.generate([self.prompt(c) for c in messages], self.sampling, use_tqdm=False)
        return [out.outputs[0].text if out.outputs else "" for out in outputs]
