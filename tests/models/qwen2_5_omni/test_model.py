"""verl's FSDP engine builds the thinker from thinker-only and full checkpoints, towers frozen as configured."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig

from omni_r1_verl.models.qwen2_5_omni.model import FSDP_WRAP_CLASSES, OmniThinkerForVerl


def _model_class(config):
    import verl  # noqa: F401  (loads our plugin)
    from verl.utils.model import get_hf_auto_model_class

    return get_hf_auto_model_class(hf_config=config)


@pytest.mark.parametrize("checkpoint", ["thinker", "full"])
def test_verl_model_class_loads_the_thinker(checkpoint, thinker_dir, full_omni_dir, thinker):
    path = thinker_dir if checkpoint == "thinker" else full_omni_dir
    config = AutoConfig.from_pretrained(path)
    cls = _model_class(config)
    assert cls is OmniThinkerForVerl
    # Called the way verl's FSDP engine calls it (verl/workers/engine/fsdp/transformer_impl.py:276).
    model = cls.from_pretrained(
        pretrained_model_name_or_path=path, torch_dtype=torch.float32, config=config, trust_remote_code=False
    )
    assert isinstance(model, type(thinker))
    expected = thinker.state_dict()
    got = model.state_dict()
    assert set(got) == set(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert model._no_split_modules == list(FSDP_WRAP_CLASSES)
    assert model.config.architectures == ["Qwen2_5OmniThinkerForConditionalGeneration"]
    assert all(p.requires_grad for p in model.parameters())  # nothing frozen unless asked


def test_full_checkpoint_loads_without_reporting_talker_weights(full_omni_dir, caplog):
    config = AutoConfig.from_pretrained(full_omni_dir)
    with caplog.at_level("WARNING"):
        OmniThinkerForVerl.from_pretrained(full_omni_dir, config=config)
    assert "talker." not in caplog.text and "token2wav." not in caplog.text


@pytest.mark.parametrize(("vision", "audio"), [(True, True), (True, False), (False, True)])
def test_override_config_freezes_towers(vision, audio, thinker_dir):
    config = AutoConfig.from_pretrained(thinker_dir)
    # What verl does with actor_rollout_ref.model.override_config (verl/utils/model.py:75 update_model_config).
    from verl.utils.model import update_model_config

    update_model_config(config, {"freeze_vision_tower": vision, "freeze_audio_tower": audio})
    model = OmniThinkerForVerl.from_pretrained(thinker_dir, config=config)
    assert all(p.requires_grad is not vision for p in model.visual.parameters())
    assert all(p.requires_grad is not audio for p in model.audio_tower.parameters())
    assert all(p.requires_grad for p in model.model.parameters()) and model.lm_head.weight.requires_grad


def test_non_omni_configs_keep_verls_model_class():
    from transformers import AutoModelForCausalLM, Qwen2Config

    assert _model_class(Qwen2Config(architectures=["Qwen2ForCausalLM"])) is AutoModelForCausalLM


def test_verl_hf_checkpoint_export_reloads_as_a_thinker(thinker_dir, tmp_path):
    """verl exports HF weights via the *config's* architecture (fsdp_checkpoint_manager.py:439)."""
    from transformers import AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(thinker_dir)
    model = OmniThinkerForVerl.from_pretrained(thinker_dir, config=config)
    export = AutoModelForImageTextToText.from_config(model.config)
    export.load_state_dict(model.state_dict())
    export.save_pretrained(tmp_path)
    again = OmniThinkerForVerl.from_pretrained(tmp_path)
    assert torch.equal(again.lm_head.weight, model.lm_head.weight)
