"""The demo's run beside or attached to a running Ray cluster: overrides, resource check, and a real attach."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from omni_r1_verl.demo import ATTACH_OVERRIDES, DemoPaths, cluster_shortfall, demo_overrides

PATHS = DemoPaths(
    root=Path("/demo"),
    thinker=Path("/demo/tiny/thinker"),
    sam2_config=Path("/demo/tiny/sam2.yaml"),
    sam2_checkpoint=Path("/demo/tiny/sam2.pt"),
    train_files=(Path("/demo/data/refavs.parquet"), Path("/demo/data/revos.parquet")),
)


def test_attaching_drops_only_the_cluster_sizes():
    own = demo_overrides(PATHS)
    attached = demo_overrides(PATHS, attach=True)
    assert attached == own + list(ATTACH_OVERRIDES)
    assert not any(o.startswith("ray_kwargs.") for o in own)


def test_cluster_shortfall_names_what_a_small_cluster_lacks():
    overrides = demo_overrides(PATHS)
    assert cluster_shortfall(overrides, {"CPU": 16.0, "GPU": 1.0}) == []
    missing = cluster_shortfall(overrides + ["trainer.n_gpus_per_node=2"], {"CPU": 4.0, "GPU": 1.0})
    assert missing == [
        "CPU: the run declares 16, the cluster offers 4",
        "GPU: the run declares 2, the cluster offers 1",
    ]


# main_ppo's own call, ray.init(**ray_kwargs.ray_init) when Ray is not initialized (the runtime env it merges in
# plays no part in attaching): refused with cpu_tiny's sizes, attached without them; then the demo's resource check.
_ATTACH_LIKE_MAIN_PPO = """
import json, sys
import ray
from omegaconf import OmegaConf
from omni_r1_verl.doctor import compose_config
from omni_r1_verl.demo import cluster_problem

own, attached = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for overrides in (own, attached):
    kwargs = OmegaConf.to_container(compose_config(overrides).ray_kwargs.ray_init, resolve=True)
    try:
        ray.init(**kwargs)
    except ValueError as err:
        print("REFUSED", err)
    else:
        print("ATTACHED", int(ray.cluster_resources()["CPU"]))
        ray.shutdown()
print("PROBLEM", cluster_problem("the head", own))
"""


@pytest.mark.ray
def test_cpu_tiny_attaches_to_a_running_head_only_without_its_sizes(ray_head):
    own, attached = demo_overrides(PATHS), demo_overrides(PATHS, attach=True)
    command = [sys.executable, "-c", _ATTACH_LIKE_MAIN_PPO, json.dumps(own), json.dumps(attached)]
    proc = subprocess.run(command, capture_output=True, text=True, env=ray_head, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    refused, attach, problem = [
        line for line in proc.stdout.splitlines() if line.startswith(("REFUSED", "ATTACHED", "PROBLEM"))
    ]
    assert refused.startswith("REFUSED When connecting to an existing cluster, num_cpus and num_gpus")
    assert attach == "ATTACHED 1"  # the head's 1 CPU, not the 16 cpu_tiny would size a cluster of its own with
    assert problem.startswith("PROBLEM the Ray cluster at the head is too small for the demo (CPU: the run declares 16")
    assert "GPU: the run declares 1, the cluster offers 0" in problem and "RAY_ADDRESS=local" in problem
