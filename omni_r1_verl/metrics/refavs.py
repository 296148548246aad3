"""Ref-AVS (Wang et al., ECCV 2024): J (mIoU), F (saliency F-measure) and the null-set S, as Ref-AVS computes them.

Source: GeWu-Lab/Ref-AVS ``utils/metric/utility.py`` (``mask_iou``, ``Eval_Fmeasure`` / ``_eval_pr``, taken from
AVSBench, and ``metric_s_for_null``), aggregated by ``scripts/train.py`` ``test`` over the batches of
``run_refavs.py`` (test ``DataLoader``, ``batch_size=4`` videos of 10 frames, ``shuffle=False``, so in
``metadata.csv`` order):

* J of a frame: IoU of ``pred > 0.4`` with the GT; a frame with empty GT scores the IoU of the complements, the
  share of pixels left unpredicted. A batch's mIoU is the mean over its frames.
* F of a batch: for each frame with non-empty GT, the curve ``F_beta(t) = (1 + b) P R / (b P + R)``, ``b = 0.3``,
  over 255 thresholds ``t = linspace(0, 1 - 1e-10, 255)`` (pixel predicted when ``p >= t``; ``P = TP / (pred +
  1e-20)``, ``R = TP / (pos + 1e-20)``, NaN -> 0); the curves are averaged over those frames and the maximum is the
  batch's F (0 when the batch has no such frame). Note that the threshold ``t = 0`` predicts every pixel, so an
  empty prediction still gets ``F = 1.3 p / (0.3 p + 1)`` for GT area fraction ``p``.
* S of a batch (null subset): ``sqrt(#{p > 0.5} / #pixels)`` over all its frames (lower is better).
* A subset's J, F and S are the means over its batches (``AverageMeter``: every batch weighs the same, the last
  smaller one too). Omni-R1 Table 1 reports seen / unseen J, F and their mean J&F.

Inputs are probabilities (the official functions apply ``sigmoid`` to logits first), so binary masks can be passed
as they are; values are computed in float64 (the official code runs in float32: differences ~1e-7). The official
loader scores at 256x256 (``cv2.resize`` of the GT PNGs, then ``> 0``); resizing is the caller's choice.

Streaming: :class:`RefAVSAccumulator` turns one sample into a record carrying sums (IoU sum, F-curve sum as runs,
pixel counts) and the sample's ``order`` in ``metadata.csv``; :func:`refavs_table` rebuilds the official batches
from the records, whatever order they come in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from omni_r1_verl.metrics.masks import check_pair
from omni_r1_verl.metrics.records import check_records, mean
from omni_r1_verl.scoring.consistency import overlap_counts

#: Ref-AVS's ``exp_type`` of the test splits (converters/refavs.py: test_s, test_u, test_n).
NULL_SUBSET = "null"
#: Videos per batch of the official test loop.
BATCH_SIZE = 4


def _stack(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    pred, gt, single = check_pair(pred, gt)
    return pred, gt != 0, single


def refavs_j(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.4) -> np.ndarray:
    """Ref-AVS J per frame (``mask_iou`` is its mean over a batch's frames).

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        gt: Binary ground truth, same shape.
        threshold: A pixel is predicted when its probability is above this.

    Returns:
        J per frame, shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _stack(pred, gt)
    inter, union = overlap_counts(pred > threshold, gt)
    no_obj = overlap_counts(gt, gt)[0] == 0
    pixels = pred.shape[-1] * pred.shape[-2]
    # Empty GT: the union is the predicted area, and J is the share of true-negative pixels.
    inter = np.where(no_obj, pixels - union, inter).astype(np.float64)
    union = np.where(no_obj, pixels, union).astype(np.float64)
    j = inter / (union + 1e-7)
    return j[0] if single else j


def refavs_f_curves(pred: np.ndarray, gt: np.ndarray, num_thresholds: int = 255, beta2: float = 0.3) -> np.ndarray:
    """``_eval_pr`` F-beta curves of the frames whose GT is not empty.

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        gt: Binary ground truth, same shape.
        num_thresholds: Thresholds ``linspace(0, 1 - 1e-10, num_thresholds)``; predicted means ``p >= t``.
        beta2: beta^2 of the F-measure.

    Returns:
        ``(k, num_thresholds)`` curves, one per frame with GT (in frame order).
    """
    pred, gt, _ = _stack(pred, gt)
    keep = gt.reshape(len(gt), -1).any(axis=1)
    pred, gt = pred[keep], gt[keep]
    n = len(pred)
    if n == 0:
        return np.zeros((0, num_thresholds))
    positives = gt.reshape(n, -1).sum(axis=1, dtype=np.float64)[:, None]
    if pred.dtype == bool or np.isin(pred, (0, 1)).all():
        # Binary: t = 0 predicts every pixel, every other threshold (0 < t < 1) exactly the mask.
        mask = pred != 0
        tp = np.empty((n, num_thresholds))
        predicted = np.empty((n, num_thresholds))
        tp[:, 0], predicted[:, 0] = positives[:, 0], pred[0].size
        tp[:, 1:] = overlap_counts(mask, gt)[0][:, None]
        predicted[:, 1:] = mask.reshape(n, -1).sum(axis=1)[:, None]
    else:
        thresholds = np.linspace(0.0, 1.0 - 1e-10, num_thresholds)
        # Pixel p is predicted at thresholds 0..k(p)-1, k(p) = number of thresholds <= p.
        k = np.searchsorted(thresholds, pred.reshape(n, -1).astype(np.float64), side="right")
        bins = (k + np.arange(n)[:, None] * (num_thresholds + 1)).reshape(-1)
        size = n * (num_thresholds + 1)
        hist_all = np.bincount(bins, minlength=size).reshape(n, -1)
        hist_tp = np.bincount(bins, weights=gt.reshape(-1).astype(np.float64), minlength=size).reshape(n, -1)
        # predicted(t_i) = pixels with k > i: reverse cumulative sums, dropping the k = 0 bin.
        predicted = np.cumsum(hist_all[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(np.float64)
        tp = np.cumsum(hist_tp[:, ::-1], axis=1)[:, ::-1][:, 1:]
    precision = tp / (predicted + 1e-20)
    recall = tp / (positives + 1e-20)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (1 + beta2) * precision * recall / (beta2 * precision + recall)
    return np.nan_to_num(f, nan=0.0)


def refavs_f(pred: np.ndarray, gt: np.ndarray, num_thresholds: int = 255, beta2: float = 0.3) -> float:
    """Ref-AVS ``Eval_Fmeasure`` of a set of frames: the mean curve's maximum (0 when every GT frame is empty).

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        gt: Binary ground truth, same shape.
        num_thresholds: Number of thresholds.
        beta2: beta^2 of the F-measure (0.3 weighs precision more).

    Returns:
        The F-score.
    """
    curves = refavs_f_curves(pred, gt, num_thresholds, beta2)
    return float(curves.mean(axis=0).max()) if len(curves) else 0.0


def refavs_null_s(pred: np.ndarray, threshold: float = 0.5) -> float:
    """Ref-AVS null-subset S of a set of frames: ``sqrt(predicted pixels / all pixels)`` (lower is better).

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        threshold: A pixel is predicted when its probability is above this.

    Returns:
        S in [0, 1].
    """
    pred = np.asarray(pred)
    if pred.size == 0:
        raise ValueError("empty prediction")
    return float(math.sqrt(np.count_nonzero(pred > threshold) / pred.size))


def _runs(curve: np.ndarray) -> list[list[float]]:
    """``[[value, count], ...]`` runs of equal values (curves of binary predictions are two runs)."""
    out: list[list[float]] = []
    for value in curve.tolist():
        if out and out[-1][0] == value:
            out[-1][1] += 1
        else:
            out.append([value, 1])
    return out


def _unruns(runs: list[list[float]]) -> np.ndarray:
    return np.concatenate([np.full(int(count), float(value)) for value, count in runs]) if runs else np.zeros(0)


class RefAVSAccumulator:
    """Ref-AVS sums of one sample (a video and an expression), accumulated over frame chunks.

    Args:
        num_thresholds: F-measure thresholds.
        beta2: F-measure beta^2.
        j_threshold: Probability above which a pixel counts for J.
        s_threshold: Probability above which a pixel counts for S.
    """

    def __init__(
        self, num_thresholds: int = 255, beta2: float = 0.3, j_threshold: float = 0.4, s_threshold: float = 0.5
    ) -> None:
        self.num_thresholds, self.beta2 = num_thresholds, beta2
        self.j_threshold, self.s_threshold = j_threshold, s_threshold
        self._j: list[float] = []
        self._curves: list[np.ndarray] = []
        self._pred_pixels = 0
        self._pixels = 0

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add frames.

        Args:
            pred: Probabilities or binary masks ``(T, H, W)`` (or ``(H, W)``).
            gt: Ground truth of the same frames: ``(T, H, W)``, or per object ``(n_obj, T, H, W)`` (their union is
                scored; ``n_obj = 0`` for a null expression).
        """
        pred, gt = np.asarray(pred), np.asarray(gt)
        if pred.ndim == 2:
            pred, gt = pred[None], gt[..., None, :, :]
        if gt.ndim == 4:
            gt = np.logical_or.reduce(gt != 0, axis=0) if len(gt) else np.zeros(pred.shape, dtype=bool)
        self._j.extend(refavs_j(pred, gt, self.j_threshold).tolist())
        self._curves.extend(refavs_f_curves(pred, gt, self.num_thresholds, self.beta2))
        self._pred_pixels += int(np.count_nonzero(pred > self.s_threshold))
        self._pixels += int(pred.size)

    def result(self) -> dict:
        """The sample's record: sums for :func:`refavs_table` and the sample's own J, F, S (for inspection).

        Raises:
            ValueError: If no frame was added.
        """
        if not self._j:
            raise ValueError("no frames were added")
        curve_sum = (
            np.array([math.fsum(column) for column in zip(*self._curves)])
            if self._curves
            else np.zeros(self.num_thresholds)
        )
        return {
            "frames": len(self._j),
            "J": mean(self._j),
            "F": float((curve_sum / len(self._curves)).max()) if self._curves else 0.0,
            "S": math.sqrt(self._pred_pixels / self._pixels),
            "j_sum": math.fsum(self._j),
            "f_frames": len(self._curves),
            "f_curve": _runs(curve_sum),
            "pred_pixels": self._pred_pixels,
            "pixels": self._pixels,
        }


def failed_refavs_scores(frames: int, pixels: int, gt_frames: int, num_thresholds: int = 255) -> dict:
    """The record of a sample without a usable prediction: the worst value of each figure (J = F = 0, S = 1).

    Args:
        frames: Frames of the sample.
        pixels: Pixels over those frames.
        gt_frames: Frames whose GT is not empty (they count for F, with a zero curve).
        num_thresholds: F-measure thresholds.
    """
    return {
        "frames": frames,
        "J": 0.0,
        "F": 0.0,
        "S": 1.0,
        "j_sum": 0.0,
        "f_frames": gt_frames,
        "f_curve": [[0.0, num_thresholds]],
        "pred_pixels": pixels,
        "pixels": pixels,
    }


_FIELDS = ("subset", "order", "frames", "j_sum", "f_frames", "f_curve", "pred_pixels", "pixels")


def refavs_table(records: Iterable[Mapping[str, Any]], batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Ref-AVS figures per subset, over the official test batches.

    Args:
        records: One per sample: ``key``, ``subset`` (``"seen"``, ``"unseen"``, ``"null"``, ...), ``order`` (the
            sample's position in ``metadata.csv``; batches are consecutive samples in that order) and the sums of
            :meth:`RefAVSAccumulator.result`.
        batch_size: Samples per batch (4 officially; 1 scores every video on its own).

    Returns:
        ``{subset: {"J", "F", "JF", "count", "batches"}}`` (J, F, J&F in percent) and for the null subset
        ``{"S", "count", "batches"}`` (S as a fraction, lower is better).
    """
    rows = check_records(records, _FIELDS)
    table: dict[str, Any] = {}
    for subset in sorted({str(r["subset"]) for r in rows}):
        ordered = sorted((r for r in rows if str(r["subset"]) == subset), key=lambda r: (int(r["order"]), r["key"]))
        batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
        if subset == NULL_SUBSET:
            s = [math.sqrt(sum(int(r["pred_pixels"]) for r in b) / sum(int(r["pixels"]) for r in b)) for b in batches]
            table[subset] = {"S": mean(s), "count": len(ordered), "batches": len(batches)}
            continue
        j, f = [], []
        for batch in batches:
            j.append(100 * math.fsum(float(r["j_sum"]) for r in batch) / sum(int(r["frames"]) for r in batch))
            gt_frames = sum(int(r["f_frames"]) for r in batch)
            curves = [_unruns(r["f_curve"]) for r in batch if int(r["f_frames"])]
            curve = np.array([math.fsum(column) for column in zip(*curves)]) if curves else np.zeros(1)
            f.append(100 * float((curve / gt_frames).max()) if gt_frames else 0.0)
        mj, mf = mean(j), mean(f)
        table[subset] = {"J": mj, "F": mf, "JF": (mj + mf) / 2, "count": len(ordered), "batches": len(batches)}
    return table
