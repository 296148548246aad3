"""Does the demo recipe learn? ``main_ppo`` on the CPU demo for N steps, several seeds, first vs last steps.

Each seed is one real run of ``omni-r1 demo``'s ``main_ppo`` command (the warm-started tiny policy, System 2 on
CPU, the ``omni_r1`` reward) with that seed for the data order and the per-sample clip and prompt draws
(``data.seed``, ``data.omni_r1.seed``). Per seed it takes the mean over the first and the last ``--window`` steps
of the step score (``critic/score/mean``) and of each reward term (``omni_r1/<term>``, the step means the recipe's
replay buffer logs); across seeds it prints their mean and spread (max - min), the change, and whether the change
exceeds the spread. Terms that never moved in any run are named, with the likely reason.

A step's score depends as much on which rows the step drew (Ref-AVS answers parse far more often than VOS ones) as
on the policy, so each run also validates on the demo's held-out rows before the first and after the last step
(greedy, the same rows both times): the ``val`` row compares the policy itself.

usage:
  python benchmarks/learning.py [--steps 20] [--seeds 0 1 2] [--window 5] [--out DIR] [OVERRIDES...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from omni_r1_verl.demo import demo_overrides, prepare_demo
from omni_r1_verl.platform.cpu_run import run_command

#: ``(label, metric)`` of each row: the step score, then the terms.
ROWS: tuple[tuple[str, str], ...] = (
    ("score (total reward)", "critic/score/mean"),
    ("format", "omni_r1/format_reward"),
    ("keyframe R_K", "omni_r1/keyframe_reward"),
    ("alignment R_A", "omni_r1/alignment_reward"),
    ("consistency R_G", "omni_r1/consistency_reward"),
    ("Ref-AVS detection", "omni_r1/detection_reward"),
    ("length", "omni_r1/length_reward"),
    ("parsed share", "omni_r1/answer_parsed"),
    ("System 2 ran", "omni_r1/detail_ran"),
)
#: Why a term can stay at 0 on the tiny CPU run.
STILL_REASONS = {
    "omni_r1/alignment_reward": "needs System 2 on a parsed video answer and a grounding box overlapping the target",
    "omni_r1/consistency_reward": "needs SAM2 masks from those boxes (the tiny SAM2 is random)",
    "omni_r1/length_reward": "needs a group with at least min_qualified rollouts of high accuracy",
    "omni_r1/detection_reward": "needs a grounding box overlapping the Ref-AVS target",
}


#: Key of the validation score in the per-seed table (not a verl metric name).
VAL = "val"


def _validation(metrics: dict[int, dict[str, float]], step: int) -> float | None:
    """Mean of verl's ``val-aux/<source>/score/mean@N`` (the total reward) over the data sources at ``step``."""
    values = [v for k, v in metrics.get(step, {}).items() if k.startswith("val-aux/") and "/score/mean@" in k]
    return statistics.fmean(values) if values else None


def _window_means(metrics: dict[int, dict[str, float]], steps: list[int], key: str) -> float | None:
    values = [metrics[s][key] for s in steps if key in metrics[s]]
    return statistics.fmean(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after the demo's)")
    parser.add_argument("--steps", type=int, default=20, help="GRPO steps per run (default: 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="run seeds (default: 0 1 2)")
    parser.add_argument("--window", type=int, default=5, help="steps averaged at each end (default: 5)")
    parser.add_argument("--out", type=Path, default=None, help="demo directory (default: a temporary one)")
    parser.add_argument("--tiny-dir", default=None, help="reuse an `omni-r1 make-tiny` directory")
    args = parser.parse_args(argv)
    if args.steps < 2 * args.window:
        parser.error(f"--steps must be at least 2 x --window ({2 * args.window})")

    out = args.out or Path(tempfile.mkdtemp(prefix="omni-r1-learning-"))
    start = time.perf_counter()
    paths = prepare_demo(out, tiny_dir=args.tiny_dir)
    print(f"assets and data ready in {time.perf_counter() - start:.0f} s ({out})", flush=True)
    first = list(range(1, args.window + 1))
    last = list(range(args.steps - args.window + 1, args.steps + 1))
    per_seed: dict[int, dict[str, tuple[float | None, float | None]]] = {}
    for seed in args.seeds:
        run_dir = out / f"seed{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "verl.trainer.main_ppo",
            *demo_overrides(paths, steps=args.steps),
            f"data.seed={seed}",
            f"data.omni_r1.seed={seed}",
            f"trainer.default_local_dir={run_dir / 'checkpoints'}",
            "trainer.save_freq=-1",
            # The held-out rows, before the first step and after the last (greedy: the policy itself).
            "trainer.val_before_train=true",
            f"trainer.test_freq={args.steps}",
            *args.overrides,
        ]
        result = run_command(command, cwd=run_dir, log_path=run_dir / "main_ppo.log")
        if result.returncode != 0 or result.steps[-1:] != [args.steps]:
            print(result.log[-4000:])
            last = result.steps[-1] if result.steps else 0
            print(
                f"seed {seed}: main_ppo exited {result.returncode} after step {last} of {args.steps}; "
                f"log: {run_dir / 'main_ppo.log'}"
            )
            return 1
        per_seed[seed] = {
            key: (_window_means(result.metrics, first, key), _window_means(result.metrics, last, key))
            for _, key in ROWS
        }
        per_seed[seed][VAL] = (_validation(result.metrics, 0), _validation(result.metrics, args.steps))
        score = per_seed[seed]["critic/score/mean"]
        print(f"seed {seed}: {args.steps} steps in {result.wall_s:.0f} s; score {score[0]:.3f} -> {score[1]:.3f}")

    print()
    header = f"first {args.window}"
    print(
        f"{'mean over seeds':24s}{header:>10s}{'last ' + str(args.window):>10s}{'change':>10s}{'spread':>10s}  learns"
    )
    still = []
    learned = False
    for label, key in (*ROWS, ("val score (held out)", VAL)):
        pairs = [per_seed[s][key] for s in args.seeds]
        if any(a is None or b is None for a, b in pairs):
            print(f"{label:24s}{'-':>10s}{'-':>10s}{'-':>10s}{'-':>10s}  (not reported)")
            continue
        firsts, lasts = [a for a, _ in pairs], [b for _, b in pairs]
        change = statistics.fmean(lasts) - statistics.fmean(firsts)
        # Seed-to-seed spread: the larger of the two windows' ranges.
        spread = max(max(firsts) - min(firsts), max(lasts) - min(lasts))
        verdict = "yes" if change > spread else "no"
        if key == VAL:
            learned = change > spread
        if all(v == 0.0 for v in firsts + lasts):
            verdict = "stays 0"
            still.append(key)
        print(
            f"{label:24s}{statistics.fmean(firsts):>10.3f}{statistics.fmean(lasts):>10.3f}{change:>+10.3f}"
            f"{spread:>10.3f}  {verdict}"
        )
    for key in still:
        print(f"  {key} stayed 0 in every run: {STILL_REASONS.get(key, 'no run produced it')}")
    print(f"\ntotal wall {time.perf_counter() - start:.0f} s for {len(args.seeds)} seeds x {args.steps} steps")
    print("goal: the held-out score after training above the one before by more than the seed spread:", learned)
    return 0 if learned else 1


if __name__ == "__main__":
    sys.exit(main())
