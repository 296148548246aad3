"""On the cpu platform (``VERL_PLATFORM=cpu``) verl finds FSDP engines for device ``cpu`` and builds gloo groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Runs with ``VERL_PLATFORM=cpu`` in a fresh interpreter; prints one JSON object.
_ON_CPU_PLATFORM = r"""
import json, os, sys
import torch.distributed as dist
import verl.utils.distributed as distributed
from verl.checkpoint_engine import base as checkpoint_engine
from verl.workers import engine_workers
from verl.workers.engine.base import EngineRegistry

report = {
    "binders_see_the_wrapper": [
        module.initialize_global_process_group_ray is distributed.initialize_global_process_group_ray
        for module in (engine_workers, checkpoint_engine)
    ],
    "engines": {b: EngineRegistry.get_engine_cls("language_model", b).__name__ for b in ("fsdp2", "fsdp")},
}
try:
    EngineRegistry.get_engine_cls("language_model", "fsdp")(None, None, None)
except ValueError as error:
    report["fsdp1_error"] = str(error)

engine_workers.initialize_global_process_group_ray()
report["backend"] = dist.get_backend()
dist.destroy_process_group()
try:
    distributed.initialize_global_process_group_ray.__wrapped__()  # verl's own, with verl's default backend
    report["verl_default"] = dist.get_backend()
except (RuntimeError, ValueError) as error:
    report["verl_default"] = repr(error)
print("CPU-JSON " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def on_cpu_platform(tmp_path_factory) -> dict:
    store = tmp_path_factory.mktemp("pg") / "store"
    env = {
        **os.environ,
        "VERL_PLATFORM": "cpu",
        "RANK": "0",
        "WORLD_SIZE": "1",
        "DIST_INIT_METHOD": f"file://{store}",  # a file store: no socket
    }
    proc = subprocess.run(
        [sys.executable, "-c", _ON_CPU_PLATFORM], env=env, capture_output=True, text=True, timeout=600
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("CPU-JSON ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("CPU-JSON "))


def test_verl_finds_the_host_memory_fsdp2_engine_and_explains_fsdp1(on_cpu_platform):
    assert on_cpu_platform["engines"] == {"fsdp2": "CPUFSDPEngineWithLMHead", "fsdp": "FSDP1UnavailableOnCPU"}
    assert "strategy=fsdp2" in on_cpu_platform["fsdp1_error"]


def test_verls_process_group_init_runs_on_gloo(on_cpu_platform):
    assert on_cpu_platform["binders_see_the_wrapper"] == [True, True]
    assert on_cpu_platform["backend"] == "gloo"


def test_verls_own_default_backend_still_fails_on_cpu(on_cpu_platform):
    # When this fails, verl builds a valid CPU backend itself: drop patch_process_group_backend.
    assert "Duplicate device type cpu" in on_cpu_platform["verl_default"]
