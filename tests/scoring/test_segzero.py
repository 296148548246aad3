"""Seg-Zero image-grounding reward against hand-computed cases (reference constants, strict format)."""

from __future__ import annotations

import json

import pytest

from omni_r1_verl.scoring.config import BoxConfig, SegZeroConfig
from omni_r1_verl.scoring.segzero import segzero_terms

GT_BOX, GT_POINTS = [100, 100, 299, 199], [[150, 150], [250, 150]]
HW = (400, 400)


def score(obj, resized=HW):
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return segzero_terms(text, GT_BOX, GT_POINTS, HW, resized, SegZeroConfig(), BoxConfig())


def test_perfect_answer_reaches_the_maximum():
    terms = score({"bbox_2d": GT_BOX, "points_1": GT_POINTS[1], "points_2": GT_POINTS[0]})  # points swapped
    assert terms.iou == 1.0
    assert terms.iou_reward == pytest.approx(2 * 0.5 + 0.4)
    assert terms.box_reward == 1.0 and terms.point_reward == 1.0 and terms.format_ok
    assert terms.total == pytest.approx(4.4)


def test_partial_answer_hand_computed():
    # box shifted right by 20 px: inclusive IoU = 180*100 / (220*100); mean L1 = (20+0+20+0)/4 = 10
    terms = score({"bbox_2d": [120, 100, 319, 199], "points_1": [160, 150], "points_2": [250, 180]})
    iou = 180 / 220
    assert terms.iou == pytest.approx(iou)
    assert terms.iou_reward == pytest.approx(2 * (iou - 0.5) + 0.4)
    assert terms.box_reward == pytest.approx((30 - 10) * 0.05)
    # mean point distance (10 + 30) / 2 = 20 -> (150 - 20) * 0.02 clipped to 1
    assert terms.point_reward == 1.0


def test_points_outside_the_box_and_far_boxes_earn_nothing():
    terms = score({"bbox_2d": [0, 0, 50, 50], "points_1": [150, 150], "points_2": [250, 150]})
    assert terms.iou == 0.0 and terms.iou_reward == 0.0 and terms.box_reward == 0.0 and terms.point_reward == 0.0
    assert terms.format_ok


def test_ground_truth_is_scaled_into_the_resized_image():
    # System 1 saw the image at half size: the same answer in resized pixels is perfect.
    half = {"bbox_2d": [50, 50, 149.5, 99.5], "points_1": [75, 75], "points_2": [125, 75]}
    terms = score(half, resized=(200, 200))
    assert terms.box_reward == 1.0 and terms.point_reward == 1.0 and terms.iou > 0.98


@pytest.mark.parametrize(
    "answer",
    [
        "the dog",
        "{not json}",
        '{"bbox_2d": [1, 2, 3]}',
        '{"bbox_2d": ["a", 1, 2, 3], "points_1": [1, 1], "points_2": [1, 1]}',
        '{"bbox_2d": [300, 300, 100, 100], "points_1": [1, 1], "points_2": [1, 1]}',
        '{"bbox_2d": [NaN, 0, 10, 10]}',
        "[]",
    ],
)
def test_unusable_answers_score_zero_task_reward(answer):
    terms = score(answer)
    assert terms.iou_reward == terms.box_reward == terms.point_reward == 0.0


def test_format_requires_the_three_keys():
    assert not score({"bbox": GT_BOX, "points_1": [1, 1], "points_2": [1, 1]}).format_ok
    assert score({"bbox": GT_BOX, "points_1": [1, 1], "points_2": [1, 1]}).iou == 1.0  # any key containing "bbox"
    assert not score({"bbox_2d": GT_BOX, "points_1": [1, 1]}).format_ok
    inverted = score({"bbox_2d": [300, 300, 100, 100], "points_1": [1, 1], "points_2": [1, 1]})
    assert inverted.invalid_box and inverted.format_ok
