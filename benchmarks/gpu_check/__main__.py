"""Run the GPU check: install carried pieces, skip what cannot run, run each stage in a worker, print a summary.

usage: python -m benchmarks.gpu_check [--cpu-smoke] [--only STAGE,...] [--budget SECONDS]   (or benchmarks/gpu_check.sh)

On a GPU every stage runs in its own process with its own time cap (a crash or hang costs that stage only); the
whole check stays inside --budget. --cpu-smoke runs the same stages at tiny CPU sizes in one process (CI). Output:
INFO lines (environment), one RESULT line per measurement, SKIPPED / FAILED lines naming what was missing or what
went wrong, and a SUMMARY line. Exit status 1 when a stage failed or a measurement missed its bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.gpu_check import carried
from benchmarks.gpu_check.report import Record, failed, from_wire, skipped

ROOT = Path(__file__).resolve().parents[2]
#: Seconds each stage may take on a GPU (the whole check is bounded by --budget too).
GPU_CAPS = {"fsdp2": 90, "fused": 120, "sam2": 90, "detail": 150}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``--help``)."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/gpu_check.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu-smoke", action="store_true", help="every stage at tiny CPU sizes, in one process")
    parser.add_argument("--only", default=",".join(GPU_CAPS), help=f"stages to run (default all: {','.join(GPU_CAPS)})")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole check (default 420)")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl", help="carried wheels / sdists (default .whl)")
    parser.add_argument("--site", type=Path, help="where carried pieces install (default: in the work directory)")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (random SAM2-L: ~0.9 GB)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only.split(",")) - set(GPU_CAPS))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; stages: {', '.join(GPU_CAPS)}")
    return args


def _versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "transformers", "triton", "verl", "sam2", "hydra-core"):
        out[name] = carried.installed_version(name) or "missing"
    return out


def install_carried(folder: Path, site: Path) -> list[Record]:
    """Install the carried pieces the machine lacks; one INFO (or FAILED) record per file."""
    records = []
    decisions = carried.plan(carried.find(folder))
    todo = [item for item, decision in decisions if decision == "install"]
    for item, decision in decisions:
        records.append(Record("INFO", {"carried": item.path.name, "action": decision}))
    if todo:
        try:
            carried.install(todo, site)
        except (OSError, subprocess.CalledProcessError) as err:
            records.append(failed("install", f"pip could not install {[c.path.name for c in todo]}: {err}"))
    return records


def run_worker(
    stages: list[str],
    cpu_smoke: bool,
    workdir: Path,
    env: dict,
    timeout: float,
    out,
    module: str = "benchmarks.gpu_check.worker",
) -> list[Record]:
    """Run stages in one worker process, streaming its records; stages it did not finish are FAILED.

    Args:
        stages: Stage names.
        cpu_smoke: Tiny CPU sizes.
        workdir: Scratch directory (the worker's stderr goes to a log file there).
        env: The worker's environment.
        timeout: Seconds before the worker is killed.
        out: Where record lines are printed as they arrive.
        module: The worker module.

    Returns:
        The records, a FAILED one for every stage the worker did not finish.
    """
    command = [sys.executable, "-m", module, "--stages", ",".join(stages)]
    command += ["--workdir", str(workdir)] + (["--cpu-smoke"] if cpu_smoke else [])
    log = workdir / f"worker_{'_'.join(stages)}.log"
    records, done = [], set()
    with log.open("w") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        expired = threading.Event()
        timer = threading.Timer(timeout, lambda: (expired.set(), proc.kill()))
        timer.start()
        try:
            for line in proc.stdout:
                record = from_wire(line.rstrip("\n"))
                if record is None:
                    continue
                if record.kind == "DONE":
                    done.add(record.fields["stage"])
                    record = Record("INFO", {"stage": record.fields["stage"], "seconds": record.fields["seconds"]})
                records.append(record)
                print(record.line(), file=out, flush=True)
            proc.wait()
        finally:
            timer.cancel()
    for stage in stages:
        if stage not in done:
            tail = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:] or [""]
            why = f"timed out after {timeout:.0f} s" if expired.is_set() else f"worker exited with {proc.returncode}"
            record = failed(stage, f"{why}; last stderr line: {tail[0][:200]} (full log: {log})")
            records.append(record)
            print(record.line(), file=out, flush=True)
    return records


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    """Run the check.

    Args:
        argv: Command line (see ``--help``).
        out: Where the report goes.

    Returns:
        1 when a stage failed or a bound was missed, else 0.
    """
    args = parse_args(argv)
    start = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="omni_r1_gpu_check_"))
    workdir.mkdir(parents=True, exist_ok=True)
    site = args.site or workdir / "site"
    records: list[Record] = []

    def emit(record: Record) -> None:
        records.append(record)
        print(record.line(), file=out, flush=True)

    for record in install_carried(args.wheels, site):
        emit(record)
    sys.path[:0] = [str(site)]  # what was just installed counts for the requirement checks below
    importlib.invalidate_caches()
    emit(Record("INFO", {"python": platform.python_version(), **_versions()}))

    import torch

    from benchmarks.gpu_check.stages import STAGES

    gpu = not args.cpu_smoke
    has_cuda = torch.cuda.is_available()
    emit(Record("INFO", {"mode": "gpu" if gpu else "cpu-smoke", "device": _device_name(torch) if has_cuda else "cpu"}))
    runnable = []
    for name in args.only.split(","):
        if gpu and not has_cuda:
            emit(
                skipped(
                    name, "no CUDA GPU is visible (torch.cuda.is_available() is False); --cpu-smoke runs tiny CPU sizes"
                )
            )
            continue
        missing = STAGES[name].requirements(gpu)
        if missing:
            emit(skipped(name, "missing " + "; ".join(missing)))
        else:
            runnable.append(name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site), os.environ.get("PYTHONPATH", "")])}
    env |= {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    if not gpu:
        env["OMP_NUM_THREADS"] = "1"
    groups = [[name] for name in runnable] if gpu else ([runnable] if runnable else [])
    for group in groups:
        remaining = args.budget - (time.monotonic() - start)
        if remaining < 10:
            for name in group:
                emit(failed(name, f"not started: the --budget of {args.budget:.0f} s is spent"))
            continue
        cap = min(remaining, sum(GPU_CAPS[n] for n in group)) if gpu else remaining
        records += run_worker(group, not gpu, workdir, env, cap, out)
    failures = [r for r in records if r.kind == "FAILED"]
    missed = [r for r in records if r.kind == "RESULT" and r.fields.get("ok") is False]
    stages_failed = {r.fields["stage"] for r in failures} | {r.fields["stage"] for r in missed}
    emit(
        Record(
            "SUMMARY",
            {
                "mode": "gpu" if gpu else "cpu-smoke",
                "stages_ok": len([n for n in runnable if n not in stages_failed]),
                "skipped": len([r for r in records if r.kind == "SKIPPED" and "part" not in r.fields]),
                "failed": len(stages_failed),
                "bounds_missed": len(missed),
                "seconds": round(time.monotonic() - start, 1),
            },
        )
    )
    if not (args.keep or args.workdir):
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if stages_failed else 0


def _device_name(torch) -> str:
    props = torch.cuda.get_device_properties(0)
    return f"{props.name} ({props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor})"


if __name__ == "__main__":
    sys.exit(main())
