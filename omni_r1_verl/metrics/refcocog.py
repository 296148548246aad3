"""refCOCOg (and ReasonSeg) gIoU and cIoU as Seg-Zero reports them.

Source: dvlab-research/Seg-Zero ``evaluation_scripts/evaluation.py`` (per-sample counts) and
``evaluation_scripts/calculate_iou.py`` (the figures; its cIoU lines are in commit ``c45d603``):

* per sample, the intersection and union pixel counts of the predicted and the GT mask;
* gIoU: the mean over samples of ``I / U`` (0 when ``U = 0``);
* cIoU: ``sum(I) / sum(U)`` over samples (0 when the sum of unions is 0).

Seg-Zero's quirks, kept: a sample whose prediction could not be made (unparsable answer, no mask) counts with
``I = 0, U = |GT|`` (its "penalty"), so it lowers both figures; a predicted sample whose prediction and GT are both
empty is *skipped* (``compute_iou`` returns 0 instead of a pair, which the caller's exception handler drops).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from omni_r1_verl.metrics.records import check_records, mean


def segzero_counts(pred: np.ndarray, gt: np.ndarray) -> dict[str, int]:
    """Intersection and union pixel counts of one image's masks.

    Args:
        pred: ``(H, W)`` predicted mask (non-zero is foreground).
        gt: ``(H, W)`` ground truth.

    Returns:
        ``{"intersection", "union"}``.

    Raises:
        ValueError: If the shapes differ.
    """
    pred, gt = np.asarray(pred) != 0, np.asarray(gt) != 0
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} have different shapes")
    return {"intersection": int(np.count_nonzero(pred & gt)), "union": int(np.count_nonzero(pred | gt))}


def failed_segzero_counts(gt: np.ndarray) -> dict[str, Any]:
    """Seg-Zero's penalty record of a sample without a prediction: ``I = 0``, ``U = |GT|``."""
    return {"intersection": 0, "union": int(np.count_nonzero(np.asarray(gt))), "failed": True}


def refcocog_table(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """gIoU and cIoU in percent.

    Args:
        records: One per sample: ``key``, ``intersection``, ``union`` and ``failed`` (optional, default False).

    Returns:
        ``{"gIoU", "cIoU", "count", "skipped"}``: ``count`` samples scored, ``skipped`` predicted samples with
        empty prediction and GT (left out, as Seg-Zero leaves them out); values ``None`` without samples.
    """
    rows = check_records(records, ("intersection", "union"))
    scored = [r for r in rows if int(r["union"]) > 0 or r.get("failed", False)]
    inter = sum(int(r["intersection"]) for r in scored)
    union = sum(int(r["union"]) for r in scored)
    giou = mean(100 * int(r["intersection"]) / int(r["union"]) if int(r["union"]) else 0.0 for r in scored)
    ciou = (100 * inter / union if union else 0.0) if scored else None
    return {"gIoU": giou, "cIoU": ciou, "count": len(scored), "skipped": len(rows) - len(scored)}
