"""DAVIS region similarity J and boundary accuracy F, exact and vectorised over frames.

Definitions (Perazzi et al., CVPR 2016; ``davis2017/metrics.py`` of davisvideochallenge/davis2017-evaluation, the
code MeViS ``tools/eval_mevis.py`` and ReVOS / VISA ``tools/eval_revos.py`` import):

* J: ``|pred AND gt| / |pred OR gt|`` per frame; a frame whose union is empty scores 1.
* F: boundary maps by the Martin et al. ``seg2bmap`` rule; a boundary pixel of one map is matched when the other
  map has a boundary pixel within the disk ``dx^2 + dy^2 <= r^2``, ``r = ceil(bound_th * sqrt(H^2 + W^2))``
  (``bound_th = 0.008``); precision and recall are the matched fractions, ``F = 2PR / (P + R)`` (0 when
  ``P + R = 0``); no predicted boundary gives P = 1, R = 0, no GT boundary P = 0, R = 1, neither P = R = 1.

Every function takes ``pred`` first, then ``gt`` (the official functions take the annotation first), accepts one
frame ``(H, W)`` or a stack ``(F, H, W)`` (non-zero is foreground), and refuses masks of different shapes. Frames
are cropped to the region around both masks' foreground and processed a few at a time on bit-packed rows
(:mod:`omni_r1_verl.metrics.packed`); the values are those of the per-frame definition
(:mod:`omni_r1_verl.metrics.reference`), to the last bit of the pixel counts.
"""

from __future__ import annotations

import math

import numpy as np

from omni_r1_verl.metrics import packed
from omni_r1_verl.scoring.consistency import overlap_counts

#: DAVIS boundary tolerance, as a fraction of the image diagonal.
BOUND_TH = 0.008
#: Frames packed and cropped together (one crop for all of them).
_PACK_FRAMES = 8
#: Words of the crops matched together (``frames x rows x words per row``): about one 720p frame; larger
#: batches measured no faster, and arrays of ~128 KiB stay in cache.
_CHUNK_WORDS = 1 << 14


def _bool_stack(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None):
    """Check and normalise a pair of masks.

    Args:
        pred: ``(H, W)`` or ``(F, H, W)`` masks; non-zero is foreground.
        gt: Same shape.
        void: Optional pixels to ignore, same shape; removed from both masks.

    Returns:
        ``(pred, gt, single)``: bool ``(F, H, W)`` stacks and whether the input was one frame.

    Raises:
        ValueError: If the shapes differ or are not 2-D / 3-D.
    """
    pred, gt, single = check_pair(pred, gt)
    pred, gt = _as_bool(pred), _as_bool(gt)
    if void is not None:
        void, shape = np.asarray(void), pred.shape[1:] if single else pred.shape
        if void.shape != shape:
            raise ValueError(f"void {void.shape} and masks {shape} have different shapes")
        keep = ~_as_bool(void.reshape(pred.shape))
        pred, gt = pred & keep, gt & keep
    return pred, gt, single


def check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(pred, gt, single)``: the arrays as ``(F, H, W)`` stacks and whether they were one ``(H, W)`` frame.

    Raises:
        ValueError: If the shapes differ or are not 2-D / 3-D.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} have different shapes")
    if pred.ndim not in (2, 3):
        raise ValueError(f"masks must be (H, W) or (F, H, W), got shape {pred.shape}")
    single = pred.ndim == 2
    return (pred[None], gt[None], True) if single else (pred, gt, False)


def _as_bool(mask: np.ndarray) -> np.ndarray:
    return mask if mask.dtype == bool else mask != 0


def boundary_radius(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """DAVIS boundary tolerance in pixels.

    Args:
        height: Frame height.
        width: Frame width.
        bound_th: Fraction of the diagonal when < 1, else a radius in whole pixels.

    Returns:
        The disk radius ``ceil(bound_th * sqrt(height^2 + width^2))`` (or ``bound_th`` itself).

    Raises:
        ValueError: For a non-positive or fractional pixel radius.
    """
    if bound_th <= 0:
        raise ValueError(f"bound_th must be positive, got {bound_th}")
    if bound_th >= 1:
        if not float(bound_th).is_integer():
            raise ValueError(f"a pixel bound_th must be a whole number of pixels, got {bound_th}")
        return int(bound_th)
    return math.ceil(bound_th * math.hypot(height, width))


def _extent(words: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` inclusive extent of the set bits of packed frames over all frames, ``None`` if none."""
    frames = np.bitwise_or.reduce(words, axis=0)
    ys = np.flatnonzero(frames.any(axis=1))
    if len(ys) == 0:
        return None
    cols = np.bitwise_or.reduce(frames[ys[0] : ys[-1] + 1], axis=0)
    xs = np.flatnonzero(cols)
    first, last = int(cols[xs[0]]), int(cols[xs[-1]])
    x0 = 64 * int(xs[0]) + (first & -first).bit_length() - 1
    x1 = 64 * int(xs[-1]) + last.bit_length() - 1
    return int(ys[0]), int(ys[-1]), x0, x1


def davis_counts(pred: np.ndarray, gt: np.ndarray, radius: int) -> np.ndarray:
    """The pixel counts behind J and F, per frame.

    Args:
        pred: ``(F, H, W)`` bool predictions.
        gt: ``(F, H, W)`` bool ground truth.
        radius: Boundary matching radius in pixels.

    Returns:
        ``(F, 6)`` int64: intersection, union, predicted boundary pixels, GT boundary pixels, matched predicted
        boundary pixels, matched GT boundary pixels.
    """
    n = pred.shape[0]
    out = np.zeros((n, 6), dtype=np.int64)
    for start in range(0, n, _PACK_FRAMES):
        stop = min(start + _PACK_FRAMES, n)
        p, g = packed.pack_frames(pred[start:stop]), packed.pack_frames(gt[start:stop])
        extent = _extent(p | g)
        if extent is not None:
            _crop_counts(p, g, extent, pred.shape[2], radius, out[start:stop])
    return out


def _crop_counts(p: np.ndarray, g: np.ndarray, extent, width: int, radius: int, out: np.ndarray) -> None:
    """Fill ``out`` with the counts of packed frames whose foreground lies within ``extent``."""
    n, h, _ = p.shape
    y0, y1, x0, x1 = extent
    # Boundary pixels lie on the foreground or one pixel above / left of it; one background row and column past
    # the foreground on the other sides make the crop's edge rule agree with the frame's (see packed.boundaries).
    rows = slice(max(y0 - 1, 0), min(y1 + 2, h))
    first_word = max(x0 - 1, 0) // 64
    crop_width = min(x1 + 2, width) - 64 * first_word
    p = packed.crop_rows(p, rows, first_word, crop_width, radius)
    g = packed.crop_rows(g, rows, first_word, crop_width, radius)
    out[:, 0] = packed.popcount(p & g)
    out[:, 1] = packed.popcount(p | g)
    step = max(1, _CHUNK_WORDS // (p.shape[1] * p.shape[2]))
    for start in range(0, n, step):
        sub = slice(start, min(start + step, n))
        pb, gb = packed.boundaries(p[sub], crop_width), packed.boundaries(g[sub], crop_width)
        counts = out[sub]
        counts[:, 2], counts[:, 3] = packed.popcount(pb), packed.popcount(gb)
        both = np.flatnonzero((counts[:, 2] > 0) & (counts[:, 3] > 0))
        if len(both) < len(counts):
            pb, gb = pb[both], gb[both]
        if len(both):
            counts[both, 4] = packed.matched(pb, gb, radius)
            counts[both, 5] = packed.matched(gb, pb, radius)


def f_from_counts(counts: np.ndarray) -> np.ndarray:
    """DAVIS F per frame from :func:`davis_counts` rows, with the official empty-boundary conventions."""
    n_fg, n_gt, fg_match, gt_match = (counts[:, i].astype(np.float64) for i in range(2, 6))
    precision = np.divide(fg_match, n_fg, out=np.ones_like(n_fg), where=n_fg > 0)
    recall = np.divide(gt_match, n_gt, out=np.ones_like(n_gt), where=n_gt > 0)
    recall[(n_fg == 0) & (n_gt > 0)] = 0.0
    precision[(n_fg > 0) & (n_gt == 0)] = 0.0
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def j_from_counts(counts: np.ndarray) -> np.ndarray:
    """DAVIS J per frame from :func:`davis_counts` rows (an empty union scores 1)."""
    inter, union = counts[:, 0].astype(np.float64), counts[:, 1].astype(np.float64)
    return np.divide(inter, union, out=np.ones_like(inter), where=union > 0)


def j_and_f(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None, bound_th: float = BOUND_TH
) -> tuple[np.ndarray, np.ndarray]:
    """DAVIS J and F per frame, sharing one pass over the masks.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``.
        gt: Ground-truth masks, same shape.
        void: Optional pixels to ignore, same shape (removed from both masks first, as the official code does).
        bound_th: Boundary tolerance (see :func:`boundary_radius`).

    Returns:
        ``(J, F)``, each ``(F,)`` float64 (0-d for a single frame).
    """
    pred, gt, single = _bool_stack(pred, gt, void)
    counts = davis_counts(pred, gt, boundary_radius(*pred.shape[1:], bound_th))
    j, f = j_from_counts(counts), f_from_counts(counts)
    return (j[0], f[0]) if single else (j, f)


def region_similarity(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> np.ndarray:
    """DAVIS region similarity J per frame.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``; non-zero is foreground.
        gt: Ground-truth masks, same shape.
        void: Optional pixels to ignore, same shape.

    Returns:
        J per frame, shape ``(F,)`` (0-d for a single frame).
    """
    pred, gt, single = _bool_stack(pred, gt, void)
    inter, union = overlap_counts(pred, gt)
    j = np.divide(inter, union, out=np.ones(inter.shape), where=union > 0)
    return j[0] if single else j


def boundary_f(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None, bound_th: float = BOUND_TH
) -> np.ndarray:
    """DAVIS boundary F-measure per frame.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``.
        gt: Ground-truth masks, same shape.
        void: Optional pixels to ignore (removed from both masks before extracting boundaries).
        bound_th: Tolerance (see :func:`boundary_radius`).

    Returns:
        F per frame, shape ``(F,)`` (0-d for a single frame).
    """
    return j_and_f(pred, gt, void, bound_th)[1]


def boundary_map(masks: np.ndarray) -> np.ndarray:
    """One-pixel-wide DAVIS ``seg2bmap`` boundaries of each frame.

    A pixel is a boundary pixel when it differs from its east, south or south-east neighbour (the last row
    compares east only, the last column south only, the bottom-right pixel never is one).

    Args:
        masks: ``(F, H, W)`` or ``(H, W)`` masks.

    Returns:
        Bool boundary maps of the same shape.
    """
    masks = np.asarray(masks)
    stack = _as_bool(masks if masks.ndim == 3 else masks[None])
    _, h, w = stack.shape
    words = packed.boundaries(packed.pack_rows(stack, 1), w)
    bits = np.unpackbits(words.view(np.uint8), axis=-1, count=w, bitorder="little").astype(bool)
    return bits if masks.ndim == 3 else bits[0]
