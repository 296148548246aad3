"""Reward config: defaults, validation, unknown keys named in full."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from omni_r1_verl.scoring import RewardConfig
from omni_r1_verl.utils.config import ConfigError, load_section


def test_defaults_are_the_released_recipe():
    w = RewardConfig().weights
    assert (w.keyframe, w.keyframe_ratio, w.alignment, w.consistency, w.format) == (1.0, 0.0, 1.0, 2.0, 1.0)
    length = RewardConfig().length
    assert (length.bonus, length.min_tokens, length.max_tokens, length.acc_threshold) == (1.0, 320, 750, 0.1)


def test_from_dict_merges_partial_sections_and_round_trips():
    cfg = RewardConfig.from_dict({"weights": {"consistency": 0.0}, "length": {"splits": ["train", "dev"]}})
    assert cfg.weights.consistency == 0.0 and cfg.weights.alignment == 1.0
    assert cfg.length.splits == ("train", "dev")
    assert RewardConfig.from_dict(cfg.to_dict()) == cfg


def test_from_dict_accepts_omegaconf_nodes():
    node = OmegaConf.create({"weights": {"alignment": 2}, "length": {"splits": ["train"]}})
    cfg = RewardConfig.from_dict(node)
    assert cfg.weights.alignment == 2 and cfg.length.splits == ("train",)


def test_a_section_of_another_owner_is_an_unknown_key():
    # The System-2 pool's section moved to `system2`: left here it is a typo, not silently ignored.
    with pytest.raises(ConfigError, match=r"reward\.reward_kwargs\.detail"):
        load_section({"reward": {"reward_kwargs": {"detail": {"pool": {}}}}}, RewardConfig)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"wieghts": {}}, r"unknown key\(s\) reward\.reward_kwargs\.wieghts"),
        ({"weights": {"alpha_g": 2}}, r"reward\.reward_kwargs\.weights\.alpha_g"),
        ({"weights": {"consistency": float("nan")}}, "finite"),
        ({"weights": 3}, "mapping"),
        ({"keyframe": {"count_shape": "square"}}, "count_shape"),
        ({"alignment": {"normalize": "sum"}}, "normalize"),
        ({"length": {"min_tokens": 800, "max_tokens": 10}}, "min_tokens"),
        ({"answer": {"max_moments": 0}}, "max_moments"),
        ({"consistency": {"empty_frames": "zero"}}, "empty_frames"),
    ],
)
def test_invalid_settings_raise_clear_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        RewardConfig.from_dict(data)
