"""CPU end-to-end budget: ``omni-r1 demo`` (2 GRPO steps, batch 2, n=2, tiny Omni thinker, System 2 on CPU).

Prints the per-phase breakdown verl measures (generation, old log-prob, reference, update, reward), the wall time
including Ray start, the peak summed PSS of every process of the run, and the generator-vs-trainer probability
difference, each as a ratio to the issue's budget (5 min, 8 GB, 1e-5): a ratio below 1 meets it.

usage:
  python benchmarks/cpu_e2e.py [--out DIR] [--trainer v1|legacy] [--tiny-dir DIR] [OVERRIDES...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from omni_r1_verl.demo import demo_overrides, prepare_demo
from omni_r1_verl.platform.cpu_run import run_command

BUDGET_WALL_S = 300.0
BUDGET_RSS_BYTES = 8 * 1024**3
BUDGET_PROBS_DIFF = 1e-5

#: verl's timing metrics of one step, by phase.
PHASES = {
    "generation (incl. System 2 + reward in the agent loop)": "timing_s/gen",
    "old log-prob": "timing_s/old_log_prob",
    "reference log-prob": "timing_s/ref",
    "update": "timing_s/update_actor",
    "weight sync": "timing_s/update_weights",
    "reward (trainer side)": "timing_s/reward",
    "step": "timing_s/step",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    parser.add_argument("--out", type=Path, default=None, help="demo directory (default: a temporary one)")
    parser.add_argument("--trainer", choices=("v1", "legacy"), default="v1")
    parser.add_argument("--tiny-dir", default=None, help="reuse an `omni-r1 make-tiny` directory")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="omni-r1-bench-"))
    paths = prepare_demo(out, tiny_dir=args.tiny_dir)
    command = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        *demo_overrides(paths, use_v1=args.trainer == "v1"),
        *args.overrides,
    ]
    result = run_command(command, cwd=paths.root, log_path=paths.root / "bench.log")
    if result.returncode != 0:
        print(result.log[-5000:])
        print(f"main_ppo failed with exit code {result.returncode}; full log: {paths.root / 'bench.log'}")
        return 1

    if not result.steps:
        print(result.log[-3000:])
        print(f"main_ppo trained no step; full log: {paths.root / 'bench.log'}")
        return 1
    print(f"trainer path: {args.trainer}; steps: {result.steps}")
    print(f"{'phase':58s}" + "".join(f"{'step ' + str(s):>12s}" for s in result.steps))
    for name, key in PHASES.items():
        cells = [result.metrics[s].get(key) for s in result.steps]
        if all(c is None for c in cells):
            continue
        print(f"{name:58s}" + "".join(f"{c:>11.2f}s" if c is not None else f"{'-':>12s}" for c in cells))
    diff = max(result.metric(s, "training/rollout_probs_diff_max") for s in result.steps)
    rows = [
        ("wall, Ray start included", result.wall_s, BUDGET_WALL_S, f"{result.wall_s:.1f} s", "5 min"),
        (
            "peak memory (PSS), all processes",
            result.peak_pss_bytes,
            BUDGET_RSS_BYTES,
            f"{result.peak_pss_bytes / 1024**3:.2f} GB",
            "8 GB",
        ),
        ("generator vs trainer prob. diff (max)", diff, BUDGET_PROBS_DIFF, f"{diff:.2e}", "1e-5"),
    ]
    print()
    print(f"{'budget':42s}{'measured':>14s}{'budget':>10s}{'ratio':>8s}")
    for name, value, budget, shown, budget_shown in rows:
        print(f"{name:42s}{shown:>14s}{budget_shown:>10s}{value / budget:>8.2f}")
    print(
        f"(peak processes: {result.peak_processes}; summed RSS {result.peak_rss_bytes / 1024**3:.2f} GB counts the "
        "shared libraries once per process; PSS splits shared pages between the processes that map them)"
    )
    print("\nPSS by process at the peak:")
    for label, pss in result.peak_breakdown:
        print(f"  {pss / 1024**2:9.0f} MB  {label}")
    return 0 if all(value <= budget for _, value, budget, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
