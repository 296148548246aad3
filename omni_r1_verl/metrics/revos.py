"""ReVOS (VISA, Yan et al., ECCV 2024): robustness R and the benchmark table.

Source: cilinyan/VISA ``tools/eval_revos.py`` (aggregation) and ``tools/metrics.py`` (``get_r2vos_robustness``,
``db_eval_iou``, ``db_eval_boundary``). Per expression, over every frame of the video:

* J and F: DAVIS J and F of the union of the expression's objects (:mod:`omni_r1_verl.metrics.masks`), averaged
  over frames;
* R: per frame ``max(1 - neg / (pos + 1e-6), 0)``, averaged over frames, where ``pos`` is the number of annotated
  foreground pixels of the video (``mask_dict_foreground.json``, all objects) and ``neg`` the predicted pixels off
  the target. The official code computes ``neg = ((1 - gt) * pred).sum()`` on ``uint8`` arrays, ``gt`` being the
  per-pixel sum of the expression's object masks and ``pred`` the PNG as read: each predicted pixel outside the
  target counts ``pred_value`` (1 for 0/1 PNGs, 255 for 0/255 ones), and a predicted pixel where ``c >= 2`` target
  objects overlap counts ``((1 - c) mod 256) * pred_value mod 256`` (the ``uint8`` wrap-around), not 0. Both are
  reproduced here.

Table (``revos_table``): per expression J, F and R are rounded to 2 decimals of a percent (``round(100 * x, 2)``,
as the official script does before averaging); a subset's J, F and R are the means over its expressions and its
J&F is ``(J + F) / 2``; **overall is the mean of the referring and the reasoning subsets** (not of all
expressions), which is also how Omni-R1 Table 2's Overall column relates to its Referring and Reasoning columns.
The official script has no single / multi-object subsets; Omni-R1 reports them without a definition, so here they
are the referring and reasoning expressions with exactly one and with two or more target objects, aggregated like
the other subsets. Expressions of any other ``type_id`` count in no subset, as in the official script.
A sample that failed scores J = F = R = 0, as the official script scores a missing or unreadable prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from omni_r1_verl.metrics.records import check_records, mean
from omni_r1_verl.scoring.consistency import overlap_counts

#: ``type_id`` names of ReVOS expressions (converters/revos.py writes them as ``exp_type``).
SUBSETS = ("referring", "reasoning")


def revos_robustness(pred: np.ndarray, gt: np.ndarray, foreground: np.ndarray, pred_value: int = 1) -> np.ndarray:
    """ReVOS robustness R per frame, with the official ``uint8`` arithmetic.

    Args:
        pred: Predicted masks ``(F, H, W)`` or ``(H, W)``; non-zero is foreground.
        gt: The expression's ground truth: per-object masks ``(n_obj, F, H, W)`` (``(n_obj, H, W)`` for one frame),
            or their union ``(F, H, W)`` / ``(H, W)`` (then overlaps between objects are unknown and count as one).
        foreground: The video's foreground, ``(F, H, W)`` / ``(H, W)``; summed as given (bool masks, or per-pixel
            layer counts as the official script builds them from several RLEs).
        pred_value: Value of a predicted pixel in the official script's input (1 for 0/1 masks; 255 reproduces
            predictions read from 0/255 PNGs).

    Returns:
        R per frame in [0, 1], shape ``(F,)`` (0-d for a single frame).

    Raises:
        ValueError: On shapes that do not match, or a ``pred_value`` outside 0..255.
    """
    pred, fg = np.asarray(pred), np.asarray(foreground)
    single = pred.ndim == 2
    if pred.ndim not in (2, 3):
        raise ValueError(f"pred must be (H, W) or (F, H, W), got {pred.shape}")
    if not 0 <= pred_value <= 255:
        raise ValueError(f"pred_value must be a uint8 value, got {pred_value}")
    objects = np.asarray(gt)
    if objects.shape == pred.shape:
        objects = objects[None]
    if objects.shape[1:] != pred.shape or fg.shape != pred.shape:
        raise ValueError(f"gt {np.shape(gt)} and foreground {fg.shape} do not match pred {pred.shape}")
    if single:
        pred, fg, objects = pred[None], fg[None], objects[:, None]
    pred = pred != 0
    objects = objects != 0
    union = np.logical_or.reduce(objects, axis=0) if len(objects) else np.zeros_like(pred)
    neg = overlap_counts(pred, ~union)[0] * pred_value
    if len(objects) > 1:
        count = objects.sum(axis=0, dtype=np.uint8)
        overlap = pred & (count >= 2)
        if overlap.any():
            weight = ((1 - np.arange(256)) % 256 * pred_value) % 256
            for t in range(len(pred)):
                neg[t] += int(weight[count[t][overlap[t]]].sum())
    pos = fg.reshape(len(fg), -1).sum(axis=1, dtype=np.float64)
    r = np.maximum(1.0 - neg / (pos + 1e-6), 0.0)
    return r[0] if single else r


def _percent(value: float, official_rounding: bool) -> float:
    return round(100 * value, 2) if official_rounding else 100 * value


def _group(records: list[Mapping[str, Any]], official_rounding: bool) -> dict[str, Any]:
    j = [_percent(float(r["J"]), official_rounding) for r in records]
    f = [_percent(float(r["F"]), official_rounding) for r in records]
    has_r = bool(records) and all(r.get("R") is not None for r in records)
    rr = [_percent(float(r["R"]), official_rounding) for r in records] if has_r else []
    mj, mf = mean(j), mean(f)
    return {
        "J": mj,
        "F": mf,
        "JF": None if mj is None else (mj + mf) / 2,
        "R": mean(rr),
        "count": len(records),
    }


def revos_table(records: Iterable[Mapping[str, Any]], official_rounding: bool = True) -> dict[str, Any]:
    """ReVOS J, F, J&F (and R) in percent per subset, as ``tools/eval_revos.py`` aggregates them.

    Args:
        records: One per expression: ``key``, ``J``, ``F`` (fractions, means over the video's frames), ``R``
            (optional; the table's R is ``None`` unless every record of a group has one), ``exp_type``
            (``"referring"`` / ``"reasoning"``; other values count in no subset) and ``num_objects``.
        official_rounding: Round each expression's percentages to 2 decimals before averaging (official).

    Returns:
        ``{"referring", "reasoning", "single", "multi", "overall"}``, each ``{"J", "F", "JF", "R", "count"}``
        (values ``None`` for an empty group); overall's figures are the means of referring's and reasoning's.
    """
    rows = [r for r in check_records(records, ("J", "F", "exp_type", "num_objects")) if r["exp_type"] in SUBSETS]
    table = {name: _group([r for r in rows if r["exp_type"] == name], official_rounding) for name in SUBSETS}
    table["single"] = _group([r for r in rows if int(r["num_objects"]) == 1], official_rounding)
    table["multi"] = _group([r for r in rows if int(r["num_objects"]) >= 2], official_rounding)
    ref, rea = table["referring"], table["reasoning"]
    overall: dict[str, Any] = {"count": ref["count"] + rea["count"]}
    for name in ("J", "F", "JF", "R"):
        overall[name] = None if ref[name] is None or rea[name] is None else (ref[name] + rea[name]) / 2
    table["overall"] = overall
    return table
