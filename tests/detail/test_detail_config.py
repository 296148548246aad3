"""``system2``: typed, validated, strict about unknown keys, clear about missing checkpoints."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.utils.config import ConfigError, load_section


def test_defaults_round_trip():
    cfg = DetailConfig()
    assert DetailConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.grounding.prompt_style == "vision_reasoner"  # the released recipe's System-2 prompt


def test_unknown_keys_are_errors_with_the_full_key():
    with pytest.raises(ConfigError, match=r"system2\.sam2\.chekpoint"):
        DetailConfig.from_dict({"sam2": {"chekpoint": "x"}})
    with pytest.raises(ConfigError, match=r"system2\.workers"):
        DetailConfig.from_dict({"workers": 2})
    with pytest.raises(ConfigError, match=r"system2\.pool must be a mapping"):
        DetailConfig.from_dict({"pool": 3})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"pool": {"num_workers": 0}}, r"system2\.pool: num_workers=0"),
        ({"pool": {"attempt_timeout_s": 0}}, "attempt_timeout_s"),
        ({"pool": {"num_workers": 1, "retries": 1}}, r"system2\.pool\.retries"),
        ({"placement": {"mode": "gpu"}}, r"system2\.placement: mode='gpu'"),
        ({"placement": {"mode": "shared", "gpus_per_worker": 1}}, "fraction"),
        ({"placement": {"mode": "shared", "gpus_per_worker": 0.5, "resource": "omni_r1_system2"}}, "resource"),
        ({"sam2": {"propagation": "reverse"}}, "propagation"),
        ({"sam2": {"association": "oracle"}}, "association"),
        ({"sam2": {"image_size": 100}}, "multiple of 32"),
        ({"grounding": {"prompt_style": "fancy"}}, "prompt_style"),
        ({"grounding": {"min_pixels": 10, "max_pixels": 5}}, "min_pixels"),
        ({"gt_store": "no_colon"}, "gt_store"),
    ],
)
def test_invalid_values_are_rejected(data, match):
    with pytest.raises(ConfigError, match=match):
        DetailConfig.from_dict(data)


def test_from_dict_accepts_omegaconf_nodes_configs_and_none():
    node = OmegaConf.create({"pool": {"num_workers": 3}, "sam2": {"backend": "hf_sam2"}})
    cfg = DetailConfig.from_dict(node)
    assert cfg.pool.num_workers == 3 and cfg.sam2.backend == "hf_sam2"
    assert DetailConfig.from_dict(cfg) is cfg
    assert DetailConfig.from_dict(None) == DetailConfig()


def test_missing_checkpoints_name_the_key_and_a_fix(tmp_path, tiny_assets):
    with pytest.raises(FileNotFoundError, match=r"system2\.sam2\.checkpoint is not set: download sam2\.1_hiera_lar"):
        DetailConfig().check_paths()
    cfg = DetailConfig.from_dict({"sam2": {"checkpoint": str(tmp_path / "nope.pt")}})
    with pytest.raises(FileNotFoundError, match="nope.pt' does not exist"):
        cfg.check_paths()
    cfg = DetailConfig.from_dict({"sam2": {"checkpoint": str(tiny_assets.sam2_checkpoint), "config": "configs/x.yaml"}})
    with pytest.raises(FileNotFoundError, match="sam2.config"):
        cfg.check_paths()
    # A config inside the sam2 package is found by its package-relative name.
    pytest.importorskip("sam2")
    ok = DetailConfig.from_dict({"sam2": {"checkpoint": str(tiny_assets.sam2_checkpoint)}})
    ok.check_paths()
    with pytest.raises(FileNotFoundError, match="grounding.model_path is not set"):
        ok.check_paths(need_grounding=True)
    hf = DetailConfig.from_dict({"sam2": {"backend": "hf_sam2", "checkpoint": ""}})
    with pytest.raises(FileNotFoundError, match="Sam2VideoModel directory"):
        hf.check_paths()


def test_the_recipe_composes_every_key_of_the_section_with_its_default():
    """conf/omni_r1/sections.yaml (generated) puts every key into the composed config, so plain overrides work."""
    from omni_r1_verl.doctor import compose_config

    cfg = compose_config(["+recipe=omni_r1", "system2.pool.num_workers=3"])
    assert OmegaConf.to_container(cfg.system2)["sam2"] == DetailConfig().to_dict()["sam2"]
    assert load_section(cfg, DetailConfig) == DetailConfig.from_dict({"pool": {"num_workers": 3}})


def test_dedicated_bundles_take_one_unit_of_the_placement_resource():
    from omni_r1_verl.detail.config import PlacementConfig
    from omni_r1_verl.detail.placement import dedicated_bundle

    assert dedicated_bundle(PlacementConfig(mode="dedicated")) == {"GPU": 1.0, "CPU": 1.0}
    cfg = PlacementConfig(mode="dedicated", gpus_per_worker=0.5, cpus_per_worker=0.0, resource="omni_r1_system2")
    assert dedicated_bundle(cfg) == {"GPU": 0.5, "omni_r1_system2": 1.0}
