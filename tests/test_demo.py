"""The demo's run beside or attached to a running Ray cluster: overrides, resource check, and a real attach."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from omni_r1_verl.demo import ATTACH_OVERRIDES, DemoPaths, cluster_shortfall, demo_overrides

PATHS = DemoPaths(
    root=Path("/demo"),
    policy=Path("/demo/tiny/policy_warm"),
    grounder=Path("/demo/tiny/grounder_warm"),
    sam2_config=Path("/demo/tiny/sam2.yaml"),
    sam2_checkpoint=Path("/demo/tiny/sam2.pt"),
    train_files=(Path("/demo/data/refavs/train.parquet"), Path("/demo/data/revos/train.parquet")),
    val_files=(Path("/demo/data/refavs/val.parquet"), Path("/demo/data/revos/valid.parquet")),
)


def test_demo_trains_the_warm_policy_grounds_with_the_warm_grounder_and_validates_on_held_out_rows():
    overrides = dict(o.split("=", 1) for o in demo_overrides(PATHS, steps=3) if "=" in o and not o.startswith("+"))
    assert overrides["actor_rollout_ref.model.path"] == "/demo/tiny/policy_warm"
    assert overrides["system2.grounding.model_path"] == "/demo/tiny/grounder_warm"
    assert overrides["data.train_files"] == "[/demo/data/refavs/train.parquet,/demo/data/revos/train.parquet]"
    assert overrides["data.val_files"] == "[/demo/data/refavs/val.parquet,/demo/data/revos/valid.parquet]"
    # Validation at the last step.
    assert overrides["trainer.test_freq"] == overrides["trainer.total_training_steps"] == "3"
    # The rows make fewer steps than that per epoch: the run must not end with the first epoch.
    assert int(overrides["trainer.total_epochs"]) >= 3


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


# The log-and-filter runner of `omni-r1 demo`, on a fake main_ppo that prints given lines (stdout and stderr taking
# turns, both into the one pipe) and exits with a given status.
_FAKE_MAIN_PPO = """
import json, sys
lines, status = json.load(open(sys.argv[1]))
for i, line in enumerate(lines):
    stream = sys.stderr if i % 2 else sys.stdout
    stream.write(line + "\\n")
    stream.flush()
sys.exit(status)
"""

_NOISE = [
    "(TransferQueueStorageSimpleUnit pid=7) 2025-01-01 00:00:00,000 - WARNING - transfer_queue.utils.common - "
    "target_num_threads 16 should not exceed total physical CPU cores 2. Setting to 2.",
    "(WorkerDict pid=8) Error: same line [repeated 3x across cluster]",
]
_OTHER = ["INFO starting the trainer", "(TaskRunner pid=9) some verl chatter"]
_KEPT = ["omni-r1: the gallery is off", "(WorkerDict pid=8) ERROR worker lost"]
_TRACEBACK = [
    "(TaskRunner pid=9) Traceback (most recent call last):",
    '(TaskRunner pid=9)   File "/x/main_ppo.py", line 3, in run',
    "(TaskRunner pid=9) RuntimeError: out of memory",
]


def _metric_line(step: int, seconds: float) -> str:
    from verl.utils.logger.aggregate_logger import concat_dict_to_str

    values = {"critic/score/mean": 0.5, "timing_s/step": seconds, "omni_r1/answer_parsed": 0.25}
    return "(TaskRunner pid=9) " + concat_dict_to_str(values, step=step)


def _fake_run(tmp_path, lines, status=0, *, verbose=False, total_steps=2):
    import io

    from omni_r1_verl.cli.demo import run_and_report

    script = tmp_path / "lines.json"
    script.write_text(json.dumps([lines, status]))
    out = io.StringIO()
    code = run_and_report(
        [sys.executable, "-c", _FAKE_MAIN_PPO, str(script)],
        cwd=tmp_path,
        env=None,
        root=tmp_path,
        checkpoints=tmp_path / "checkpoints",
        total_steps=total_steps,
        verbose=verbose,
        out=out,
    )
    (log,) = (tmp_path / "logs").iterdir()
    return code, out.getvalue(), log


def test_the_runner_logs_everything_and_shows_steps_kept_lines_and_the_table(tmp_path):
    (tmp_path / "checkpoints" / "rollout_gallery").mkdir(parents=True)
    lines = [*_NOISE, _OTHER[0], _metric_line(1, 10.0), *_KEPT, _OTHER[1], _metric_line(2, 30.0)]
    code, shown, log = _fake_run(tmp_path, lines)
    assert code == 0
    assert re.fullmatch(r"main_ppo-\d{8}-\d{6}\.log", log.name)
    assert log.read_text().splitlines() == lines
    assert "step 1/2  score 0.50  parsed 25%  10.0 s/step  ETA 10s" in shown.splitlines()
    assert "step 2/2  score 0.50  parsed 25%  30.0 s/step  ETA 0s" in shown.splitlines()
    for line in _KEPT:
        assert line in shown.splitlines()
    for line in _NOISE + _OTHER:
        assert line not in shown
    assert "step:1" not in shown  # verl's raw metric line is replaced by the live line
    table = shown[shown.index("step   ") :]
    assert re.search(r"^1 +0\.500 .* 25% +- +- +10\.0$", table, flags=re.MULTILINE)
    assert f"checkpoints: {tmp_path / 'checkpoints'}" in shown
    assert f"log:         {log}" in shown
    assert f"gallery:     {tmp_path / 'checkpoints' / 'rollout_gallery'}" in shown


def test_a_failing_run_prints_the_tail_of_the_log_and_returns_its_status(tmp_path):
    chatter = [f"line {i}" for i in range(60)]
    lines = [_metric_line(1, 5.0), *chatter, _NOISE[0], *_TRACEBACK]
    code, shown, log = _fake_run(tmp_path, lines, status=3)
    assert code == 3
    assert log.read_text().splitlines() == lines
    assert "main_ppo failed (exit status 3)" in shown
    # The 40 last lines that are not known noise, the traceback included; no table.
    tail = chatter[-(40 - len(_TRACEBACK)) :] + _TRACEBACK
    start = shown.index(tail[0])
    assert shown[start:].splitlines()[: len(tail)] == tail
    assert chatter[-38] not in shown and _NOISE[0] not in shown
    assert "S2 calls" not in shown and "gallery:" not in shown
    assert f"log:         {log}" in shown


def test_verbose_shows_every_line_and_still_the_table(tmp_path):
    lines = [*_NOISE, *_OTHER, _metric_line(1, 4.0)]
    code, shown, log = _fake_run(tmp_path, lines, verbose=True, total_steps=None)
    assert code == 0
    assert shown.splitlines()[1 : 1 + len(lines)] == lines
    assert "S2 calls" in shown and "gallery:" not in shown


def test_log_names_do_not_collide_and_overrides_set_steps_and_checkpoints(tmp_path):
    import datetime

    from omni_r1_verl.cli.demo import _checkpoints, _total_steps, log_path

    now = datetime.datetime(2025, 3, 4, 5, 6, 7)
    first = log_path(tmp_path, now)
    first.touch()
    assert first == tmp_path / "logs" / "main_ppo-20250304-050607.log"
    assert log_path(tmp_path, now).name == "main_ppo-20250304-050607-2.log"
    overrides = [*demo_overrides(PATHS, steps=2), "trainer.total_training_steps=5"]
    assert _total_steps(overrides) == 5 and _total_steps(["trainer.total_training_steps=null"]) is None
    assert _checkpoints(PATHS.root, overrides) == Path("/demo/checkpoints")
    assert _checkpoints(PATHS.root, ["trainer.default_local_dir=ck"]) == Path("/demo/ck")
