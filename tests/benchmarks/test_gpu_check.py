"""The GPU check's CPU part: the smoke run of every stage, skips without a GPU, and its failure handling."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchmarks.gpu_check import carried, report
from benchmarks.gpu_check.__main__ import run_worker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STAGES = ("fsdp2", "fused", "sam2", "detail")


def _check(*args: str, tmp_path: Path) -> tuple[int, list[report.Record], str]:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--wheels", str(tmp_path / "no_wheels"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return proc.returncode, list(report.parse(proc.stdout)), proc.stdout + proc.stderr[-3000:]


def _results(records) -> dict[tuple[str, str], report.Record]:
    return {(r.fields["stage"], r.fields["name"]): r for r in records if r.kind == "RESULT"}


def test_cpu_smoke_runs_every_stage_and_skips_only_the_triton_kernel(tmp_path):
    code, records, output = _check("--cpu-smoke", tmp_path=tmp_path)
    assert code == 0, output
    results = _results(records)
    assert {stage for stage, _ in results} == set(STAGES)
    assert [r.fields for r in records if r.kind == "FAILED"] == []
    assert [(r.fields["stage"], r.fields.get("part")) for r in records if r.kind == "SKIPPED"] == [("fused", "triton")]
    # The checks that have bounds met them, and each measured what it should.
    assert all(r.fields.get("ok", "yes") == "yes" for r in results.values())
    assert results["fsdp2", "fp32_logprob_max_abs_diff"].fields["value"] < 1e-4
    assert results["fsdp2", "bf16_step_updates_weights"].fields["value"] == 1.0
    assert ("fused", "model_torch_logprob_max_abs_diff") in results and ("fused", "head_logits_fwd_bwd_s") in results
    assert results["sam2", "every_object_on_every_frame"].fields["ok"] == "yes"
    assert results["detail", "distinct_ratio"].fields["value"] > 1.0
    for stage in STAGES:
        assert any(name.startswith(("peak_mem", "head_torch_peak")) for s, name in results if s == stage), stage
    (summary,) = [r for r in records if r.kind == "SUMMARY"]
    assert summary.fields["stages_ok"] == "4" and summary.fields["failed"] == "0"


def test_without_a_gpu_every_stage_is_skipped_naming_why(tmp_path):
    code, records, output = _check(tmp_path=tmp_path)
    assert code == 0, output
    skips = {r.fields["stage"]: r.fields["reason"] for r in records if r.kind == "SKIPPED"}
    assert set(skips) == set(STAGES) and all("no CUDA GPU" in why for why in skips.values())
    assert not [r for r in records if r.kind == "RESULT"]


def test_requirements_name_what_is_missing(monkeypatch):
    import importlib.util

    from benchmarks.gpu_check import sam2_assets, stage_fused

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("verl", "sam2") else real(name))
    assert any("verl" in m and ".whl/verl" in m for m in stage_fused.requirements(False))
    assert sam2_assets.requirements(False)[0].startswith("sam2 (carry them in .whl/")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert "a CUDA GPU" in stage_fused.requirements(True)


def test_report_lines_round_trip():
    records = [
        report.result("sam2", "propagation_fps", 12.3456, "frames/s", ok=True),
        report.skipped("fused", 'triton is not installed (pip "triton")', part="triton"),
        report.failed("detail", "timed out after 150 s"),
    ]
    parsed = list(report.parse("\n".join(["noise", *(r.line() for r in records)])))
    assert [p.kind for p in parsed] == ["RESULT", "SKIPPED", "FAILED"]
    assert parsed[0].fields == {
        "stage": "sam2",
        "name": "propagation_fps",
        "value": 12.35,
        "unit": "frames/s",
        "ok": "yes",
    }
    assert parsed[1].fields["reason"] == 'triton is not installed (pip "triton")'
    assert report.from_wire(report.to_wire(records[2])) == records[2]


def test_a_stage_that_raises_is_failed_and_the_next_still_runs(monkeypatch, tmp_path, capsys):
    from benchmarks.gpu_check import worker
    from benchmarks.gpu_check.stage_common import Stage

    def broken(gpu, workdir):
        yield report.result("broken", "before", 1.0)
        raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore")

    def fine(gpu, workdir):
        yield report.result("fine", "value", 2.0)

    monkeypatch.setattr(worker, "STAGES", {"broken": Stage("broken", list, broken), "fine": Stage("fine", list, fine)})
    assert worker.main(["--stages", "broken,fine", "--workdir", str(tmp_path), "--cpu-smoke"]) == 0
    records = [report.from_wire(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [(r.kind, r.fields["stage"]) for r in records]
    assert kinds == [
        ("RESULT", "broken"),
        ("FAILED", "broken"),
        ("DONE", "broken"),
        ("RESULT", "fine"),
        ("DONE", "fine"),
    ]
    assert records[1].fields["reason"] == "RuntimeError: CUDA error: an illegal memory access was encountered"


@pytest.mark.parametrize(("stage", "why"), [("hang", "timed out after 3 s"), ("crash", "worker exited with 3")])
def test_a_hung_or_crashed_worker_fails_only_its_unfinished_stages(stage, why, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    out = io.StringIO()
    records = run_worker(["first", stage], True, tmp_path, env, 3.0, out, module="fake_worker")
    assert [(r.kind, r.fields["stage"]) for r in records] == [("RESULT", "first"), ("INFO", "first"), ("FAILED", stage)]
    assert records[-1].fields["reason"].startswith(why)
    if stage == "crash":
        assert "last stderr line: boom" in records[-1].fields["reason"]
    assert out.getvalue().splitlines()[-1] == records[-1].line()


def _wheel(folder: Path, name: str, version: str) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{p},,\n" for p in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def test_carried_files_install_only_when_missing(tmp_path):
    folder = tmp_path / ".whl"
    folder.mkdir()
    _wheel(folder, "gpu_check_probe", "0.1")
    for name in ("sam2-1.1.0.tar.gz", "antlr4-python3-runtime-4.9.3.tar.gz", "hydra_core-1.3.8-py3-none-any.whl"):
        (folder / name).write_bytes(b"")
    (folder / "README").write_text("not a package")
    found = carried.find(folder)
    assert [(c.name, c.version, c.wheel) for c in found] == [
        ("gpu-check-probe", "0.1", True),
        ("hydra-core", "1.3.8", True),
        ("antlr4-python3-runtime", "4.9.3", False),
        ("sam2", "1.1.0", False),
    ]
    decisions = dict((c.name, d) for c, d in carried.plan(found, {"hydra-core": "1.3.8"}.get))
    assert decisions == {
        "gpu-check-probe": "install",
        "hydra-core": "present 1.3.8",
        "antlr4-python3-runtime": "install",
        "sam2": "install",
    }
    carried.install([found[0]], tmp_path / "site")  # offline pip into the target
    assert (tmp_path / "site" / "gpu_check_probe" / "__init__.py").read_text() == "VERSION = '0.1'\n"
