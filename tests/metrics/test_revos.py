"""ReVOS robustness R (with the official uint8 arithmetic) and the table of ``tools/eval_revos.py``."""

from __future__ import annotations

import random

import numpy as np
import pytest

from omni_r1_verl.metrics import revos_robustness, revos_table


def official_r(gt_objects: np.ndarray, pred_png: np.ndarray, foreground: np.ndarray) -> float:
    """``get_r2vos_robustness`` of one frame, with the script's uint8 arrays (our restatement of the formula)."""
    gt = np.zeros(pred_png.shape, np.uint8)
    for mask in gt_objects:
        gt += mask.astype(np.uint8)
    neg = ((1 - gt) * pred_png).sum()  # uint8 arithmetic, as in the script
    pos = foreground.sum()
    return max(1 - neg / (pos + 1e-6), 0.0)


def test_robustness_hand_computed():
    gt = np.zeros((2, 10, 10), bool)
    gt[:, :5] = True
    pred = gt.copy()
    pred[0, 5, :] = True  # 10 false-positive pixels
    fg = np.zeros((2, 10, 10), np.uint8)
    fg[:, :4] = 1  # foreground of 40 pixels per frame
    assert revos_robustness(pred, gt, fg).tolist() == pytest.approx([1 - 10 / 40, 1.0])
    assert revos_robustness(pred, gt, fg, pred_value=255).tolist() == pytest.approx([0.0, 1.0])
    assert revos_robustness(pred, gt, np.zeros_like(fg)).tolist() == pytest.approx([0.0, 1.0])
    assert revos_robustness(pred[0], gt[0], fg[0] * 2) == pytest.approx(1 - 10 / 80)  # summed as given


@pytest.mark.parametrize("pred_value", [1, 255, 7])
def test_overlapping_objects_follow_the_uint8_wrap_around(pred_value):
    rng = np.random.default_rng(pred_value)
    objects = rng.random((3, 2, 12, 12)) > 0.5  # plenty of pixels in 2 or 3 objects
    pred = rng.random((2, 12, 12)) > 0.4
    fg = rng.random((2, 12, 12)) > 0.2
    got = revos_robustness(pred, objects, fg, pred_value=pred_value)
    png = pred.astype(np.uint8) * pred_value
    expected = [official_r(objects[:, t], png[t], fg[t].astype(np.uint8)) for t in range(2)]
    assert got.tolist() == pytest.approx(expected)
    # With a (wrongly) plain count the overlaps would not be penalised: the quirk changes the value here.
    union = objects.any(axis=0)
    plain = np.maximum(1 - (pred & ~union).sum(axis=(1, 2)) * pred_value / (fg.sum(axis=(1, 2)) + 1e-6), 0)
    assert not np.allclose(got, plain) or pred_value == 255


def test_robustness_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="do not match"):
        revos_robustness(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="uint8"):
        revos_robustness(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)), pred_value=256)


def records():
    return [
        {"key": "a", "J": 0.123456, "F": 0.5, "R": 0.9, "exp_type": "referring", "num_objects": 1},
        {"key": "b", "J": 0.5, "F": 0.25, "R": 0.8, "exp_type": "referring", "num_objects": 2},
        {"key": "c", "J": 0.2, "F": 0.4, "R": 0.5, "exp_type": "reasoning", "num_objects": 1},
    ]


def test_table_hand_computed():
    table = revos_table(records())
    # Per expression, percentages rounded to 2 decimals: a's J 12.35 (not 12.3456).
    assert table["referring"]["J"] == pytest.approx((12.35 + 50) / 2)
    assert table["referring"]["F"] == pytest.approx((50 + 25) / 2)
    assert table["referring"]["JF"] == pytest.approx(((12.35 + 50) / 2 + 37.5) / 2)
    assert table["referring"]["R"] == pytest.approx(85.0)
    assert table["reasoning"] == pytest.approx({"J": 20.0, "F": 40.0, "JF": 30.0, "R": 50.0, "count": 1})
    # Overall: the mean of the two subsets, not of the three expressions.
    assert table["overall"]["J"] == pytest.approx(((12.35 + 50) / 2 + 20) / 2)
    assert table["overall"]["JF"] == pytest.approx((table["referring"]["JF"] + 30.0) / 2)
    assert table["overall"]["J"] != pytest.approx((12.35 + 50 + 20) / 3)
    assert table["single"]["J"] == pytest.approx((12.35 + 20) / 2) and table["single"]["count"] == 2
    assert table["multi"]["J"] == pytest.approx(50.0) and table["multi"]["count"] == 1
    unrounded = revos_table(records(), official_rounding=False)
    assert unrounded["referring"]["J"] == pytest.approx((12.3456 + 50) / 2)


def test_table_is_order_independent_and_handles_missing_groups():
    rows = records()
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert revos_table(rows) == revos_table(shuffled)
    only_referring = revos_table([dict(r, R=None) for r in rows[:2]])
    assert only_referring["reasoning"]["J"] is None and only_referring["overall"]["JF"] is None
    assert only_referring["referring"]["R"] is None  # R only when every record has it
    assert revos_table([])["overall"]["count"] == 0
    other = {"key": "z", "J": 1.0, "F": 1.0, "exp_type": "type_2", "num_objects": 1}
    assert revos_table([*rows, other]) == revos_table(rows)  # in no subset, as in the official script


def test_table_refuses_incomplete_or_duplicate_records():
    with pytest.raises(ValueError, match="lacks"):
        revos_table([{"key": "a", "J": 0.1, "F": 0.2, "num_objects": 1}])
    with pytest.raises(ValueError, match="twice"):
        revos_table(records() + records()[:1])
