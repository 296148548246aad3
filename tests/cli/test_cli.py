"""The ``omni-r1`` console script: help, make-tiny, doctor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from omni_r1_verl.cli import COMMANDS, build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name.replace("_", "-") in out


def test_every_command_has_a_description():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, cmd in sub.choices.items():
        assert cmd.description and len(cmd.description) > 40, name


def test_make_tiny_writes_manifest(tmp_path, capsys):
    assert main(["make-tiny", str(tmp_path / "t"), "--no-sam2-package"]) == 0
    assert (tmp_path / "t" / "manifest.json").is_file()
    assert (tmp_path / "t" / "qwen2_5_omni_thinker" / "model.safetensors").is_file()
    assert "tiny assets written" in capsys.readouterr().out


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omni_r1_verl.cli", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.ray
def test_doctor_passes_on_this_install_including_a_ray_worker():
    proc = _doctor()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "verl plugin (fresh Ray worker)" in proc.stdout
    assert "all checks passed" in proc.stdout


@pytest.mark.ray
def test_doctor_attaches_to_a_running_cluster(ray_head):
    # The state of every node after the recipe's `ray start`: ray.init() attaches, and sizing arguments are errors.
    proc = _doctor(env=ray_head)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    line = next(line for line in proc.stdout.splitlines() if "verl plugin (fresh Ray worker)" in line)
    port = ray_head["RAY_ADDRESS"].rsplit(":", 1)[1]
    assert line.startswith("[ok  ]") and "on the running cluster at " in line and f":{port}: registered" in line


def test_doctor_fails_with_a_fix_when_the_plugin_is_hidden():
    proc = _doctor("--no-ray", env={"VERL_USE_EXTERNAL_PLUGINS": "none"})
    assert proc.returncode == 1
    assert "[FAIL] verl plugin (this process)" in proc.stdout
    assert "fix: unset it or set it to 'auto'" in proc.stdout


def test_doctor_reports_missing_checkpoint_of_a_config(tmp_path):
    missing = tmp_path / "no_such_model"
    proc = _doctor("--no-ray", "+recipe=omni_r1", f"actor_rollout_ref.model.path={missing}")
    assert proc.returncode == 1
    assert f"{missing} does not exist" in proc.stdout
    assert "fix: set actor_rollout_ref.model.path=<existing path>" in proc.stdout


def test_doctor_accepts_an_existing_checkpoint(tiny_assets):
    proc = _doctor("--no-ray", "+recipe=omni_r1", f"actor_rollout_ref.model.path={tiny_assets.thinker}")
    assert "[ok  ] policy (System 1) model (actor_rollout_ref.model.path)" in proc.stdout, proc.stdout[-3000:]
    assert "thinker layout (Qwen2_5OmniThinkerForConditionalGeneration" in proc.stdout


def test_doctor_refuses_a_checkpoint_of_the_wrong_kind(tiny_assets):
    proc = _doctor("--no-ray", "+recipe=omni_r1", f"actor_rollout_ref.model.path={tiny_assets.sam2_hf}")
    assert proc.returncode == 1
    assert "is not a Qwen2.5-Omni checkpoint" in proc.stdout, proc.stdout[-3000:]


def test_doctor_requires_system2_checkpoints_when_a_reward_reads_them(tiny_assets):
    base = ["--no-ray", "+recipe=omni_r1", f"actor_rollout_ref.model.path={tiny_assets.thinker}"]
    proc = _doctor(*base)
    assert proc.returncode == 1
    assert "fix: set system2.sam2.checkpoint=<existing path>" in proc.stdout, proc.stdout[-3000:]
    detail = "system2"
    proc = _doctor(
        *base,
        f"{detail}.sam2.checkpoint={tiny_assets.sam2_checkpoint}",
        f"{detail}.sam2.config={tiny_assets.sam2_config}",
        f"{detail}.grounding.model_path={tiny_assets.thinker}",
    )
    assert f"sam2 {tiny_assets.sam2_checkpoint}; grounding {tiny_assets.thinker}" in proc.stdout, proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-3000:]
    weights = "reward.reward_kwargs.weights"
    off = [f"{weights}.alignment=0", f"{weights}.consistency=0", f"{weights}.detection=0"]
    assert _doctor(*base, *off).returncode == 0
