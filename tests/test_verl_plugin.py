"""The ``verl.plugins`` entry point registers our names in every process that imports verl."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from omni_r1_verl import plugin_check


def test_entry_point_is_declared():
    eps = {ep.name: ep.value for ep in entry_points(group="verl.plugins")}
    assert eps.get(plugin_check.ENTRY_POINT_NAME) == plugin_check.PLUGIN_MODULE


def test_import_verl_registers_our_reward_manager_and_agent_loop():
    import verl  # noqa: F401
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.experimental.reward_loop.reward_manager.registry import get_reward_manager_cls

    from omni_r1_verl.reward.manager import OmniR1RewardManager

    assert get_reward_manager_cls("omni_r1") is OmniR1RewardManager
    assert _agent_loop_registry["omni_r1_agent"]["_target_"] == "omni_r1_verl.rollout.agent_loop.OmniR1AgentLoop"
    plugin_check.assert_plugin_loaded()


def _status_in_subprocess(env_update: dict[str, str]) -> subprocess.CompletedProcess:
    code = "from omni_r1_verl.plugin_check import assert_plugin_loaded\nassert_plugin_loaded()\nprint('PLUGIN-OK')\n"
    env = {**os.environ, **env_update}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("none", "VERL_USE_EXTERNAL_PLUGINS=none disables verl plugins"),
        ("some_other_plugin", "does not list 'omni_r1_verl'"),
    ],
)
def test_hidden_plugin_fails_loudly(policy, expected):
    proc = _status_in_subprocess({"VERL_USE_EXTERNAL_PLUGINS": policy})
    assert proc.returncode != 0
    assert "PluginNotLoadedError" in proc.stderr
    assert expected in proc.stderr


def test_named_policy_that_lists_us_loads_the_plugin():
    proc = _status_in_subprocess({"VERL_USE_EXTERNAL_PLUGINS": "omni_r1_verl"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PLUGIN-OK" in proc.stdout
