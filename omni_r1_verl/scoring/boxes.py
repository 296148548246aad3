"""Boxes: validation against the image, IoU matrices and Hungarian matching.

Boxes are ``[x1, y1, x2, y2]`` in original-image pixels. With ``inclusive=True`` (the reference's convention for
GT boxes taken from mask extents) a box covers the pixels ``x1..x2`` and ``y1..y2``, so its width is
``x2 - x1 + 1``; with ``inclusive=False`` boxes are continuous and a zero-width box has zero area.

Every function here returns finite numbers for any input: NaN / inf coordinates, integers beyond float range,
inverted boxes and boxes outside the image are rejected (and counted), huge boxes are clipped to the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from omni_r1_verl.utils.model_output import finite_float


@dataclass(frozen=True)
class CleanBoxes:
    """Boxes that passed validation, plus how many did not.

    Attributes:
        boxes: ``(n, 4)`` float64 array of valid boxes clipped to the image.
        invalid: Boxes rejected: wrong shape or type, non-finite, inverted, or entirely outside the image.
    """

    boxes: np.ndarray
    invalid: int


def clean_boxes(boxes: Any, height: int, width: int, inclusive: bool = True) -> CleanBoxes:
    """Validate boxes and clip them to a ``height x width`` image.

    Args:
        boxes: A sequence of 4-number sequences (anything else counts as invalid entries).
        height: Image height in pixels.
        width: Image width in pixels.
        inclusive: Inclusive pixel extents (clip to ``[0, W-1]``) instead of continuous ones (``[0, W]``).

    Returns:
        The valid, clipped boxes and the count of rejected ones.
    """
    if boxes is None:
        return CleanBoxes(np.zeros((0, 4)), 0)
    if isinstance(boxes, np.ndarray):
        boxes = boxes.tolist()
    if not isinstance(boxes, Sequence) or isinstance(boxes, (str, bytes)):
        return CleanBoxes(np.zeros((0, 4)), 1)
    max_x = width - 1 if inclusive else width
    max_y = height - 1 if inclusive else height
    kept, invalid = [], 0
    for box in boxes:
        coords = _four_numbers(box)
        if coords is None:
            invalid += 1
            continue
        x1, y1, x2, y2 = coords
        if x2 < x1 or y2 < y1 or x1 > max_x or y1 > max_y or x2 < 0 or y2 < 0:
            invalid += 1
            continue
        kept.append((max(x1, 0.0), max(y1, 0.0), min(x2, max_x), min(y2, max_y)))
    return CleanBoxes(np.asarray(kept, dtype=np.float64).reshape(-1, 4), invalid)


def _four_numbers(box: Any) -> tuple[float, float, float, float] | None:
    if isinstance(box, np.ndarray):
        box = box.tolist()
    if not isinstance(box, Sequence) or isinstance(box, (str, bytes)) or len(box) != 4:
        return None
    out = [finite_float(v) for v in box]
    if any(v is None for v in out):
        return None
    return out[0], out[1], out[2], out[3]


def iou_matrix(a: np.ndarray, b: np.ndarray, inclusive: bool = True) -> np.ndarray:
    """Pairwise IoU of two sets of valid boxes.

    Args:
        a: ``(n, 4)`` boxes.
        b: ``(m, 4)`` boxes.
        inclusive: Inclusive pixel extents (+1 on widths and heights).

    Returns:
        ``(n, m)`` IoU in ``[0, 1]`` (0 where the union is empty).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    off = 1.0 if inclusive else 0.0
    area_a = (a[:, 2] - a[:, 0] + off) * (a[:, 3] - a[:, 1] + off)
    area_b = (b[:, 2] - b[:, 0] + off) * (b[:, 3] - b[:, 1] + off)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + off
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + off
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


@dataclass(frozen=True)
class BoxMatch:
    """Hungarian matching of predicted to ground-truth boxes on one frame.

    Attributes:
        iou_sum: Sum of the IoU of the matched pairs (maximum total IoU assignment).
        num_pred: Valid predicted boxes.
        num_gt: Valid ground-truth boxes.
        invalid_pred: Predicted boxes rejected by :func:`clean_boxes`.
        invalid_gt: Ground-truth boxes rejected by :func:`clean_boxes`.
        matched_ious: IoU of each matched pair, in GT order of the assignment.
    """

    iou_sum: float
    num_pred: int
    num_gt: int
    invalid_pred: int = 0
    invalid_gt: int = 0
    matched_ious: tuple[float, ...] = ()


def match_boxes(
    pred: Any, gt: Any, height: int, width: int, inclusive: bool = True, max_boxes: int | None = None
) -> BoxMatch:
    """Validate both box sets and match them with the Hungarian algorithm on IoU.

    Args:
        pred: Predicted boxes (any sequence; malformed entries count as invalid).
        gt: Ground-truth boxes.
        height: Image height.
        width: Image width.
        inclusive: Inclusive pixel extents.
        max_boxes: Keep at most this many predicted boxes (the rest count as invalid).

    Returns:
        The matching summary.
    """
    if max_boxes is not None and isinstance(pred, Sequence) and len(pred) > max_boxes:
        extra = len(pred) - max_boxes
        pred = list(pred)[:max_boxes]
    else:
        extra = 0
    p = clean_boxes(pred, height, width, inclusive)
    g = clean_boxes(gt, height, width, inclusive)
    if len(p.boxes) == 0 or len(g.boxes) == 0:
        return BoxMatch(0.0, len(p.boxes), len(g.boxes), p.invalid + extra, g.invalid)
    iou = iou_matrix(g.boxes, p.boxes, inclusive)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    matched = iou[rows, cols]
    return BoxMatch(
        float(matched.sum()),
        len(p.boxes),
        len(g.boxes),
        p.invalid + extra,
        g.invalid,
        tuple(float(v) for v in matched),
    )
