"""FSDP -> vLLM weight names: what verl's weight export sends is exactly what vLLM's Omni thinker loader maps."""

from __future__ import annotations

import inspect

import pytest
from safetensors import safe_open
from transformers import AutoConfig
from vllm_thinker_spec import map_checkpoint_name, vllm_parameter_names

from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl
from omni_r1_verl.models.qwen2_5_omni.weights import (
    THINKER_PREFIX,
    to_omni_root_name,
    to_omni_root_names,
    to_thinker_name,
)


def _exported_names(path):
    """Names verl's FSDP engine hands to the rollout (``get_per_tensor_param``: ``convert_weight_keys``)."""
    from verl.utils.model import convert_weight_keys

    model = OmniThinkerForVerl.from_pretrained(path, config=AutoConfig.from_pretrained(path))
    return model, list(convert_weight_keys(model.state_dict(), model))


@pytest.mark.parametrize("checkpoint", ["thinker", "full"])
def test_exported_names_cover_vllms_thinker_exactly(checkpoint, thinker_dir, full_omni_dir):
    path = thinker_dir if checkpoint == "thinker" else full_omni_dir
    model, names = _exported_names(path)
    assert names and all(n.startswith(THINKER_PREFIX) for n in names)
    mapped = [map_checkpoint_name(n) for n in names]
    expected = vllm_parameter_names(model.config, [n for n, _ in model.audio_tower.named_parameters()])
    assert None not in mapped
    assert set(mapped) == expected  # every weight lands in a vLLM parameter, and every vLLM parameter is written


def test_without_the_prefix_vllm_would_not_find_the_language_model(thinker_dir):
    """The failure the mapping prevents: thinker-only names reach vLLM's module as ``model.*`` (no such module)."""
    model, names = _exported_names(thinker_dir)
    expected = vllm_parameter_names(model.config, [n for n, _ in model.audio_tower.named_parameters()])
    raw = {map_checkpoint_name(to_thinker_name(n)) for n in names}
    assert not raw <= expected
    assert "model.norm.weight" in raw


def test_full_checkpoint_round_trip(full_omni_dir, thinker_dir):
    with safe_open(str(full_omni_dir / "model.safetensors"), "pt") as f:
        checkpoint_names = set(f.keys())
    _, exported = _exported_names(thinker_dir)
    thinker_names = {n for n in checkpoint_names if n.startswith(THINKER_PREFIX)}
    # Training a thinker-only checkpoint sends exactly the thinker weights of the matching full checkpoint ...
    assert set(exported) == thinker_names
    # ... and vLLM loads a full checkpoint by skipping the talker and token2wav.
    skipped = {n for n in checkpoint_names if map_checkpoint_name(n) is None}
    assert skipped == checkpoint_names - thinker_names and skipped
    assert {to_thinker_name(n) for n in skipped} == {None}


def test_name_helpers_round_trip():
    for name in ("model.layers.0.mlp.up_proj.weight", "visual.patch_embed.proj.weight", "lm_head.weight"):
        assert to_thinker_name(to_omni_root_name(name)) == name
        assert to_omni_root_name(to_omni_root_name(name)) == to_omni_root_name(name)
    with pytest.raises(ValueError, match="talker"):
        to_omni_root_name("talker.model.norm.weight")
    stream = to_omni_root_names(iter([("a.weight", 1), ("b.bias", 2)]))
    assert list(stream) == [("thinker.a.weight", 1), ("thinker.b.bias", 2)]


def test_verl_weight_export_still_applies_convert_weight_keys():
    """Guard: the FSDP engine's rollout export must keep reversing ``_checkpoint_conversion_mapping``."""
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngine

    call = 'convert_weight_keys(params, getattr(self.module, "_fsdp_wrapped_module", self.module))'
    for method in (FSDPEngine.get_per_tensor_param, FSDPEngine.get_per_tensor_param_shard):
        assert call in inspect.getsource(method), method.__name__
