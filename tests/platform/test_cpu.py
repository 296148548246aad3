"""The ``cpu`` platform is opt-in: verl's platform detection is unchanged unless a run sets ``VERL_PLATFORM=cpu``."""

from __future__ import annotations

import pytest
from verl_probe import prefetch, probe

from omni_r1_verl.platform import CPU_PLATFORM_ENV, PLATFORM_ENV_VAR, PLATFORM_NAME, cpu_platform_selected
from omni_r1_verl.platform.cpu import PlatformCPU

#: verl's platform as a process sees it: the probed name, ``get_device_name()``, ``get_nccl_backend()``.
PLATFORM_FIELDS = ("detected", "device_name", "process_group_backend", "init_process_group_defined_in")


@pytest.fixture(scope="module", autouse=True)
def _probes():
    prefetch(*[(plugin, value, True) for plugin in (False, True) for value in (None, "")], (True, PLATFORM_NAME, True))


@pytest.mark.parametrize("verl_platform", [None, ""], ids=["unset", "empty"])
def test_a_process_that_did_not_ask_sees_verls_own_platform(verl_platform):
    # verl's own check (an empty VERL_PLATFORM triggers auto-detection): the result is one of verl's built-in
    # platforms, and the same platform, device and process-group backend as without the plugin.
    without = probe(False, verl_platform, platform_only=True)["platform"]
    with_plugin = probe(True, verl_platform, platform_only=True)["platform"]
    assert with_plugin["detected"] in without["registered"] and PLATFORM_NAME in with_plugin["registered"]
    assert {k: with_plugin[k] for k in PLATFORM_FIELDS} == {k: without[k] for k in PLATFORM_FIELDS}
    assert "/verl/" in with_plugin["init_process_group_defined_in"]


def test_verl_platform_cpu_selects_it():
    platform = probe(True, PLATFORM_NAME, platform_only=True)["platform"]
    assert (platform["detected"], platform["device_name"], platform["process_group_backend"]) == ("cpu", "cpu", "gloo")
    assert platform["init_process_group_defined_in"].endswith("omni_r1_verl/platform/cpu_engines.py")


@pytest.mark.parametrize("use_smi_check", [False, True])
def test_auto_detection_never_claims_the_host(use_smi_check):
    assert PlatformCPU().is_platform_available(use_smi_check=use_smi_check) is False
    assert PlatformCPU().is_available()  # once selected it works anywhere


@pytest.mark.parametrize(
    ("value", "selected"), [(None, False), ("", False), ("nvidia", False), ("cpu", True), (" CPU ", True)]
)
def test_selection_reads_verl_platform_like_verl(value, selected, monkeypatch):
    if value is None:
        monkeypatch.delenv(PLATFORM_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(PLATFORM_ENV_VAR, value)
    assert cpu_platform_selected() is selected


def test_the_selecting_environment_is_what_selection_reads(monkeypatch):
    for key, value in CPU_PLATFORM_ENV.items():
        monkeypatch.setenv(key, value)
    assert cpu_platform_selected()
