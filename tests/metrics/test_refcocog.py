"""refCOCOg gIoU / cIoU with Seg-Zero's conventions (penalty for failures, empty-empty samples skipped)."""

from __future__ import annotations

import numpy as np
import pytest

from omni_r1_verl.metrics import failed_segzero_counts, refcocog_table, segzero_counts


def test_counts_and_table_hand_computed():
    gt = np.zeros((4, 4), bool)
    gt[:2, :2] = True  # 4 pixels
    pred = np.zeros((4, 4), bool)
    pred[:2, :1] = True  # 2 pixels inside the GT
    a = {"key": "a", **segzero_counts(pred, gt)}
    assert (a["intersection"], a["union"]) == (2, 4)
    b = {"key": "b", **segzero_counts(gt | np.eye(4, dtype=bool), gt)}  # I = 4, U = 6
    table = refcocog_table([a, b])
    assert table["gIoU"] == pytest.approx(100 * (2 / 4 + 4 / 6) / 2)
    assert table["cIoU"] == pytest.approx(100 * (2 + 4) / (4 + 6))
    assert table["count"] == 2 and table["skipped"] == 0
    assert refcocog_table([b, a]) == table


def test_failures_are_penalised_and_empty_pairs_skipped():
    gt = np.zeros((4, 4), bool)
    gt[0] = True
    good = {"key": "a", **segzero_counts(gt, gt)}
    failed = {"key": "b", **failed_segzero_counts(gt)}
    empty = {"key": "c", **segzero_counts(np.zeros((4, 4)), np.zeros((4, 4)))}
    failed_empty = {"key": "d", **failed_segzero_counts(np.zeros((4, 4)))}
    table = refcocog_table([good, failed, empty, failed_empty])
    # a: 1, b: 0 (I = 0, U = 4), c: skipped, d: counted as 0 with U = 0
    assert table["gIoU"] == pytest.approx(100 / 3)
    assert table["cIoU"] == pytest.approx(100 * 4 / 8)
    assert table["count"] == 3 and table["skipped"] == 1
    assert refcocog_table([]) == {"gIoU": None, "cIoU": None, "count": 0, "skipped": 0}
    with pytest.raises(ValueError, match="different shapes"):
        segzero_counts(np.zeros((2, 2)), np.zeros((2, 3)))
