"""The generated config reference (conf/omni_r1/sections.yaml, docs/config.md) is current and composes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from omni_r1_verl import config_reference
from omni_r1_verl.utils.config import build

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date():
    stale = config_reference.stale(ROOT)
    assert not stale, f"regenerate with `omni-r1 config --write`: {[str(p) for p in stale]}"


def test_the_generated_yaml_holds_every_default_of_every_recipe_section():
    tree = yaml.safe_load(config_reference.render_yaml())
    for section in config_reference.SECTIONS:
        node = tree
        for key in section.path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if section.in_recipe:
            assert build(section.cls, node, section.path) == section.cls()
        else:
            assert node is None


def test_the_docs_list_every_leaf_key():
    docs = config_reference.render_docs()
    for key in ("system2.pool.num_workers", "reward.reward_kwargs.length.splits", "data.omni_r1.fps"):
        assert f"| `{key}` |" in docs
    assert "| `actor_rollout_ref.rollout.engine_kwargs.hf.max_batch_size` | `8` |" in docs


def test_the_cli_checks_and_prints(tmp_path):
    run = [sys.executable, "-m", "omni_r1_verl.cli"]
    assert subprocess.run([*run, "config", "--check"], capture_output=True).returncode == 0
    (tmp_path / "conf").mkdir()
    (tmp_path / "docs").mkdir()
    stale = subprocess.run([*run, "config", "--check", "--root", str(tmp_path)], capture_output=True, text=True)
    assert stale.returncode == 1 and "out of date: docs/config.md" in stale.stdout
    printed = subprocess.run([*run, "config", "--yaml"], capture_output=True, text=True)
    assert printed.stdout == config_reference.render_yaml()
