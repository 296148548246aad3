"""Segmentation metrics with the official benchmarks' conventions, vectorised over frames (numpy / scipy).

Every function takes ``pred`` first, then ``gt`` (the official DAVIS functions take the annotation first), and
accepts one frame ``(H, W)`` or a stack ``(F, H, W)``.

* :func:`region_similarity`: DAVIS J (``db_eval_iou``): per-frame IoU; a frame with an empty union scores 1.
* :func:`boundary_f`: DAVIS F (``db_eval_boundary``, ``bound_th = 0.008``): boundary maps by the
  Martin et al. ``seg2bmap`` rule, matched within a disk of radius ``ceil(bound_th * ||(H, W)||)`` pixels;
  P = 1, R = 0 without predicted boundary, P = 0, R = 1 without GT boundary, F = 1 when both are empty.
* :func:`revos_robustness`: ReVOS R: ``max(1 - |pred AND NOT gt| / (sum(foreground) + 1e-6), 0)`` per frame.
* :func:`refavs_j`, :func:`refavs_f`, :func:`refavs_null_s`: Ref-AVS ``utility.py`` (``mask_iou``,
  ``Eval_Fmeasure``, ``metric_s_for_null``). Those take logits; these take probabilities (apply the sigmoid
  first), so binary masks can be passed as they are.

Benchmark J&F is the mean over frames of J, and of F, averaged; per-expression scores are then averaged.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from omni_r1_verl.scoring.consistency import overlap_counts

#: DAVIS boundary tolerance, as a fraction of the image diagonal.
BOUND_TH = 0.008


def _stack(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ")
    if pred.ndim not in (2, 3):
        raise ValueError(f"masks must be (H, W) or (F, H, W), got {pred.shape}")
    single = pred.ndim == 2
    return (pred[None], gt[None], True) if single else (pred, gt, False)


def _out(values: np.ndarray, single: bool) -> np.ndarray:
    return values[0] if single else values


def _without_void(mask: np.ndarray, void: np.ndarray | None) -> np.ndarray:
    mask = mask.astype(bool, copy=False)
    if void is None:
        return mask
    void = np.asarray(void, dtype=bool).reshape(mask.shape)
    return mask & ~void


def region_similarity(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> np.ndarray:
    """DAVIS region similarity J per frame.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``; non-zero is foreground.
        gt: Ground-truth masks, same shape.
        void: Optional pixels to ignore, same shape.

    Returns:
        J per frame, shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _stack(pred, gt)
    void = None if void is None else np.asarray(void).reshape(pred.shape)
    inter, union = overlap_counts(_without_void(pred, void), _without_void(gt, void))
    j = np.ones(inter.shape, dtype=np.float64)
    np.divide(inter, union, out=j, where=union > 0)
    return _out(j, single)


def boundary_map(masks: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundaries of each frame (DAVIS ``seg2bmap`` at full resolution).

    A pixel is a boundary pixel when it differs from its east, south or south-east neighbour (the last row
    compares east only, the last column south only, the bottom-right pixel never is one).

    Args:
        masks: ``(F, H, W)`` masks.

    Returns:
        ``(F, H, W)`` bool boundary maps.
    """
    seg = np.asarray(masks).astype(bool, copy=False)
    b = np.zeros(seg.shape, dtype=bool)
    core = seg[:, :-1, :-1]
    b[:, :-1, :-1] = (core ^ seg[:, :-1, 1:]) | (core ^ seg[:, 1:, :-1]) | (core ^ seg[:, 1:, 1:])
    b[:, :-1, -1] = seg[:, :-1, -1] ^ seg[:, 1:, -1]
    b[:, -1, :-1] = seg[:, -1, :-1] ^ seg[:, -1, 1:]
    return b


def boundary_radius(height: int, width: int, bound_th: float = BOUND_TH) -> float:
    """DAVIS boundary tolerance in pixels.

    Args:
        height: Frame height.
        width: Frame width.
        bound_th: Fraction of the diagonal when < 1, else a radius in whole pixels.

    Returns:
        The disk radius.

    Raises:
        ValueError: For a non-positive or fractional pixel radius.
    """
    if bound_th <= 0:
        raise ValueError(f"bound_th must be positive, got {bound_th}")
    if bound_th >= 1:
        if not float(bound_th).is_integer():
            raise ValueError(f"a pixel bound_th must be a whole number of pixels, got {bound_th}")
        return float(bound_th)
    return float(math.ceil(bound_th * math.hypot(height, width)))


def _extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` inclusive extent of the foreground over all frames, ``None`` when empty."""
    f, h, w = mask.shape
    if w % 8 == 0:  # OR-reduce 8 pixels per uint64 word instead of one byte at a time
        words = np.ascontiguousarray(mask).view(np.uint64)
        rows = (words != 0).any(axis=(0, 2))
        cols = np.bitwise_or.reduce(np.bitwise_or.reduce(words, axis=0), axis=0).view(np.uint8) != 0
    else:
        rows, cols = mask.any(axis=(0, 2)), mask.any(axis=(0, 1))
    ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
    if len(ys) == 0:
        return None
    return int(ys[0]), int(ys[-1]), int(xs[0]), int(xs[-1])


def _nonzero_flat(mask: np.ndarray) -> np.ndarray:
    """Flat indices of the set pixels, scanning 8 pixels per uint64 word (boundaries are sparse)."""
    flat = np.ascontiguousarray(mask).reshape(-1)
    pad = -flat.size % 8
    if pad:
        flat = np.concatenate([flat, np.zeros(pad, dtype=bool)])
    words = flat.view(np.uint64)
    hits = np.flatnonzero(words)
    word, byte = np.nonzero(words[hits].view(np.uint8).reshape(-1, 8))
    return hits[word] * 8 + byte


def _frame_points(bmap: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Boundary pixels of all frames as 2-D points, frames laid side by side ``spacing`` apart in x."""
    f, y, x = np.unravel_index(_nonzero_flat(bmap), bmap.shape)
    return np.column_stack((y, x + f * spacing)).astype(np.float64), f


def _matched_per_frame(points: np.ndarray, frames: np.ndarray, other: np.ndarray, radius: float, n: int):
    """Per frame, how many ``points`` have a point of ``other`` within ``radius`` (Euclidean, inclusive)."""
    if len(points) == 0 or len(other) == 0:
        return np.zeros(n, dtype=np.int64)
    tree = cKDTree(other, balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(points, k=1, distance_upper_bound=radius + 0.5)
    return np.bincount(frames[dist <= radius + 1e-9], minlength=n)


def boundary_f(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None, bound_th: float = BOUND_TH
) -> np.ndarray:
    """DAVIS boundary F-measure per frame.

    A predicted boundary pixel is matched when a GT boundary pixel of the same frame lies within the disk
    ``{dx^2 + dy^2 <= r^2}`` around it (the DAVIS dilation by ``disk(r)``), and vice versa.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``.
        gt: Ground-truth masks, same shape.
        void: Optional pixels to ignore (removed from both masks before extracting boundaries).
        bound_th: Tolerance (see :func:`boundary_radius`).

    Returns:
        F per frame, shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _stack(pred, gt)
    void = None if void is None else np.asarray(void).reshape(pred.shape)
    n, h, w = pred.shape
    radius = boundary_radius(h, w, bound_th)
    pred, gt = _without_void(pred, void), _without_void(gt, void)
    # Boundaries only occur within one pixel of the foreground: crop both stacks to the joint extent (plus a
    # one-pixel margin, so the crop's own last row and column follow the interior rule unless they are the
    # image's), which leaves every boundary pixel unchanged.
    extents = [e for e in (_extent(pred), _extent(gt)) if e is not None]
    if extents:
        y0, x0 = max(min(e[0] for e in extents) - 1, 0), max(min(e[2] for e in extents) - 1, 0)
        y1, x1 = min(max(e[1] for e in extents) + 2, h), min(max(e[3] for e in extents) + 2, w)
        pred, gt = pred[:, y0:y1, x0:x1], gt[:, y0:y1, x0:x1]
    fg_b, gt_b = boundary_map(pred), boundary_map(gt)
    spacing = w + 2 * radius + 2
    fg_pts, fg_frames = _frame_points(fg_b, spacing)
    gt_pts, gt_frames = _frame_points(gt_b, spacing)
    n_fg = np.bincount(fg_frames, minlength=n)
    n_gt = np.bincount(gt_frames, minlength=n)
    fg_match = _matched_per_frame(fg_pts, fg_frames, gt_pts, radius, n)
    gt_match = _matched_per_frame(gt_pts, gt_frames, fg_pts, radius, n)

    precision = np.divide(fg_match, n_fg, out=np.zeros(n), where=n_fg > 0)
    recall = np.divide(gt_match, n_gt, out=np.zeros(n), where=n_gt > 0)
    precision[(n_fg == 0) & (n_gt > 0)], recall[(n_fg == 0) & (n_gt > 0)] = 1.0, 0.0
    precision[(n_fg > 0) & (n_gt == 0)], recall[(n_fg > 0) & (n_gt == 0)] = 0.0, 1.0
    both_empty = (n_fg == 0) & (n_gt == 0)
    precision[both_empty], recall[both_empty] = 1.0, 1.0
    total = precision + recall
    f = np.divide(2 * precision * recall, total, out=np.zeros(n), where=total > 0)
    return _out(f, single)


def revos_robustness(pred: np.ndarray, gt: np.ndarray, foreground: np.ndarray, pred_value: int = 1) -> np.ndarray:
    """ReVOS robustness R per frame: how little the prediction spills outside the target, relative to the
    video's annotated foreground.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``; non-zero is foreground.
        gt: Ground-truth union masks, same shape.
        foreground: ReVOS foreground masks (all annotated objects of the video), same shape; summed as given,
            like the official code (pass per-pixel counts if the foreground has several layers).
        pred_value: Pixel value of a predicted foreground pixel in the official script's input: it multiplies
            the false-positive count (1 for 0/1 masks; 255 reproduces predictions read from 0/255 PNGs).

    Returns:
        R per frame in [0, 1], shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _stack(pred, gt)
    fg = np.asarray(foreground)
    if fg.shape != (pred[0].shape if single else pred.shape):
        raise ValueError(f"foreground {fg.shape} does not match the masks {pred.shape}")
    fg = fg.reshape(pred.shape)
    false_pos = overlap_counts(pred.astype(bool, copy=False), ~gt.astype(bool, copy=False))[0]
    pos = fg.sum(axis=(-2, -1), dtype=np.float64)
    r = np.maximum(1.0 - false_pos * float(pred_value) / (pos + 1e-6), 0.0)
    return _out(r, single)


def refavs_j(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.4) -> np.ndarray:
    """Ref-AVS J per frame (the official ``mask_iou`` is its mean over frames).

    A frame whose GT is empty scores the IoU of the complements: the fraction of pixels left unpredicted.

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        gt: Binary ground truth, same shape.
        threshold: A pixel is predicted when its probability is above this.

    Returns:
        J per frame, shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _stack(pred, gt)
    gt = gt.astype(bool, copy=False)
    inter, union = overlap_counts(pred > threshold, gt)
    no_obj = overlap_counts(gt, gt)[0] == 0
    pixels = pred.shape[-1] * pred.shape[-2]
    # Empty GT: the union is the predicted area, and J is the share of true-negative pixels.
    inter = np.where(no_obj, pixels - union, inter).astype(np.float64)
    union = np.where(no_obj, pixels, union).astype(np.float64)
    return _out(inter / (union + 1e-7), single)


def refavs_f(pred: np.ndarray, gt: np.ndarray, num_thresholds: int = 255, beta2: float = 0.3) -> float:
    """Ref-AVS F-score of a clip: the F_beta curve over ``num_thresholds`` thresholds in [0, 1), averaged
    over the frames whose GT is not empty, then maximised over thresholds (0 when every GT frame is empty).

    Args:
        pred: Foreground probabilities (or binary masks) ``(F, H, W)`` or ``(H, W)``.
        gt: Binary ground truth, same shape.
        num_thresholds: Thresholds ``linspace(0, 1 - 1e-10, num_thresholds)``; a pixel is predicted at
            threshold t when its probability is >= t.
        beta2: beta^2 of the F-measure (0.3 weighs precision more).

    Returns:
        The clip's F-score.
    """
    pred, gt, _ = _stack(pred, gt)
    gt = gt.astype(bool, copy=False)
    keep = gt.reshape(gt.shape[0], -1).any(axis=1)
    if not keep.any():
        return 0.0
    pred, gt = pred[keep].astype(np.float64, copy=False), gt[keep]
    n = pred.shape[0]
    thresholds = np.linspace(0.0, 1.0 - 1e-10, num_thresholds)
    # Pixel p is predicted at thresholds 0..k(p)-1, k(p) = number of thresholds <= p.
    k = np.searchsorted(thresholds, pred.reshape(n, -1), side="right")
    bins = (k + np.arange(n)[:, None] * (num_thresholds + 1)).reshape(-1)
    size = n * (num_thresholds + 1)
    hist_all = np.bincount(bins, minlength=size).reshape(n, -1)
    hist_tp = np.bincount(bins, weights=gt.reshape(-1).astype(np.float64), minlength=size).reshape(n, -1)
    # predicted(t_i) = pixels with k > i: reverse cumulative sums, dropping the k = 0 bin.
    predicted = np.cumsum(hist_all[:, ::-1], axis=1)[:, ::-1][:, 1:]
    tp = np.cumsum(hist_tp[:, ::-1], axis=1)[:, ::-1][:, 1:]
    positives = gt.reshape(n, -1).sum(axis=1, dtype=np.float64)[:, None]
    precision = tp / (predicted + 1e-20)
    recall = tp / (positives + 1e-20)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (1 + beta2) * precision * recall / (beta2 * precision + recall)
    f = np.nan_to_num(f, nan=0.0)
    return float(f.mean(axis=0).max())


def refavs_null_s(pred: np.ndarray, threshold: float = 0.5) -> float:
    """Ref-AVS null-subset S: ``sqrt(predicted pixels / all pixels)`` over the whole clip (lower is better).

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
