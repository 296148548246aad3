"""Per-step means of the per-sample reward metrics."""

from __future__ import annotations

import math

import numpy as np

from omni_r1_verl.scoring import METRIC_KEYS, RewardConfig, score_response
from omni_r1_verl.scoring.summary import step_means


def test_means_per_key_skip_what_a_sample_lacks():
    infos = [
        {"score": 1.0, "answer_parsed": 1.0, "detail_ran": 1.0},
        {"score": 0.0, "answer_parsed": 0.0, "detail_ran": np.float32(0.0)},
        {"score": 0.5, "answer_parsed": float("nan"), "detail_ran": "yes"},  # unusable values do not count
        None,  # a trajectory that was never scored
    ]
    out = step_means(infos, keys=("score", "answer_parsed", "detail_ran", "alignment_reward"))
    assert out["omni_r1/score"] == 0.5
    assert out["omni_r1/answer_parsed"] == 0.5
    assert out["omni_r1/detail_ran"] == 0.5
    assert "omni_r1/alignment_reward" not in out  # no sample had it
    assert (out["omni_r1/count"], out["omni_r1/unscored"]) == (4.0, 1.0)


def test_every_metric_key_of_real_breakdowns():
    texts = ["<think>a</think><answer>x</answer>", None, "<answer>" * 50]
    gt = '{"task":"avs","gt_key":"k","num_frames":1,"height":10,"width":10,"num_objects":1,"boxes":[[1,1,5,5]]}'
    infos = [score_response(t, gt, {}, None, RewardConfig()).to_metrics() for t in texts]
    out = step_means(infos, prefix="p")
    assert set(out) == {f"p/{k}" for k in METRIC_KEYS} | {"p/count", "p/unscored"}
    assert all(math.isfinite(v) for v in out.values())
    assert out["p/answer_parsed"] == 1 / 3
