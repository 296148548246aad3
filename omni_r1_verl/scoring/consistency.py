"""Global mask-consistency reward R_G and the mask reductions that feed it.

The detail workers reduce masks to per-frame pixel counts with :func:`overlap_counts` (or
:func:`overlap_counts_group` for all rollouts of a GRPO group at once, which prepares the ground truth once);
the reward only ever sees the counts::

    J_t = |pred_t AND gt_t| / |pred_t OR gt_t|,   R_G = mean_t J_t

where ``pred_t`` is the union of every mask the rollout's detections propagated to clip frame t and ``gt_t`` the
union of the GT objects. Frames where both are empty are left out (``empty_frames = "skip"``, the default) or
count as J = 1 (``"one"``, the DAVIS convention the reference used, which let an empty or failed prediction
earn the share of target-absent frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omni_r1_verl.scoring.config import ConsistencyConfig


def union_masks(masks: np.ndarray) -> np.ndarray:
    """Union over the object axis.

    Args:
        masks: ``(num_objects, F, H, W)`` masks (any dtype; non-zero is foreground).

    Returns:
        ``(F, H, W)`` bool.
    """
    masks = np.asarray(masks)
    if masks.ndim != 4:
        raise ValueError(f"expected (num_objects, F, H, W) masks, got shape {masks.shape}")
    if masks.shape[0] == 0:
        return np.zeros(masks.shape[1:], dtype=bool)
    return np.logical_or.reduce(masks.astype(bool, copy=False), axis=0)


def _words(mask: np.ndarray) -> np.ndarray | None:
    """View an ``(..., H, W)`` bool mask as ``(..., H*W/8)`` uint64 words holding one 0/1 byte per pixel."""
    flat = np.ascontiguousarray(mask, dtype=bool).reshape(*mask.shape[:-2], -1)
    if flat.shape[-1] % 8:
        return None
    return flat.view(np.uint8).view(np.uint64)


def _popcount(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)


def overlap_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame intersection and union pixel counts of two mask stacks.

    Args:
        pred: ``(F, H, W)`` predicted union mask (non-zero is foreground).
        gt: ``(F, H, W)`` ground-truth union mask.

    Returns:
        ``(intersection, union)``, each ``(F,)`` int64.

    Raises:
        ValueError: If the shapes differ or are not 3-D.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (F, H, W)")
    return _overlap_with(pred.astype(bool, copy=False), *_prepare_gt(gt))


def _prepare_gt(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    gt = np.ascontiguousarray(gt, dtype=bool)
    words = _words(gt)
    area = _popcount(words) if words is not None else gt.sum(axis=(-2, -1), dtype=np.int64)
    return gt, words, area


def _overlap_with(
    pred: np.ndarray, gt: np.ndarray, gt_words: np.ndarray | None, gt_area: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    words = _words(pred) if gt_words is not None else None
    if words is None:  # H * W not a multiple of 8: plain boolean reductions
        inter = np.logical_and(pred, gt).sum(axis=(-2, -1), dtype=np.int64)
        area = pred.sum(axis=(-2, -1), dtype=np.int64)
    else:
        inter = _popcount(words & gt_words)
        area = _popcount(words)
    return inter, area + gt_area - inter


def overlap_counts_group(
    preds: Sequence[np.ndarray] | np.ndarray, gt: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`overlap_counts` for several rollouts against one ground truth (prepared once).

    Args:
        preds: ``G`` predicted union masks, each ``(F, H, W)``.
        gt: ``(F, H, W)`` ground-truth union mask.

    Returns:
        One ``(intersection, union)`` pair per rollout.

    Raises:
        ValueError: If a shape differs from ``gt``'s.
    """
    gt = np.asarray(gt)
    if gt.ndim != 3:
        raise ValueError(f"gt must be (F, H, W), got {gt.shape}")
    prepared = _prepare_gt(gt)
    out = []
    for pred in preds:
        pred = np.asarray(pred)
        if pred.shape != gt.shape:
            raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ")
        out.append(_overlap_with(pred.astype(bool, copy=False), *prepared))
    return out


@dataclass(frozen=True)
class ConsistencyTerms:
    """R_G for one rollout.

    Attributes:
        value: Mean per-frame J over the counted frames, in [0, 1].
        frames: Frames counted in the mean.
        empty_frames: Frames with neither prediction nor ground truth.
    """

    value: float = 0.0
    frames: int = 0
    empty_frames: int = 0


def consistency_terms(
    intersection: Sequence[int] | np.ndarray, union: Sequence[int] | np.ndarray, config: ConsistencyConfig
) -> ConsistencyTerms:
    """R_G from per-frame counts.

    Args:
        intersection: Per-frame intersection pixel counts.
        union: Per-frame union pixel counts (same length).
        config: Empty-frame policy.

    Returns:
        The terms. With no frame to count (every frame empty under ``skip``), the prediction is right (nothing
        to segment, nothing segmented) and R_G = 1; with no frames at all, R_G = 0. Counts that are not finite
        numbers (or beyond float range) make every term 0.

    Raises:
        ValueError: If the two lengths differ.
    """
    try:
        inter = np.asarray(intersection, dtype=np.float64).reshape(-1)
        uni = np.asarray(union, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        return ConsistencyTerms()
    if inter.shape != uni.shape:
        raise ValueError(f"intersection {inter.shape} and union {uni.shape} differ")
    if inter.size == 0 or not (np.isfinite(inter).all() and np.isfinite(uni).all()):
        return ConsistencyTerms()
    empty = uni <= 0
    num_empty = int(empty.sum())
    j = np.divide(inter, uni, out=np.zeros_like(inter), where=~empty)
    if config.empty_frames == "one":
        j[empty] = 1.0
        return ConsistencyTerms(float(np.clip(j.mean(), 0.0, 1.0)), int(j.size), num_empty)
    counted = ~empty
    if not counted.any():
        return ConsistencyTerms(1.0, 0, num_empty)
    return ConsistencyTerms(float(np.clip(j[counted].mean(), 0.0, 1.0)), int(counted.sum()), num_empty)
