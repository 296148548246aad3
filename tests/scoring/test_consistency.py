"""R_G from per-frame counts, and the mask reductions that produce the counts."""

from __future__ import annotations

import numpy as np
import pytest

from omni_r1_verl.scoring import overlap_counts, overlap_counts_group, union_masks
from omni_r1_verl.scoring.config import ConsistencyConfig
from omni_r1_verl.scoring.consistency import consistency_terms

SKIP, ONE = ConsistencyConfig(), ConsistencyConfig(empty_frames="one")


def test_mean_j_over_frames():
    terms = consistency_terms([5, 0, 10], [10, 4, 10], SKIP)
    assert terms.value == pytest.approx((0.5 + 0.0 + 1.0) / 3) and terms.frames == 3


def test_empty_frames_are_skipped_or_count_as_one():
    # Reference bug: with J = 1 on empty frames an empty prediction earned the target-absent share.
    assert consistency_terms([0, 0, 0], [0, 0, 10], SKIP).value == 0.0
    assert consistency_terms([0, 0, 0], [0, 0, 10], ONE).value == pytest.approx(2 / 3)
    terms = consistency_terms([0, 0], [0, 0], SKIP)
    assert terms.value == 1.0 and terms.empty_frames == 2 and terms.frames == 0


def test_no_frames_gives_zero():
    assert consistency_terms([], [], SKIP).value == 0.0


@pytest.mark.parametrize("shape", [(3, 4, 16), (2, 5, 7)])  # H*W a multiple of 8 (word path) and not
def test_overlap_counts_match_plain_boolean_sums(shape):
    rng = np.random.default_rng(0)
    pred, gt = rng.random(shape) > 0.5, rng.random(shape) > 0.3
    inter, union = overlap_counts(pred, gt)
    assert inter.tolist() == (pred & gt).sum(axis=(1, 2)).tolist()
    assert union.tolist() == (pred | gt).sum(axis=(1, 2)).tolist()
    group = overlap_counts_group([pred, ~pred, np.zeros_like(pred)], gt)
    assert [i.tolist() for i, _ in group] == [(p & gt).sum(axis=(1, 2)).tolist() for p in (pred, ~pred, pred & False)]


def test_overlap_counts_accept_0_255_masks_and_reject_shape_mismatch():
    pred = np.zeros((1, 2, 8), np.uint8)
    pred[0, 0, :4] = 255
    gt = np.zeros((1, 2, 8), bool)
    gt[0, :, :2] = True
    assert [c.tolist() for c in overlap_counts(pred, gt)] == [[2], [6]]
    with pytest.raises(ValueError):
        overlap_counts(pred, gt[:, :1])


def test_union_masks():
    masks = np.zeros((2, 1, 2, 2), bool)
    masks[0, 0, 0, 0] = masks[1, 0, 1, 1] = True
    assert union_masks(masks).sum() == 2
    assert union_masks(np.zeros((0, 3, 2, 2))).shape == (3, 2, 2)
