"""Data-parallel evaluation over Ray (CPU, logical resources): a System-2 worker killed mid-sample is replaced and
the sample retried; a sample that kills every worker is recorded; the other figures equal the in-process run's."""

from __future__ import annotations

import os

import pytest
from conftest import settings
from recompute import records

from omni_r1_verl.evaluation.parallel import RayExecutor, System2Actor
from omni_r1_verl.evaluation.runner import run_eval

pytestmark = pytest.mark.ray


def test_dead_workers_are_replaced_and_the_run_goes_on(ray_cluster, tiny_assets, eval_data, tmp_path):
    once, always = "revos/valid/synth/valid/vid000/1", "revos/valid/synth/valid/vid000/2"
    marker = tmp_path / "died"

    class Dies(System2Actor):
        def score(self, stage):
            key = stage.sample.key
            if key == always or (key == once and not marker.exists()):
                marker.touch()
                os._exit(1)  # the process dies with the sample half done
            return super().score(stage)

    local = run_eval(
        settings(tiny_assets, eval_data["revos"], tmp_path / "local", "revos", baseline="oracle-box", limit=3)
    )
    s = settings(tiny_assets, eval_data["revos"], tmp_path / "ray", "revos", baseline="oracle-box", limit=3, workers=2)
    executor = RayExecutor(s, system2_actor=Dies)
    results = run_eval(s, executor)
    assert executor.stats()["system2_replaced"] == 3  # once: 1 death; always: 2 attempts
    ray_records, local_records = records(tmp_path / "ray"), records(tmp_path / "local")
    assert ray_records[once]["status"] == "ok" and ray_records[once]["metrics"] == local_records[once]["metrics"]
    assert ray_records[always]["status"] == "worker_died" and "every attempt" in ray_records[always]["reason"]
    assert ray_records[always]["metrics"]["JF"] == 0.0
    assert results["samples"]["by_status"] == {"ok": 2, "worker_died": 1}
    assert results["metrics"] != local["metrics"]  # the dead sample counts, with the official zero
