"""A stage worker that misbehaves on purpose (``--stages hang`` sleeps, ``--stages crash`` exits 3)."""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks.gpu_check.report import Record, result, to_wire

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages")
    parser.add_argument("--workdir")
    parser.add_argument("--cpu-smoke", action="store_true")
    args = parser.parse_args()
    print(to_wire(result("first", "value", 1.0, "x")), flush=True)
    print(to_wire(Record("DONE", {"stage": "first", "seconds": 0.0})), flush=True)
    print("a line that is not a record", flush=True)
    if "hang" in args.stages:
        time.sleep(600)
    print("boom", file=sys.stderr, flush=True)
    sys.exit(3)
