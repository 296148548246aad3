"""DAVIS J and F over 720p videos: ``omni_r1_verl.metrics.j_and_f`` against two baselines measured in the same run.

Baselines, both one frame at a time as the official evaluations run:

* ``reference``: :mod:`omni_r1_verl.metrics.reference` (written from the DAVIS definition) with ``cv2.dilate`` and a
  ``disk(r)`` kernel, the operations and cost of the official ``davis2017/metrics.py`` (``db_eval_iou`` +
  ``db_eval_boundary``) that MeViS and ReVOS evaluate with;
* ``vos-benchmark``: ``vos_benchmark.evaluator.Evaluator.feed_frame`` (PyPI ``vos-benchmark==0.1.0``).

Mask kinds (1280x720, ``--frames`` frames each, prediction and ground truth differ):

* ``smooth``: large moving ellipses, the prediction shifted and scaled (few boundary pixels);
* ``fine``: thin curved lines over the whole frame (many boundary pixels);
* ``noisy``: a blob with 10 % salt-and-pepper speckle in the prediction (boundary pixels everywhere);
* ``empty``: a third of the frames without prediction, a third without ground truth, a third with neither.

For each kind the script checks that every per-frame J and F equals the reference to 1e-6 (and vos-benchmark's
values wherever it reports one), then times the three methods interleaved, ``--repeats`` rounds, and prints medians
per frame and the speed-up of ``j_and_f`` over each baseline. Goal: >= 5x both baselines on every kind. Times are
this process's CPU time by default (every method runs on one core); ``--clock wall`` measures wall time.

Needs the ``bench`` extra (``pip install --no-deps vos-benchmark==0.1.0 opencv-python-headless==4.13.0.92
scikit-image==0.26.0``). Run on an idle machine, one thread per library::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/metrics.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from omni_r1_verl.metrics import j_and_f
from omni_r1_verl.metrics import reference as ref

H, W = 720, 1280
GOAL = 5.0


def _ellipses(frames: int, shift: float, scale: float) -> np.ndarray:
    yy, xx = np.ogrid[:H, :W]
    out = np.zeros((frames, H, W), dtype=bool)
    for t in range(frames):
        cy, cx = 300 + 2 * t + shift, 500 + 6 * t + shift
        out[t] = ((yy - cy) / (220 * scale)) ** 2 + ((xx - cx) / (330 * scale)) ** 2 < 1
        out[t] |= ((yy - 560 - shift) / (90 * scale)) ** 2 + ((xx - 1050 + 3 * t) / (120 * scale)) ** 2 < 1
    return out


def _lines(frames: int, phase: float) -> np.ndarray:
    yy, xx = np.ogrid[:H, :W]
    out = np.zeros((frames, H, W), dtype=bool)
    for t in range(frames):
        field = np.sin(xx / 23.0 + np.sin(yy / 41.0) * 2 + 0.1 * t + phase) * np.cos(yy / 17.0 - 0.05 * t)
        out[t] = np.abs(field) < 0.08
    return out


def make_kind(kind: str, frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` bool ``(frames, 720, 1280)`` videos of one mask kind."""
    rng = np.random.default_rng(seed)
    if kind == "smooth":
        return _ellipses(frames, 9.0, 1.04), _ellipses(frames, 0.0, 1.0)
    if kind == "fine":
        return _lines(frames, 0.15), _lines(frames, 0.0)
    if kind == "noisy":
        gt = _ellipses(frames, 0.0, 1.0)
        return gt ^ (rng.random(gt.shape) < 0.1), gt
    if kind == "empty":
        pred, gt = _ellipses(frames, 5.0, 1.0), _ellipses(frames, 0.0, 1.0)
        pred[0::3] = False
        gt[1::3] = False
        pred[2::3] = gt[2::3] = False
        return pred, gt
    raise ValueError(f"unknown kind {kind!r}")


KINDS = ("smooth", "fine", "noisy", "empty")


def _cv2_dilate():
    import cv2

    cv2.setNumThreads(1)  # one core for every method
    return lambda bmap, structure: cv2.dilate(bmap.astype(np.uint8), structure.astype(np.uint8))


def reference_jf(pred: np.ndarray, gt: np.ndarray, dilate) -> tuple[np.ndarray, np.ndarray]:
    return ref.video_j_and_f(pred, gt, dilate=dilate)


def vos_benchmark_jf(pred: np.ndarray, gt: np.ndarray) -> tuple[list, list, list]:
    """vos-benchmark per frame; returns ``(frame index, J, F)`` of the frames it reports (object 1 seen so far)."""
    from vos_benchmark.evaluator import Evaluator

    evaluator = Evaluator(boundary=0.008)
    frames, js, fs = [], [], []
    for t, (p, g) in enumerate(zip(pred, gt)):
        before = len(evaluator.object_iou[1])
        evaluator.feed_frame(p.astype(np.uint8), g.astype(np.uint8))
        if len(evaluator.object_iou[1]) > before:
            frames.append(t)
            js.append(evaluator.object_iou[1][-1])
            fs.append(evaluator.boundary_f[1][-1])
    return frames, js, fs


def check_values(kind: str, pred: np.ndarray, gt: np.ndarray, dilate, tol: float = 1e-6) -> None:
    """Raise if ``j_and_f`` differs from the reference, or vos-benchmark from either, by more than ``tol``."""
    j, f = j_and_f(pred, gt)
    rj, rf = reference_jf(pred, gt, dilate)
    worst = max(np.abs(j - rj).max(), np.abs(f - rf).max())
    if worst > tol:
        raise AssertionError(f"{kind}: j_and_f differs from the reference by {worst:.3g}")
    frames, vj, vf = vos_benchmark_jf(pred, gt)
    if frames:
        worst = max(np.abs(np.array(vj) - rj[frames]).max(), np.abs(np.array(vf) - rf[frames]).max())
        if worst > tol:
            raise AssertionError(f"{kind}: vos-benchmark differs from the reference by {worst:.3g}")


def _time(fn, clock) -> float:
    start = clock()
    fn()
    return clock() - start


def bench_kind(kind: str, frames: int, repeats: int, dilate, clock=time.process_time) -> dict[str, float]:
    pred, gt = make_kind(kind, frames)
    check_values(kind, pred, gt, dilate)
    methods = {
        "reference": lambda: reference_jf(pred, gt, dilate),
        "vos-benchmark": lambda: vos_benchmark_jf(pred, gt),
        "j_and_f": lambda: j_and_f(pred, gt),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):  # interleaved, so load changes hit every method alike
        for name, fn in methods.items():
            times[name].append(_time(fn, clock) / frames)
    out = {name: statistics.median(ts) for name, ts in times.items()}
    out["boundary_pixels"] = float(np.mean([ref.seg2bmap(g).sum() + ref.seg2bmap(p).sum() for p, g in zip(pred, gt)]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24, help="frames per video (default: 24)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds (default: 7)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="mask kinds to run")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: this process's CPU time (default; on a shared machine wall time mostly measures the other jobs)",
    )
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        dilate = _cv2_dilate()
        import vos_benchmark  # noqa: F401
    except ImportError as err:
        print(f"needs the bench extra (vos-benchmark, opencv-python-headless, scikit-image): {err}", file=sys.stderr)
        return 2

    print(
        f"J + F per frame at {W}x{H}, {args.frames} frames, {args.clock} time, median of {args.repeats} "
        "interleaved rounds"
    )
    print(f"{'kind':8} {'bnd px':>8} {'reference':>10} {'vos-bench':>10} {'j_and_f':>9} {'vs ref':>7} {'vs vos':>7}")
    ok = True
    for kind in args.kinds:
        r = bench_kind(kind, args.frames, args.repeats, dilate, clock)
        vs_ref, vs_vos = r["reference"] / r["j_and_f"], r["vos-benchmark"] / r["j_and_f"]
        ok &= min(vs_ref, vs_vos) >= GOAL
        print(
            f"{kind:8} {r['boundary_pixels']:8.0f} {r['reference'] * 1e3:8.2f}ms {r['vos-benchmark'] * 1e3:8.2f}ms "
            f"{r['j_and_f'] * 1e3:7.2f}ms {vs_ref:6.1f}x {vs_vos:6.1f}x"
        )
    print("values: j_and_f equals the reference (and vos-benchmark where it reports) to 1e-6 on every frame")
    print(f"goal: >= {GOAL:.0f}x both baselines on every kind -> {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
