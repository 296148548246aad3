"""``+recipe=omni_r1`` composes from any directory through the Hydra search-path plugin, and CLI overrides win."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from omni_r1_verl.doctor import compose_config

CONF = Path(str(resources.files("omni_r1_verl.conf")))


def _main_ppo_cfg_job(cwd: Path, *overrides: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "verl.trainer.main_ppo", "+recipe=omni_r1", *overrides, "--cfg", "job"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_main_ppo_prints_recipe_values_from_another_directory(tmp_path):
    out = _main_ppo_cfg_job(tmp_path)
    cfg = yaml.safe_load(out)
    assert cfg["reward"]["reward_manager"]["name"] == "omni_r1"
    assert cfg["actor_rollout_ref"]["rollout"]["agent"]["default_agent_loop"] == "omni_r1_agent"
    assert cfg["actor_rollout_ref"]["rollout"]["n"] == 8
    assert cfg["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.04


def test_cli_override_wins_over_recipe(tmp_path):
    out = _main_ppo_cfg_job(tmp_path, "actor_rollout_ref.rollout.n=3", "actor_rollout_ref.rollout.top_p=0.5")
    cfg = yaml.safe_load(out)
    assert cfg["actor_rollout_ref"]["rollout"]["n"] == 3
    assert cfg["actor_rollout_ref"]["rollout"]["top_p"] == 0.5


def test_compose_api_sees_recipe_and_keeps_verl_defaults():
    cfg = compose_config(["+recipe=omni_r1"])
    assert cfg.algorithm.adv_estimator == "grpo"
    assert cfg.actor_rollout_ref.actor.loss_agg_mode == "seq-mean-token-mean"
    # Keys the recipe does not touch keep verl's defaults.
    assert cfg.actor_rollout_ref.rollout.mode == "async"


def test_without_recipe_verl_defaults_are_unchanged():
    cfg = compose_config([])
    assert cfg.reward.reward_manager.name == "naive"
    assert cfg.actor_rollout_ref.rollout.n == 1


def _leaf_keys_without_comment(path: Path) -> list[str]:
    """Keys whose value is a scalar or a list and whose previous non-blank line is not a comment."""
    lines = path.read_text().splitlines()
    bad = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z_][\w.]*):(\s*)(.*)$", line)
        if not m or (m.group(4) == "" and i + 1 < len(lines) and re.match(rf"^{m.group(1)}\s+\S", lines[i + 1])):
            continue  # not a key, or a mapping header
        prev = next((p for p in reversed(lines[:i]) if p.strip()), "")
        if not prev.strip().startswith("#"):
            bad.append(f"{path.name}:{i + 1}: {m.group(2)}")
    return bad


@pytest.mark.parametrize("path", sorted(CONF.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONF)))
def test_every_config_field_is_documented(path):
    assert _leaf_keys_without_comment(path) == []


def test_search_path_falls_back_to_checkout_conf(monkeypatch):
    """A source checkout shadowing a non-editable install still finds ``conf/`` (no ``omni_r1_verl.conf`` there)."""
    import importlib.util

    from hydra_plugins.omni_r1_verl_searchpath import omni_r1_verl_searchpath as plugin

    real_find_spec = importlib.util.find_spec
    root = Path(__file__).resolve().parents[2]

    def fake_find_spec(name, *args, **kwargs):
        if name == "omni_r1_verl.conf":
            return None
        if name == "omni_r1_verl":
            return importlib.util.spec_from_file_location("omni_r1_verl", root / "omni_r1_verl" / "__init__.py")
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    assert plugin.resolve_search_path() == f"file://{root / 'conf'}"
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    assert plugin.resolve_search_path() == plugin.SEARCH_PATH
