"""DAVIS J and F written out frame by frame from their definition: the oracle of the tests and the baseline of
``benchmarks/metrics.py``.

Straight from the definition (Perazzi et al., CVPR 2016, as computed by ``davis2017/metrics.py`` of
davisvideochallenge/davis2017-evaluation): one frame at a time, full-frame boundary maps, and an explicit binary
dilation of each map by the disk ``disk(r)``, ``r = ceil(bound_th * ||(H, W)||)``. Slow on purpose; use
:mod:`omni_r1_verl.metrics.masks` for real work.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

#: Dilation of a bool map by a bool structuring element (``scipy.ndimage.binary_dilation`` by default; the
#: benchmark passes ``cv2.dilate``, which the official code uses).
Dilate = Callable[[np.ndarray, np.ndarray], np.ndarray]


def disk(radius: int) -> np.ndarray:
    """Bool disk ``{(dy, dx): dx^2 + dy^2 <= radius^2}``, ``(2 radius + 1)`` pixels square."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """Boundary map of one ``(H, W)`` frame by the Martin et al. rule, pixel by pixel.

    Pixel ``(y, x)`` is a boundary pixel when it differs from any of ``(y, x + 1)``, ``(y + 1, x)``,
    ``(y + 1, x + 1)``; in the last row only ``(y, x + 1)`` is compared, in the last column only ``(y + 1, x)``,
    and the bottom-right pixel is never a boundary pixel.
    """
    seg = np.asarray(mask).astype(bool)
    h, w = seg.shape
    out = np.zeros((h, w), dtype=bool)
    out[:-1, :-1] = (seg[:-1, :-1] != seg[:-1, 1:]) | (seg[:-1, :-1] != seg[1:, :-1]) | (seg[:-1, :-1] != seg[1:, 1:])
    out[-1, :-1] = seg[-1, :-1] != seg[-1, 1:]
    out[:-1, -1] = seg[:-1, -1] != seg[1:, -1]
    return out


def _scipy_dilate(bmap: np.ndarray, structure: np.ndarray) -> np.ndarray:
    return ndimage.binary_dilation(bmap, structure=structure)


def frame_j(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """J of one frame: intersection over union of the non-void pixels, 1 when the union is empty."""
    keep = np.ones(np.shape(gt), dtype=bool) if void is None else ~np.asarray(void, dtype=bool)
    p, g = np.asarray(pred, dtype=bool) & keep, np.asarray(gt, dtype=bool) & keep
    union = int(np.count_nonzero(p | g))
    return 1.0 if union == 0 else int(np.count_nonzero(p & g)) / union


def frame_f(
    pred: np.ndarray,
    gt: np.ndarray,
    void: np.ndarray | None = None,
    bound_th: float = 0.008,
    dilate: Dilate | None = None,
) -> float:
    """F of one frame, by explicit dilation of both boundary maps.

    Args:
        pred: ``(H, W)`` prediction.
        gt: ``(H, W)`` ground truth.
        void: Optional ``(H, W)`` pixels removed from both masks before their boundaries are taken.
        bound_th: Fraction of the diagonal (< 1) or whole pixels.
        dilate: Binary dilation to use (default ``scipy.ndimage.binary_dilation``).

    Returns:
        The boundary F-measure with the official conventions for empty boundaries.
    """
    keep = np.ones(np.shape(gt), dtype=bool) if void is None else ~np.asarray(void, dtype=bool)
    p, g = np.asarray(pred, dtype=bool) & keep, np.asarray(gt, dtype=bool) & keep
    radius = int(bound_th) if bound_th >= 1 else math.ceil(bound_th * math.hypot(*p.shape))
    structure = disk(radius)
    dilate = dilate or _scipy_dilate
    pb, gb = seg2bmap(p), seg2bmap(g)
    fg_match = int(np.count_nonzero(pb & dilate(gb, structure).astype(bool)))
    gt_match = int(np.count_nonzero(gb & dilate(pb, structure).astype(bool)))
    n_fg, n_gt = int(np.count_nonzero(pb)), int(np.count_nonzero(gb))
    if n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    elif n_fg == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        precision, recall = fg_match / n_fg, gt_match / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def video_j_and_f(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008, dilate: Dilate | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F of ``(F, H, W)`` stacks, one frame at a time."""
    j = np.array([frame_j(p, g) for p, g in zip(pred, gt)])
    f = np.array([frame_f(p, g, bound_th=bound_th, dilate=dilate) for p, g in zip(pred, gt)])
    return j, f
