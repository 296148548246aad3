"""Seg-Zero style image-grounding reward (refCOCOg): System 1 outputs one box and two points itself.

The answer's first JSON object should be ``{"bbox_2d": [x1, y1, x2, y2], "points_1": [x, y], "points_2": [x, y]}``
in the pixels of the image System 1 saw (its Qwen-VL resize). The ground truth is scaled into that space and::

    iou_reward   = iou_scale * max(0, IoU - iou_threshold) + iou_bonus * [IoU > iou_threshold]
    box_reward   = clip((box_l1_max - mean |box - gt_box|) * box_l1_scale, 0, 1)
    point_reward = clip((point_dist_max - d) * point_dist_scale, 0, 1)
    total        = iou_reward + box_reward + point_reward + [strict answer format]

``d`` is the mean distance of the two points to the two GT points under the better pairing; it only counts
when both points lie inside the predicted box (the point and box terms are 0 when their inputs are unusable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omni_r1_verl.scoring.answer import iter_json_blocks
from omni_r1_verl.scoring.boxes import clean_boxes, iou_matrix
from omni_r1_verl.scoring.config import BoxConfig, SegZeroConfig
from omni_r1_verl.utils.model_output import finite_float


@dataclass(frozen=True)
class GroundingTerms:
    """The Seg-Zero reward of one response.

    Attributes:
        iou: Box IoU with the GT box (0 when the box is missing or invalid).
        iou_reward: IoU term.
        box_reward: Box-L1 term.
        point_reward: Point-distance term.
        format_ok: The first JSON object has a 4-number ``bbox_2d`` and 2-number ``points_1`` / ``points_2``.
        invalid_box: A box was given but rejected (not four finite numbers, inverted, outside the image).
    """

    iou: float = 0.0
    iou_reward: float = 0.0
    box_reward: float = 0.0
    point_reward: float = 0.0
    format_ok: bool = False
    invalid_box: bool = False

    @property
    def total(self) -> float:
        """Sum of the four parts."""
        return self.iou_reward + self.box_reward + self.point_reward + float(self.format_ok)


def _numbers(value: Any, n: int) -> tuple[float, ...] | None:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or len(value) != n:
        return None
    out = tuple(finite_float(v) for v in value)
    return None if None in out else out


def _first_object(answer: str) -> dict | None:
    for value, ok in iter_json_blocks(answer):
        return value if ok and isinstance(value, dict) else None
    return None


def _box_value(obj: dict) -> Any:
    if "bbox_2d" in obj:
        return obj["bbox_2d"]
    return next((v for k, v in obj.items() if "bbox" in str(k)), None)


def segzero_terms(
    answer: str,
    gt_box: Sequence[float],
    gt_points: Sequence[Sequence[float]],
    original_hw: tuple[int, int],
    resized_hw: tuple[int, int],
    config: SegZeroConfig,
    boxes: BoxConfig,
) -> GroundingTerms:
    """Score one Seg-Zero answer.

    Args:
        answer: Text of the ``<answer>`` block.
        gt_box: GT box, original pixels.
        gt_points: The two GT points (inscribed-circle centres), original pixels.
        original_hw: Original image ``(height, width)``.
        resized_hw: ``(height, width)`` of the image System 1 saw.
        config: Seg-Zero constants.
        boxes: Box conventions.

    Returns:
        The terms (all zero for an unusable answer).
    """
    obj = _first_object(answer)
    if obj is None:
        return GroundingTerms()
    raw_box = _box_value(obj)
    box = _numbers(raw_box, 4)
    points = [_numbers(v, 2) for k, v in obj.items() if "points" in str(k)][:2]
    format_ok = (
        box is not None
        and _numbers(obj.get("points_1"), 2) is not None
        and _numbers(obj.get("points_2"), 2) is not None
        and "bbox_2d" in obj
    )
    (h, w), (rh, rw) = original_hw, resized_hw
    sx, sy = rw / w, rh / h
    gt = np.array([gt_box[0] * sx, gt_box[1] * sy, gt_box[2] * sx, gt_box[3] * sy])
    cleaned = clean_boxes([box] if box is not None else [], rh, rw, boxes.pixel_inclusive)
    if len(cleaned.boxes) == 0:  # a box that is not four finite numbers counts as invalid too
        return GroundingTerms(format_ok=format_ok, invalid_box=cleaned.invalid > 0 or raw_box is not None)
    pred = cleaned.boxes[0]
    iou = float(iou_matrix(pred[None], gt[None], boxes.pixel_inclusive)[0, 0])
    passed = iou > config.iou_threshold
    iou_reward = config.iou_scale * max(0.0, iou - config.iou_threshold) + config.iou_bonus * passed
    l1 = float(np.abs(pred - gt).mean())
    box_reward = float(np.clip((config.box_l1_max - l1) * config.box_l1_scale, 0.0, 1.0))
    point_reward = 0.0
    if len(points) == 2 and all(p is not None for p in points) and len(gt_points) >= 2:
        p = np.array(points)
        inside = (p[:, 0] >= pred[0]) & (p[:, 0] <= pred[2]) & (p[:, 1] >= pred[1]) & (p[:, 1] <= pred[3])
        if inside.all():
            g = np.array([[gt_points[i][0] * sx, gt_points[i][1] * sy] for i in range(2)])
            d = np.linalg.norm(p[:, None, :] - g[None, :, :], axis=-1)
            dist = min((d[0, 0] + d[1, 1]) / 2, (d[0, 1] + d[1, 0]) / 2)
            point_reward = float(np.clip((config.point_dist_max - dist) * config.point_dist_scale, 0.0, 1.0))
    return GroundingTerms(iou, iou_reward, box_reward, point_reward, format_ok, False)
