"""Run stages in this process and print their records (``python -m benchmarks.gpu_check.worker``, by the runner).

Records go to stdout as they are made (one line each, :func:`benchmarks.gpu_check.report.to_wire`), so a stage that
dies or times out still leaves what it measured; tracebacks go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

import torch

from benchmarks.gpu_check.report import Record, failed, to_wire
from benchmarks.gpu_check.stages import STAGES


def emit(record: Record) -> None:
    """Print a record for the runner."""
    print(to_wire(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the named stages.

    Args:
        argv: ``--stages a,b --workdir DIR [--cpu-smoke]``.

    Returns:
        0 (stage failures are records, not exit codes).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--cpu-smoke", action="store_true")
    args = parser.parse_args(argv)
    gpu = not args.cpu_smoke
    if not gpu:
        torch.set_num_threads(1)  # tiny sizes: threads only contend (10-100x slower on a loaded machine)
    try:
        from benchmarks.gpu_check import verl_kernels

        verl_kernels.load()  # verl's kernels without its package imports (Ray), for every stage alike
    except ModuleNotFoundError:
        pass
    for name in args.stages.split(","):
        start = time.perf_counter()
        try:
            for record in STAGES[name].run(gpu, args.workdir):
                emit(record)
        except Exception as err:  # noqa: BLE001 - any failure of a stage is its FAILED record
            traceback.print_exc()
            emit(failed(name, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]))
        emit(Record("DONE", {"stage": name, "seconds": round(time.perf_counter() - start, 1)}))
        if gpu and torch.cuda.is_available():
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
