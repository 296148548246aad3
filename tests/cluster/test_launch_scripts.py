"""The launch scripts: dry runs on fake node lists, and the Slurm path on a fake Slurm (srun, ray, main_ppo faked).

The fake cluster runs every "node" on this machine: fake ``srun`` runs the command as if on ``-w NODE``, fake
``ray start`` records its arguments as the node's join and blocks until SIGTERM, and ``cluster wait`` is the real
command reading those joins instead of Ray. Planning (config composition included) is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omni_r1_verl.cli import main

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "recipe" / "omni_r1" / "run_qwen2_5_omni_7b_slurm.sh"
ONE_NODE = ROOT / "recipe" / "omni_r1" / "run_qwen2_5_omni_7b_1node.sh"
FAKES = Path(__file__).resolve().parent / "fake_slurm"
PATHS = {"MODEL_PATH": "/ckpt/omni", "TRAIN_FILES": "[/d/a.parquet,/d/b.parquet]"}
PATHS |= {"SAM2_CHECKPOINT": "/ckpt/sam2.pt", "GROUNDING_MODEL": "/ckpt/grounder"}


def _bash(script: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM", "RAY_"))}
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, "PYTHON": sys.executable, **(env or {})},
    )


@pytest.mark.parametrize(("spec", "nnodes"), [("gpu01:8", 1), ("gpu[01-02]:8", 2), ("gpu[01-04]", 4)])
def test_dry_run_plans_1_2_and_4_nodes(spec, nnodes, capsys):
    args = ["cluster", "plan", "--nodes", spec, "--gpus-per-node", "8", "--format", "json", "trainer.total_epochs=2"]
    assert main(args) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in plan["nodes"]] == [f"gpu{i:02d}" for i in range(1, nnodes + 1)]
    assert set(plan["ray_start"]) == {n["name"] for n in plan["nodes"]}
    command = plan["main_ppo"]
    assert command[1:4] == ["-m", "verl.trainer.main_ppo", "+recipe=omni_r1"]
    assert f"trainer.nnodes={nnodes}" in command and command[-1] == "trainer.total_epochs=2"
    trainer = int(next(c.split("=")[1] for c in command if c.startswith("trainer.n_gpus_per_node=")))
    assert 64 % (trainer * nnodes) == 0 and plan["system2_workers"] == (8 - trainer) * nnodes


def test_slurm_dry_run_prints_the_plan_and_fills_in_unset_paths():
    batch = ("data.train_batch_size=12", "actor_rollout_ref.actor.ppo_mini_batch_size=12")
    proc = _bash(SLURM, "--dry-run", "--nodes", "gpu[01-02]:8", *batch)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # 12 prompts x 8 rollouts = 96 sequences: 6 trainer GPUs per node (12 ranks) fit, so 2 go to System 2.
    assert "trainer:   6 GPUs per node = 12 ranks" in out and "system 2:  2 GPUs per node = 4 detail workers" in out
    assert "[gpu01] ray start --head" in out and "[gpu02] ray start --address=HEAD_IP:6379" in out
    for line in ("actor_rollout_ref.model.path=<MODEL_PATH>'", "system2.sam2.checkpoint=<SAM2_CHECKPOINT>'"):
        assert line in out
    assert "actor_rollout_ref.rollout.tensor_model_parallel_size=1 \\\n    data.train_batch_size=12 \\\n" in out


def test_slurm_dry_run_refuses_uneven_gpu_counts_with_a_message():
    proc = _bash(SLURM, "--dry-run", "--nodes", "gpu01:8,gpu02:4")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "different GPU counts (gpu01: 8, gpu02: 4)" in proc.stderr and "--gpus-per-node" in proc.stderr


def test_slurm_refuses_to_run_outside_a_job():
    proc = _bash(SLURM, env=PATHS)
    assert proc.returncode == 2 and "not in a Slurm job" in proc.stderr


def test_one_node_dry_run_lets_main_ppo_start_ray_with_the_system2_slots():
    proc = _bash(ONE_NODE, "--dry-run", env={**PATHS, "NGPUS": "8"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ray:       started by main_ppo" in proc.stdout and "ray start" not in proc.stdout
    assert "+ray_kwargs.ray_init.resources.omni_r1_system2=4" in proc.stdout
    assert "actor_rollout_ref.model.path=/ckpt/omni" in proc.stdout


def _fake_job(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    state, logs = tmp_path / "state", tmp_path / "logs"
    (state / "joined").mkdir(parents=True)
    job = {
        **PATHS,
        "PATH": f"{FAKES}:{os.environ['PATH']}",
        "PYTHON": str(FAKES / "python"),
        "REAL_PYTHON": sys.executable,
        "FAKE_STATE": str(state),
        "FAKE_NODES": "gpu01:8,gpu02:8",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURMD_NODENAME": "gpu01",
        "SLURM_CPUS_PER_TASK": "16",
        "LOG_DIR": str(logs),
        "RAY_WAIT_TIMEOUT": "4",
        "RAY_WAIT_INTERVAL": "0.2",
        "RAY_HEAD_IP": "127.0.0.1",
        "HF_HOME": "/cache/hf",
        "HF_TOKEN": "not-for-logs",
        **env,
    }
    proc = _bash(SLURM, "trainer.total_epochs=2", env=job)
    return proc, state, logs


def test_fake_slurm_job_starts_ray_everywhere_runs_main_ppo_and_stops_ray(tmp_path):
    proc, state, logs = _fake_job(tmp_path, FAKE_MAIN_STATUS="3")
    assert proc.returncode == 3, proc.stderr[-3000:]  # main_ppo's status is the job's
    assert "fake main_ppo ran" in proc.stdout and "main_ppo exited with status 3" in proc.stderr
    args = (state / "main_ppo.args").read_text().splitlines()
    plan = json.loads((logs / "layout.json").read_text())
    assert args[0] == f"RAY_ADDRESS={plan['ray_address']}" and plan["main_ppo"][0] == str(FAKES / "python")
    assert args[0] == "RAY_ADDRESS=127.0.0.1:24242"  # GCS port derived from the job id
    assert "trainer.nnodes=2" in args and args[-1] == "trainer.total_epochs=2"
    # Both nodes started (head first, each with its own marker), both stopped by the exit trap.
    ray_log = (state / "ray.log").read_text().splitlines()
    assert ray_log[:2] == ["gpu01 start", "gpu02 start"]
    assert {"gpu01 stopped", "gpu02 stopped"} <= set(ray_log)
    assert not list((state / "joined").iterdir())
    srun_log = (state / "srun.log").read_text()
    assert (
        "gpu01 ray start --head" in srun_log and "--num-cpus=16" in srun_log and "--temp-dir=/tmp/ray_4242" in srun_log
    )
    # Per-node logs, the plan and the environment (without secrets) are kept.
    names = {p.name for p in logs.iterdir()}
    assert {"ray-gpu01.log", "ray-gpu02.log", "main_ppo.log", "layout.txt", "layout.json", "env.txt"} <= names
    env_txt = (logs / "env.txt").read_text()
    assert "HF_HOME=/cache/hf" in env_txt and "not-for-logs" not in env_txt


def test_fake_slurm_job_names_the_node_that_did_not_join_and_stops_the_others(tmp_path):
    proc, state, logs = _fake_job(tmp_path, FAKE_FAIL_NODES="gpu02", RAY_WAIT_TIMEOUT="1.5")
    assert proc.returncode == 1
    assert f"gpu02: has not joined the Ray cluster (log: {logs / 'ray-gpu02.log'})" in proc.stderr
    assert "ray on gpu02 exited" in proc.stderr and "fake failure of gpu02" in proc.stderr
    assert not (state / "main_ppo.args").exists()
    assert "gpu01 stopped" in (state / "ray.log").read_text()
