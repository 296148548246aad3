"""Streaming per-sample J / F / R of a video: chunking does not change the record; per-object scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mask_cases import random_pair

from omni_r1_verl.metrics import VideoAccumulator, failed_video_scores, j_and_f, revos_robustness


def feed(acc, pred, gt, fg=None, chunk=3):
    for start in range(0, pred.shape[0], chunk):
        sl = slice(start, start + chunk)
        acc.update(pred[sl], gt[:, sl], None if fg is None else fg[sl])
    return acc.result()


def test_record_is_the_mean_over_frames_and_independent_of_chunking():
    rng = np.random.default_rng(0)
    pred, gt = random_pair(rng, 7, 30, 40)
    fg = gt | (rng.random(gt.shape) > 0.7)
    records = [
        feed(VideoAccumulator(robustness=True, keep_frames=True), pred, gt[None], fg, chunk) for chunk in (1, 2, 7)
    ]
    assert records[0] == records[1] == records[2]
    j, f = j_and_f(pred, gt)
    r = revos_robustness(pred, gt, fg)
    record = records[0]
    assert record["frames"] == 7
    assert record["J"] == pytest.approx(j.mean()) and record["F"] == pytest.approx(f.mean())
    assert record["JF"] == pytest.approx((j.mean() + f.mean()) / 2)
    assert record["R"] == pytest.approx(r.mean())
    assert record["per_frame"]["J"] == j.tolist() and record["per_frame"]["R"] == r.tolist()
    assert record["objects"] == [{"J": record["J"], "F": record["F"]}]  # one object: the expression's own scores
    assert json.loads(json.dumps(record)) == record  # a JSONL line


def test_multi_object_expression_scores_the_union_and_each_object_with_the_others_void():
    gt = np.zeros((2, 1, 20, 40), bool)
    gt[0, 0, 2:10, 2:10] = True
    gt[1, 0, 10:18, 25:35] = True
    pred = gt[0] | gt[1]  # both objects exactly
    acc = VideoAccumulator()
    acc.update(pred, gt)
    record = acc.result()
    assert record["J"] == 1.0 and record["F"] == 1.0
    assert record["objects"] == [{"J": 1.0, "F": 1.0}, {"J": 1.0, "F": 1.0}]
    missed = gt[0].copy()  # the second object is missed
    acc = VideoAccumulator()
    acc.update(missed, gt)
    record = acc.result()
    assert record["objects"][0]["J"] == 1.0 and record["objects"][1]["J"] == 0.0
    assert record["J"] == pytest.approx(64 / (64 + 80))
    acc = VideoAccumulator(per_object=False)
    acc.update(missed, gt)
    assert "objects" not in acc.result()


def test_single_frames_union_gt_and_no_object_expressions():
    gt = np.zeros((8, 8), bool)
    gt[2:5, 2:5] = True
    acc = VideoAccumulator(robustness=True)
    acc.update(gt, gt, gt)  # one (H, W) frame, gt as one mask
    assert acc.result()["J"] == 1.0 and acc.result()["R"] == 1.0
    nothing = VideoAccumulator()
    nothing.update(np.zeros((2, 8, 8), bool), np.zeros((0, 2, 8, 8), bool))
    assert nothing.result()["J"] == 1.0 and nothing.result()["objects"] == []  # nothing to find, nothing found
    spurious = VideoAccumulator()
    spurious.update(gt[None], np.zeros((0, 1, 8, 8), bool))
    assert spurious.result()["J"] == 0.0 and spurious.result()["F"] == 0.0


def test_bad_inputs_are_refused_with_clear_errors():
    acc = VideoAccumulator(robustness=True)
    with pytest.raises(ValueError, match="foreground"):
        acc.update(np.zeros((1, 4, 4)), np.zeros((1, 1, 4, 4)))
    acc = VideoAccumulator()
    with pytest.raises(ValueError, match="do not match"):
        acc.update(np.zeros((2, 4, 4)), np.zeros((1, 2, 4, 5)))
    acc.update(np.zeros((2, 4, 4)), np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="after chunks"):
        acc.update(np.zeros((2, 4, 4)), np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="no frames"):
        VideoAccumulator().result()


def test_failed_sample_scores_zero():
    record = failed_video_scores(num_objects=2, robustness=True)
    assert record["J"] == record["F"] == record["JF"] == record["R"] == 0.0
    assert record["frames"] == 0 and len(record["objects"]) == 2


def test_scores_from_the_ground_truth_store(tmp_path):
    from omni_r1_verl.data import rle
    from omni_r1_verl.data.gt_store import GroundTruthStore, GroundTruthWriter

    rng = np.random.default_rng(5)
    objects = rng.random((2, 6, 24, 32)) > 0.7
    foreground = objects.any(axis=0) | (rng.random((6, 24, 32)) > 0.9)
    with GroundTruthWriter(tmp_path / "gt") as writer:
        ids = [writer.add_object(rle.encode(o), height=24, width=32) for o in objects]
        fg = writer.add_object(rle.encode(foreground), height=24, width=32)
        writer.add_sample("revos/valid/v/0", ids, num_frames=6, height=24, width=32, foreground=fg)
    store = GroundTruthStore(tmp_path / "gt")
    pred = objects[0] | (rng.random((6, 24, 32)) > 0.95)
    acc = VideoAccumulator(robustness=True)
    for frames in ([0, 1, 2], [3, 4], [5]):  # the evaluator's chunks, read from the store
        acc.update(pred[frames], store.masks("revos/valid/v/0", frames), store.foreground("revos/valid/v/0", frames))
    record = acc.result()
    j, f = j_and_f(pred, objects.any(axis=0))
    assert record["J"] == pytest.approx(j.mean()) and record["F"] == pytest.approx(f.mean())
    assert record["R"] == pytest.approx(revos_robustness(pred, objects, foreground).mean())
    assert len(record["objects"]) == 2
