"""Reward config: defaults, validation, unknown keys, and the recipe YAML matching the code defaults."""

from __future__ import annotations

import pytest
import yaml
from omegaconf import OmegaConf

from omni_r1_verl.scoring import RewardConfig, RewardConfigError
from omni_r1_verl.scoring.config import FOREIGN_SECTIONS


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


def test_from_dict_accepts_omegaconf_nodes_and_ignores_foreign_sections():
    node = OmegaConf.create({"weights": {"alignment": 2}, "length": {"splits": ["train"]}, "detail": {"x": 1}})
    assert "detail" in FOREIGN_SECTIONS
    assert RewardConfig.from_dict(node).weights.alignment == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"wieghts": {}}, "unknown key"),
        ({"weights": {"alpha_g": 2}}, "unknown key"),
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
    with pytest.raises(RewardConfigError, match=message):
        RewardConfig.from_dict(data)


def test_recipe_yaml_spells_out_exactly_the_defaults():
    from importlib import resources

    recipe = yaml.safe_load((resources.files("omni_r1_verl.conf") / "recipe" / "omni_r1.yaml").read_text())
    kwargs = recipe["reward"]["reward_kwargs"]
    assert RewardConfig.from_dict(kwargs) == RewardConfig()
    assert set(kwargs) - FOREIGN_SECTIONS == set(RewardConfig().to_dict())
