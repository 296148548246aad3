"""Boxes, Hungarian matching, R_A and the RefAVS detection reward against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omni_r1_verl.contracts.system2 import KeyframeDetail
from omni_r1_verl.scoring.alignment import alignment_terms, detection_terms
from omni_r1_verl.scoring.boxes import clean_boxes, iou_matrix, match_boxes
from omni_r1_verl.scoring.config import AlignmentConfig, BoxConfig

H, W = 100, 200
BOXES = BoxConfig()


def test_inclusive_iou_counts_pixels():
    # [0..9] x [0..9] = 100 px, [0..4] x [0..9] = 50 px, overlap 50 px
    assert iou_matrix([[0, 0, 9, 9]], [[0, 0, 4, 9]])[0, 0] == pytest.approx(0.5)
    # a single-pixel box is one pixel, not zero area
    assert iou_matrix([[3, 3, 3, 3]], [[3, 3, 3, 3]])[0, 0] == 1.0


def test_continuous_iou_and_zero_area_boxes():
    assert iou_matrix([[0, 0, 10, 10]], [[0, 0, 5, 10]], inclusive=False)[0, 0] == pytest.approx(0.5)
    assert iou_matrix([[3, 3, 3, 3]], [[3, 3, 3, 3]], inclusive=False)[0, 0] == 0.0


def test_gt_box_touching_the_left_border_scores():
    # Reference bug: IoU was forced to 0 whenever gt x1 == 0.
    m = match_boxes([[0, 10, 49, 59]], [[0, 10, 49, 59]], H, W)
    assert m.iou_sum == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        [math.nan, 0, 5, 5],
        [0, 0, math.inf, 5],
        [10, 10, 5, 5],
        [0, 0, 5],
        "box",
        [True, 0, 5, 5],
        [300, 0, 400, 50],
        None,
    ],
)
def test_invalid_boxes_are_rejected_and_counted(bad):
    cleaned = clean_boxes([bad, [1, 1, 5, 5]], H, W)
    assert cleaned.invalid == 1 and cleaned.boxes.tolist() == [[1, 1, 5, 5]]


def test_huge_boxes_are_clipped_to_the_image():
    assert clean_boxes([[-50, -50, 1e9, 1e9]], H, W).boxes.tolist() == [[0, 0, W - 1, H - 1]]
    assert clean_boxes([[-50, -50, 1e9, 1e9]], H, W, inclusive=False).boxes.tolist() == [[0, 0, W, H]]


def test_hungarian_beats_greedy():
    gt = [[0, 0, 9, 9], [5, 0, 14, 9]]
    # pred 0 overlaps both GTs; greedy on pred 0 would take GT 0 (IoU 0.5 > 0.33...) and leave GT 1 poorly matched
    pred = [[3, 0, 12, 9], [0, 0, 7, 9]]
    m = match_boxes(pred, gt, H, W)
    iou = iou_matrix(np.array(gt, float), np.array(pred, float))
    assert m.iou_sum == pytest.approx(max(iou[0, 0] + iou[1, 1], iou[0, 1] + iou[1, 0]))
    assert m.iou_sum == pytest.approx(iou[0, 1] + iou[1, 0])


def test_max_boxes_caps_predictions():
    m = match_boxes([[0, 0, 5, 5]] * 10, [[0, 0, 5, 5]], H, W, max_boxes=3)
    assert m.num_pred == 3 and m.invalid_pred == 7 and m.iou_sum == 1.0


def kf(frame, pred, gt, parsed=True):
    return KeyframeDetail(frame, tuple(map(tuple, pred)), tuple(map(tuple, gt)), rejected_boxes=0 if parsed else 1)


def test_alignment_hand_computed_missing_and_excess_boxes():
    keyframes = [
        kf(0, [[0, 0, 9, 9]], [[0, 0, 9, 9]]),  # perfect
        kf(3, [], [[0, 0, 9, 9]]),  # missed
        kf(5, [[0, 0, 9, 9], [50, 50, 60, 60]], [[0, 0, 4, 9]]),  # IoU 0.5 plus one excess box
    ]
    terms = alignment_terms(keyframes, 1, H, W, AlignmentConfig(), BOXES)
    assert terms.iou == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    # |#pred - #gt| = 0 + 1 + 1 -> -0.5 * 2 / (1 object * 3 keyframes)
    assert terms.count == pytest.approx(-0.5 * 2 / 3)
    assert terms.total == pytest.approx(0.5 - 1 / 3)
    terms_max = alignment_terms(keyframes, 1, H, W, AlignmentConfig(normalize="max"), BOXES)
    assert terms_max.iou == pytest.approx(1.5 / (1 + 1 + 2))


def test_alignment_unparsed_keyframe_scores_as_no_boxes():
    terms = alignment_terms([kf(0, [[0, 0, 9, 9]], [[0, 0, 9, 9]], parsed=False)], 1, H, W, AlignmentConfig(), BOXES)
    assert terms.iou == 0.0 and terms.unparsed_keyframes == 1 and terms.count == pytest.approx(-0.5)


def test_alignment_without_visible_gt_is_zero_and_flagged():
    terms = alignment_terms([kf(0, [], [])], 1, H, W, AlignmentConfig(), BOXES)
    assert terms.iou == 0.0 and terms.count == 0.0 and terms.no_gt


def test_alignment_counts_degenerate_predictions():
    keyframes = [kf(0, [[math.nan, 0, 1, 1], [9, 9, 0, 0], [0, 0, 9, 9]], [[0, 0, 9, 9]])]
    terms = alignment_terms(keyframes, 1, H, W, AlignmentConfig(), BOXES)
    assert terms.invalid_boxes == 2 and terms.iou == 1.0 and terms.count == 0.0


def test_detection_single_box_is_its_iou():
    assert detection_terms(kf(0, [[0, 0, 9, 9]], [[0, 0, 4, 9]]), H, W, BOXES).iou == pytest.approx(0.5)


def test_detection_extra_boxes_dilute():
    assert detection_terms(kf(0, [[0, 0, 9, 9], [50, 50, 60, 60]], [[0, 0, 9, 9]]), H, W, BOXES).iou == 0.5


def test_detection_null_target():
    assert detection_terms(kf(0, [], []), H, W, BOXES).iou == 1.0
    assert detection_terms(kf(0, [[0, 0, 9, 9]], []), H, W, BOXES).iou == 0.0
    assert detection_terms(kf(0, [], [], parsed=False), H, W, BOXES).iou == 0.0
    assert detection_terms(kf(0, [[9, 9, 0, 0]], []), H, W, BOXES).iou == 0.0
    assert detection_terms(None, H, W, BOXES).iou == 0.0
