"""Fixtures of the Qwen2.5-Omni tests: the tiny thinker, a tiny full Omni checkpoint, the bound processor."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def thinker_dir(tiny_assets):
    """The tiny thinker-only checkpoint (``omni-r1 make-tiny``)."""
    return tiny_assets.thinker


@pytest.fixture(scope="session")
def full_omni_dir(thinker_dir, tmp_path_factory):
    """A full Qwen2.5-Omni checkpoint (thinker + talker + token2wav) whose thinker equals the tiny thinker."""
    from omni_r1_verl.models.tiny import build_tiny_full_omni

    return build_tiny_full_omni(tmp_path_factory.mktemp("full_omni"), thinker_dir)


@pytest.fixture(scope="session")
def omni_processor(thinker_dir):
    """The tiny Qwen2.5-Omni processor, bound for verl."""
    from omni_r1_verl.models.qwen2_5_omni.processor import load_omni_processor

    return load_omni_processor(thinker_dir)


@pytest.fixture(scope="session")
def thinker(thinker_dir):
    """The tiny thinker in eval mode, sdpa attention, float32."""
    import torch
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(thinker_dir, attn_implementation="sdpa")
    return model.to(torch.float32).eval()
