"""The ``verl.plugins`` entry point: our names in every process that imports verl, at almost no cost to other runs."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from verl_probe import prefetch, probe

from omni_r1_verl import plugin_check, registration
from omni_r1_verl.platform.cpu_engines import FSDP_MODEL_TYPES

#: Everything the plugin may import before a run uses one of our names (and verl imports the module we bind).
LIGHT_MODULES = {
    "omni_r1_verl",
    "omni_r1_verl.verl_plugin",
    "omni_r1_verl.registration",
    "omni_r1_verl.utils",
    "omni_r1_verl.utils.modules",
    "omni_r1_verl.platform",
    "omni_r1_verl.platform.register",
    "omni_r1_verl.platform.cpu",
    "omni_r1_verl.platform.cpu_device",
    "omni_r1_verl.platform.cpu_engines",
    "omni_r1_verl.models",
    "omni_r1_verl.models.qwen2_5_omni",
    "omni_r1_verl.models.qwen2_5_omni.verl_binding",
    "omni_r1_verl.models.qwen2_5_omni.tokens",
    # Read by the continuous-token wiring and the processor wrapper: constants and the rope index, no transformers.
    "omni_r1_verl.models.qwen2_5_omni.processor",
    "omni_r1_verl.models.qwen2_5_omni.rope",
}


@pytest.fixture(scope="module", autouse=True)
def _probes():
    prefetch((False, None, False), (True, None, False), (True, "cpu", False))


def _added_modules(key: str) -> set[str]:
    return set(probe(True)[key]) - set(probe(False)[key])


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


@pytest.mark.parametrize("key", ["modules_after_import_verl", "modules_after_registries"])
def test_the_plugin_imports_nothing_behind_our_names(key):
    # After `import verl`, and after verl imported the registries and every function we bind: only registration
    # code and wrapt, no model, server, System-2 pool, reward scoring, dataset or transformers processor.
    added = _added_modules(key)
    assert added and "omni_r1_verl.verl_plugin" in added
    assert {m for m in added if not m.startswith("wrapt")} <= LIGHT_MODULES


def test_our_names_are_registered_before_their_modules_are_imported():
    report = probe(True)
    assert not any(
        m.startswith(("omni_r1_verl.reward", "omni_r1_verl.rollout")) for m in report["modules_after_registries"]
    )
    registries = report["registries"]
    assert registries["reward_managers"]["omni_r1"] == registration.REWARD_MANAGERS["omni_r1"]
    assert registries["agent_loops"]["omni_r1_agent"] == str({"_target_": registration.AGENT_LOOPS["omni_r1_agent"]})
    assert registries["rollout_classes"]["hf/async"] == "omni_r1_verl.platform.hf_adapter.HFServerAdapter"
    assert "hf" in registries["rollout_replicas"] and "cpu" in registries["platforms"]
    # Once a run imports the classes, their own @register writes the same entries (no "registered twice" error).
    assert report["registries_after_use"] == registries
    assert report["reward_manager_is_the_class"]


@pytest.mark.parametrize("verl_platform", [None, "cpu"], ids=["not-asked", "VERL_PLATFORM=cpu"])
def test_verls_registries_with_the_plugin_are_a_superset_with_no_name_overridden(verl_platform):
    without = probe(False)["registries"]  # (verl alone cannot even start with VERL_PLATFORM=cpu)
    with_plugin = probe(True, verl_platform)["registries"]
    assert with_plugin.keys() == without.keys()
    for registry, entries in without.items():
        assert entries, registry  # the probe read verl's own entries
        assert {name: with_plugin[registry].get(name) for name in entries} == entries, registry
    # FSDP engines for device cpu only in a process that asked for the cpu platform.
    gained_engines = set(with_plugin["engines"]) - set(without["engines"])
    expected = {f"{model}/{backend}/cpu" for model in FSDP_MODEL_TYPES for backend in ("fsdp", "fsdp2")}
    assert gained_engines == (expected if verl_platform == "cpu" else set())


def test_every_binding_is_installed_when_verl_imports_its_module():
    defined_in = probe(True)["functions_defined_in"]
    verl_own = probe(False)["functions_defined_in"]
    assert all("/verl/" in path for path in verl_own.values())
    assert all(path.endswith("omni_r1_verl/models/qwen2_5_omni/verl_binding.py") for path in defined_in.values())


@pytest.mark.parametrize(
    "first_import",
    [
        "omni_r1_verl.verl_plugin",
        "omni_r1_verl.platform.register",
        "omni_r1_verl.platform.cpu",
        "omni_r1_verl.models.qwen2_5_omni.verl_binding",
    ],
)
def test_the_plugin_loads_when_one_of_its_own_modules_starts_verls_import(first_import):
    code = (
        f"import {first_import}, sys, verl\n"
        "from verl.plugin.platform import PlatformRegistry\n"
        "from omni_r1_verl.utils.modules import hook_failures\n"
        "assert sys.modules['omni_r1_verl.verl_plugin'].LOADED, 'plugin not loaded'\n"
        "assert PlatformRegistry.get('cpu').__name__ == 'PlatformCPU', PlatformRegistry.registered_names()\n"
        "assert not hook_failures(), hook_failures()\n"
        "print('PLUGIN-OK')\n"
    )
    env = {**os.environ, "VERL_USE_EXTERNAL_PLUGINS": "omni_r1_verl"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "PLUGIN-OK" in proc.stdout, proc.stderr[-2000:]


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
