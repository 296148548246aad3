"""Checkpoint layouts: every released / exported way of storing the thinker is recognised and loads identically."""

from __future__ import annotations

import json

import pytest
import torch

from omni_r1_verl.models.qwen2_5_omni.checkpoint import CheckpointError, Layout, inspect_checkpoint, load_thinker


@pytest.fixture(scope="module")
def reference(thinker_dir):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(thinker_dir).state_dict()


@pytest.fixture(scope="module")
def layouts(thinker_dir, full_omni_dir, reference, tmp_path_factory):
    """One directory per layout, all holding the tiny thinker's weights."""
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoProcessor, Qwen2_5OmniForConditionalGeneration

    from omni_r1_verl.models.tiny import tiny_full_omni_config

    root = tmp_path_factory.mktemp("layouts")
    prefixed = root / "prefixed"
    AutoConfig.from_pretrained(thinker_dir).save_pretrained(prefixed)
    tensors = {f"thinker.{k}": v.contiguous() for k, v in reference.items()}
    save_file(tensors, str(prefixed / "model.safetensors"), metadata={"format": "pt"})
    no_talker = root / "no_talker"
    config = tiny_full_omni_config(AutoConfig.from_pretrained(thinker_dir))
    config.enable_audio_output = False
    full = Qwen2_5OmniForConditionalGeneration(config)
    full.thinker.load_state_dict(reference)
    full.save_pretrained(no_talker, max_shard_size="200KB")  # sharded: read through the index
    AutoProcessor.from_pretrained(thinker_dir).save_pretrained(no_talker)
    return {
        Layout.THINKER: thinker_dir,
        Layout.THINKER_PREFIXED: prefixed,
        Layout.FULL: full_omni_dir,
        Layout.FULL_WITHOUT_TALKER: no_talker,
    }


@pytest.mark.parametrize("layout", list(Layout))
def test_each_layout_is_recognised_and_loads_the_same_thinker(layouts, reference, layout):
    info = inspect_checkpoint(layouts[layout])
    assert info.layout is layout
    assert layout.value in info.describe()
    if layout is Layout.FULL_WITHOUT_TALKER:
        assert len(info.weight_files) > 1  # the sharded copy
    model = load_thinker(layouts[layout], dtype=torch.float32)
    assert not model.training
    loaded = model.state_dict()
    assert set(loaded) == set(reference)
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)


def test_what_is_not_a_qwen2_5_omni_checkpoint_is_refused_with_the_file_named(tmp_path, tiny_assets):
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        inspect_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        inspect_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="is not a Qwen2.5-Omni checkpoint"):
        inspect_checkpoint(tiny_assets.sam2_hf)  # a transformers SAM2 directory
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_5_omni_thinker"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"re-save with safetensors"):
        inspect_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(CheckpointError, match="model.safetensors: safetensors header of"):
        inspect_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: unreadable"):
        inspect_checkpoint(tmp_path)
