"""Fixtures of the CPU platform tests: a tiny text Qwen2, engines over the tiny models, verl configs, requests."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory):
    """A tiny random text-only Qwen2 with the real Qwen BPE (``build_tiny_qwen2``), built once per session."""
    from omni_r1_verl.models.tiny import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("qwen2_text") / "model")


def _engine(path, model_cls):
    from transformers import AutoProcessor, AutoTokenizer

    from omni_r1_verl.platform.hf_engine import HFGenerationEngine

    model = model_cls.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    tokenizer = AutoTokenizer.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path) if (path / "processor_config.json").exists() else None
    eos = model.generation_config.eos_token_id
    return HFGenerationEngine(model, tokenizer, processor, eos_token_ids=eos if isinstance(eos, list) else [eos])


@pytest.fixture
def text_engine(tiny_text_model):
    """A fresh generation engine over the tiny text model (tests may change its weights)."""
    from transformers import AutoModelForCausalLM

    return _engine(tiny_text_model, AutoModelForCausalLM)


@pytest.fixture(scope="module")
def omni_engine(tiny_assets):
    """A generation engine over the tiny Qwen2.5-Omni thinker and its processor."""
    from transformers import AutoModelForImageTextToText

    return _engine(tiny_assets.thinker, AutoModelForImageTextToText)


@pytest.fixture(scope="session")
def cpu_tiny_config(tiny_text_model):
    """``+recipe=omni_r1 +recipe/platform=cpu_tiny`` composed for the tiny text model."""
    from omegaconf import OmegaConf

    from omni_r1_verl.doctor import compose_config

    config = compose_config(
        ["+recipe=omni_r1", "+recipe/platform=cpu_tiny", f"actor_rollout_ref.model.path={tiny_text_model}"]
    )
    # The servers receive sub-trees of the config, as verl's trainer hands them over: resolved.
    OmegaConf.resolve(config)
    return config


#: Processor kwargs of the requests: audio interleaved with video, small frames.
MM_KWARGS = {"use_audio_in_video": True, "max_pixels": 28 * 28 * 8, "min_pixels": 28 * 28 * 4}


class MMRequest(NamedTuple):
    """A video + audio request: expanded prompt ids, ``(frames, metadata)`` videos, waveforms, kwargs, features."""

    prompt_ids: list
    videos: list
    audios: list
    mm_processor_kwargs: dict
    processor_outputs: Any


def make_video_audio_request(processor, seed: int, question: str, frames: int = 4) -> MMRequest:
    """One request built the way verl's agent loop builds it (chat template, then the processor expands it)."""
    from verl.utils.tokenizer.tokenizer import build_multimodal_processor_inputs

    rng = np.random.default_rng(seed)
    video = torch.from_numpy(rng.integers(0, 255, (frames, 3, 56, 84), dtype=np.uint8))
    metadata = {
        "fps": 2.0,
        "frames_indices": list(range(frames)),
        "total_num_frames": frames,
        "video_backend": "numpy",
        "duration": frames / 2.0,
    }
    audio = (rng.standard_normal(8000 * frames) * 0.1).astype(np.float32)
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    outputs = build_multimodal_processor_inputs(
        processor, text=[text], videos=[(video, metadata)], audio=[audio], mm_processor_kwargs=MM_KWARGS
    )
    return MMRequest(outputs["input_ids"][0].tolist(), [(video, metadata)], [audio], dict(MM_KWARGS), outputs)


@pytest.fixture
def video_audio_request():
    """:func:`make_video_audio_request`: a verl-shaped video + audio request."""
    return make_video_audio_request
