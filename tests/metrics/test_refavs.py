"""Ref-AVS J, F, S (``utils/metric/utility.py``) and their aggregation over the official test batches."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from omni_r1_verl.metrics import (
    RefAVSAccumulator,
    failed_refavs_scores,
    refavs_f,
    refavs_f_curves,
    refavs_j,
    refavs_null_s,
    refavs_table,
)


def test_j_threshold_and_empty_gt_frames():
    gt = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]], bool)
    pred = np.array([[[0.5, 0.4], [0.9, 0.1]], [[0.5, 0.1], [0.1, 0.4]]])
    # frame 0: predicted {0.5, 0.9} (strictly above 0.4) -> I = 1, U = 3; frame 1 (empty GT): 3 of 4 unpredicted
    assert refavs_j(pred, gt).tolist() == pytest.approx([1 / 3, 3 / 4])


def test_f_hand_computed_single_frame():
    gt = np.array([[1, 0], [1, 0]], bool)
    pred = np.array([[0.9, 0.6], [0.3, 0.0]])
    # thresholds in (0.6, 0.9]: P = 1, R = 1/2 -> 1.3 * 0.5 / (0.3 + 0.5) = 0.8125 is the best point of the curve
    assert refavs_f(pred, gt) == pytest.approx(0.8125)


def test_f_averages_curves_before_the_max_and_skips_empty_gt():
    gt = np.array([[[1, 0], [1, 0]], [[1, 1], [0, 0]], [[0, 0], [0, 0]]], bool)
    pred = np.array([[[0.9, 0.6], [0.3, 0.0]], [[0.2, 0.2], [0.95, 0.95]], [[1.0, 1.0], [1.0, 1.0]]])
    # best mean point: thresholds in (0, 0.2]: frame 0 P = 2/3, R = 1; frame 1 P = 1/2, R = 1
    f0, f1 = 1.3 * (2 / 3) / (0.3 * (2 / 3) + 1), 1.3 * 0.5 / (0.3 * 0.5 + 1)
    assert refavs_f(pred, gt) == pytest.approx((f0 + f1) / 2)
    assert refavs_f(pred, gt) < (0.8125 + f1) / 2  # not the mean of per-frame maxima
    assert refavs_f(pred[2:], gt[2:]) == 0.0
    assert refavs_f_curves(pred, gt).shape == (2, 255)


def eval_pr_curve(pred, gt, num=255):
    """``_eval_pr`` and the F formula of ``Eval_Fmeasure``, one threshold at a time (restated)."""
    out = []
    for t in np.linspace(0, 1 - 1e-10, num):
        predicted = pred >= t
        tp = (predicted & gt).sum()
        precision, recall = tp / (predicted.sum() + 1e-20), tp / (gt.sum() + 1e-20)
        denominator = 0.3 * precision + recall
        out.append(1.3 * precision * recall / denominator if denominator > 0 else 0.0)
    return np.array(out)


def test_f_curves_match_the_threshold_loop_for_binary_and_soft_predictions():
    rng = np.random.default_rng(0)
    gt = rng.random((3, 8, 8)) > 0.5
    for pred in (rng.random((3, 8, 8)) > 0.5, rng.random((3, 8, 8)), np.round(rng.random((3, 8, 8)), 1)):
        curves = refavs_f_curves(pred, gt)
        for t in range(3):
            assert curves[t] == pytest.approx(eval_pr_curve(pred[t], gt[t]), abs=1e-12)


def test_f_of_binary_masks_includes_the_all_pixels_threshold():
    gt = np.zeros((1, 4, 4), bool)
    gt[0, :2] = True
    assert refavs_f(gt.astype(float), gt) == pytest.approx(1.0)
    # An empty prediction still scores at t = 0, where every pixel is predicted: P = 1/2, R = 1.
    assert refavs_f(np.zeros((1, 4, 4)), gt) == pytest.approx(1.3 * 0.5 / (0.3 * 0.5 + 1))


def test_null_s():
    pred = np.zeros((2, 2, 2))
    pred[0, 0, 0] = 0.9
    pred[1, 0, 0] = 0.5  # not strictly above 0.5
    assert refavs_null_s(pred) == pytest.approx(math.sqrt(1 / 8))
    assert refavs_null_s(np.zeros((3, 4, 4))) == 0.0


def sample(rng, frames=10, empty_gt=False):
    gt = np.zeros((frames, 8, 8), bool)
    if not empty_gt:
        gt[:, 2:6, 2:6] = True
        gt[0] = False  # one frame without the target
    pred = rng.random((frames, 8, 8)) > 0.6
    return pred, gt


def record(key, order, subset, pred, gt, chunks=(10,)):
    acc = RefAVSAccumulator()
    start = 0
    for size in chunks:
        acc.update(pred[start : start + size], gt[start : start + size])
        start += size
    return {"key": key, "order": order, "subset": subset, **acc.result()}


def test_accumulator_record_matches_the_functions_and_chunking():
    rng = np.random.default_rng(1)
    pred, gt = sample(rng)
    rec = record("a", 0, "seen", pred, gt)
    assert rec == record("a", 0, "seen", pred, gt, chunks=(3, 3, 4))
    assert rec["J"] == pytest.approx(refavs_j(pred, gt).mean())
    assert rec["F"] == pytest.approx(refavs_f(pred, gt))
    assert rec["S"] == pytest.approx(refavs_null_s(pred))
    assert rec["f_frames"] == 9 and rec["frames"] == 10
    assert len(rec["f_curve"]) == 2  # a binary prediction's curve: the t = 0 value, then one run
    assert json.loads(json.dumps(rec)) == rec


def test_table_rebuilds_the_official_batches():
    rng = np.random.default_rng(2)
    samples = [sample(rng) for _ in range(5)]
    recs = [record(f"s{i}", 10 - i, "seen", p, g) for i, (p, g) in enumerate(samples)]
    # metadata order is 10 - i: batches are samples (4, 3, 2, 1) and (0,)
    order = [4, 3, 2, 1, 0]
    batches = [order[:4], order[4:]]
    j = [np.concatenate([refavs_j(*samples[i]) for i in b]).mean() for b in batches]
    f = [
        refavs_f(np.concatenate([samples[i][0] for i in b]), np.concatenate([samples[i][1] for i in b]))
        for b in batches
    ]
    table = refavs_table(recs)["seen"]
    assert table["J"] == pytest.approx(100 * np.mean(j)) and table["F"] == pytest.approx(100 * np.mean(f))
    assert table["JF"] == pytest.approx((table["J"] + table["F"]) / 2)
    assert table["count"] == 5 and table["batches"] == 2
    shuffled = recs[:]
    random.Random(0).shuffle(shuffled)
    assert refavs_table(shuffled) == refavs_table(recs)
    per_video = refavs_table(recs, batch_size=1)["seen"]
    assert per_video["J"] == pytest.approx(100 * np.mean([refavs_j(*s).mean() for s in samples]))
    assert per_video["J"] != pytest.approx(table["J"], abs=1e-9)  # batching changes the figure


def test_null_subset_s_per_batch():
    rng = np.random.default_rng(3)
    preds = [sample(rng, empty_gt=True)[0] for _ in range(5)]
    recs = [record(f"n{i}", i, "null", p, np.zeros_like(p)) for i, p in enumerate(preds)]
    table = refavs_table(recs)["null"]
    expected = np.mean([refavs_null_s(np.concatenate(preds[:4])), refavs_null_s(preds[4])])
    assert table == pytest.approx({"S": expected, "count": 5, "batches": 2})
    assert "J" not in table


def test_failed_sample_scores_the_worst_value():
    rng = np.random.default_rng(4)
    pred, gt = sample(rng)
    good = record("a", 0, "unseen", pred, gt)
    bad = {"key": "b", "order": 1, "subset": "unseen", **failed_refavs_scores(10, gt.size, 9)}
    table = refavs_table([good, bad], batch_size=1)["unseen"]
    assert table["J"] == pytest.approx(100 * good["J"] / 2) and table["F"] == pytest.approx(100 * good["F"] / 2)
    null = refavs_table([{"key": "c", "order": 0, "subset": "null", **failed_refavs_scores(10, 640, 0)}])
    assert null["null"]["S"] == 1.0
    with pytest.raises(ValueError, match="lacks"):
        refavs_table([{k: v for k, v in good.items() if k != "order"}])
