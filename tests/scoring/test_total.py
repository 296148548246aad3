"""The total reward: hand-computed VOS / RefAVS / Seg-Zero cases, every failure path counted, fixed keys,
and property tests (any text gives finite rewards in the documented ranges; permuting rollouts permutes them)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_helpers import answer, moment, vos_gt

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.contracts.system2 import DetailResult, KeyframeDetail, MaskOverlap
from omni_r1_verl.scoring import METRIC_KEYS, RewardConfig, score_group, score_response
from omni_r1_verl.scoring import total as total_module
from omni_r1_verl.scoring.config import KeyframeConfig
from omni_r1_verl.scoring.keyframe import keyframe_ranges

# 20-frame video, one object visible on video frames 4..19; the clip samples every other frame (10 frames).
GT = vos_gt([[0, 0, 0, 0] + [100] * 16])
EXTRA = {"clip": {"frame_indices": list(range(0, 20, 2)), "fps": 2.0}, "sample_id": "s1", "split": "train"}
# Two valid single-frame moments on clip frames 1 (invisible) and 4 (visible).
TEXT = answer(moment("00:00.5", "00:00.5", "the cat"), moment("00:02.0", "00:02.0", "the cat sitting"))
BOX = (10.0, 10.0, 59.0, 59.0)


def ok_detail(**kw) -> DetailResult:
    return DetailResult(
        status="ok",
        keyframes=(KeyframeDetail(1, (), ()), KeyframeDetail(4, (BOX,), (BOX,))),
        masks=MaskOverlap((0, 1, 2, 3), (0, 0, 30, 40), (0, 10, 60, 40)),
        **kw,
    )


def test_vos_hand_computed():
    r = score_response(TEXT, GT.to_json(), EXTRA, ok_detail().to_dict())
    # R_K: answer = (0.2*2 + 0.2*2 + 0.2*2 + 1.0*(0 + 1)) / 2 = 1.1, count = 0.8, diversity = 0
    assert r.keyframe_answer == pytest.approx(1.1) and r.keyframe_count == pytest.approx(0.8)
    assert r.keyframe_reward == pytest.approx(1.9)
    # R_A: keyframe 1 has no GT and no boxes, keyframe 4 is perfect -> IoU 1 / 1 GT box, no count penalty
    assert r.alignment_iou == 1.0 and r.alignment_count == 0.0 and r.alignment_reward == 1.0
    # R_G: frame 0 empty (skipped), J = 0, 0.5, 1.0
    assert r.consistency_reward == pytest.approx(0.5)
    assert r.acc == pytest.approx(1.9 + 1.0 + 2 * 0.5)
    assert r.score == pytest.approx(r.acc + 1.0) and r.format_reward == 1.0
    assert r.keyframe_saliency == pytest.approx(0.5)  # keyframes 1 and 4: areas 0 and 100
    problems = [k for k in r.to_metrics() if k.startswith(("detail_", "gt_", "no_"))]
    assert sum(r.to_metrics()[k] for k in problems if k not in ("detail_ran", "detail_seconds")) == 0
    assert r.detail_ran == 1.0 and r.answer_parsed == 1.0


def test_weights_come_from_the_config():
    cfg = RewardConfig.from_dict({"weights": {"keyframe": 0.0, "keyframe_ratio": 1.0, "alignment": 3.0}})
    r = score_response(TEXT, GT, EXTRA, ok_detail(), cfg)
    assert r.acc == pytest.approx(0.5 + 3.0 * 1.0 + 2.0 * 0.5)


def test_same_keys_for_every_kind_of_sample():
    samples = [
        score_response(TEXT, GT, EXTRA, ok_detail()),
        score_response("garbage", GT, EXTRA),
        score_response(None, "{not json", None),
        score_response("<answer>the cello</answer>", avs_gt(), {}),
        score_response("x", seg_gt(), {}),
    ]
    assert all(tuple(s.to_metrics()) == METRIC_KEYS for s in samples)
    assert {"score", "acc", "format_reward", "length_reward", "consistency_reward"} <= set(METRIC_KEYS)


def test_plain_agent_loop_without_detail_scores_what_it_can():
    r = score_response(TEXT, GT, EXTRA, None)
    assert r.detail_missing == 1.0 and r.alignment_reward == 0.0 and r.consistency_reward == 0.0
    assert r.keyframe_reward == pytest.approx(1.9) and r.acc == pytest.approx(1.9)


def test_no_valid_moment_needs_no_detail():
    r = score_response(answer(moment("00:09.0", "00:01.0")), GT, EXTRA, DetailResult.failure("no_valid_moment"))
    assert r.no_valid_moment == 1.0 and r.detail_missing == 0.0 and r.detail_failed == 0.0
    assert r.acc == pytest.approx((0.2 + 0.2) / 1)  # structure credit only


@pytest.mark.parametrize("status", ["timeout", "worker_died", "error"])
def test_system2_failures_are_counted_and_never_score_as_correct(status):
    r = score_response(TEXT, GT, EXTRA, DetailResult.failure(status, "boom").to_dict())
    assert r.detail_failed == 1.0 and getattr(r, f"detail_{status}") == 1.0
    assert r.alignment_reward == 0.0 and r.consistency_reward == 0.0
    assert r.acc == pytest.approx(1.9)


@pytest.mark.parametrize("status", ["no_boxes", "invalid_boxes"])
def test_system2_that_ran_without_usable_boxes_scores_alignment_and_counts_missing_masks(status):
    keyframes = (KeyframeDetail(1), KeyframeDetail(4, (), (BOX,), rejected_boxes=int(status == "invalid_boxes")))
    r = score_response(TEXT, GT, EXTRA, DetailResult.failure(status, "nothing usable", keyframes=keyframes).to_dict())
    assert r.alignment_iou == 0.0 and r.alignment_reward < 0 and r.consistency_reward == 0.0
    assert r.masks_missing == 1.0 and r.detail_failed == 0.0
    assert r.unparsed_keyframes == float(status == "invalid_boxes")


def test_alignment_counts_without_sam2():
    # Reference bug: with a_G = 0 the box terms were dropped too.
    cfg = RewardConfig.from_dict({"weights": {"consistency": 0.0}})
    r = score_response(TEXT, GT, EXTRA, ok_detail(), cfg)
    assert r.alignment_reward == 1.0 and r.acc == pytest.approx(1.9 + 1.0) and r.masks_missing == 0.0


@pytest.mark.parametrize(
    "detail",
    [
        {"version": 2, "status": "ok", "keyframes": "nope"},
        {**ok_detail().to_dict(), "version": 1},
        {"status": "ok"},
        "ok",
        ok_detail().replace(keyframes=(KeyframeDetail(50, (BOX,), (BOX,)),)).to_dict(),  # beyond the clip
        DetailResult.failure("no_valid_moment").to_dict(),  # System 2 disagrees with the reward's parse
    ],
)
def test_malformed_or_inconsistent_detail_is_counted(detail):
    r = score_response(TEXT, GT, EXTRA, detail)
    assert r.detail_invalid == 1.0 and r.detail_failed == 1.0 and r.alignment_reward == 0.0
    assert r.acc == pytest.approx(1.9)


def test_degenerate_boxes_from_system2_are_counted():
    detail = ok_detail().to_dict()
    detail["keyframes"][1]["pred_boxes"] = [
        [float("nan"), 0, 5, 5],
        [50, 50, 10, 10],
        [1e12, 1e12, 1e13, 1e13],
        list(BOX),
    ]
    r = score_response(TEXT, GT, EXTRA, detail)
    assert r.invalid_boxes == 3 and r.alignment_iou == 1.0 and math.isfinite(r.score)


def test_broken_ground_truth_scores_zero_and_is_counted(caplog):
    r = score_response(TEXT, '{"task": "vos"}', EXTRA, ok_detail())
    assert r.gt_invalid == 1.0 and r.acc == 0.0 and r.score == 1.0  # format still counts
    assert "s1" in caplog.text


def test_missing_clip_falls_back_to_the_full_video():
    text = answer(moment("00:01.5", "00:01.5"))  # frame 3: video frame 6 in the clip (visible), 3 without (not)
    assert score_response(text, GT, EXTRA, None).keyframe_answer == pytest.approx(1.6)
    r = score_response(text, GT, {}, None)
    assert r.clip_missing == 1.0 and r.keyframe_answer == pytest.approx(0.6)


def test_empty_ground_truth_is_counted():
    r = score_response(TEXT, vos_gt([[0] * 20]), EXTRA, None)
    assert r.gt_empty == 1.0 and math.isfinite(r.score)


def test_scoring_bug_is_caught_counted_and_scores_zero(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(total_module, "keyframe_terms", boom)
    r = score_response(TEXT, GT, EXTRA, None)
    assert r.scoring_error == 1.0 and r.score == 0.0


def avs_gt(null: bool = False) -> GroundTruth:
    return GroundTruth(
        task="avs",
        gt_key="",
        num_frames=10,
        height=100,
        width=200,
        num_objects=0 if null else 1,
        boxes=[] if null else [list(BOX)],
        null_target=null,
    )


def avs_detail(pred) -> DetailResult:
    keyframes = (KeyframeDetail(0, tuple(map(tuple, pred)), ()),)
    if not pred:
        return DetailResult.failure("no_boxes", "the grounding model returned no box", keyframes=keyframes)
    return DetailResult("ok", keyframes, masks=MaskOverlap((0,), (0,), (0,)))


def test_refavs_detection_reward():
    r = score_response("<think>a</think><answer>The cello</answer>", avs_gt(), {}, avs_detail([[10, 10, 34, 59]]))
    assert r.detection_reward == pytest.approx(0.5) and r.acc == pytest.approx(0.5) and r.score == pytest.approx(1.5)
    null = score_response("<think>a</think><answer>nobody</answer>", avs_gt(null=True), {}, avs_detail([]))
    assert null.detection_reward == 1.0
    empty = score_response("<think>a</think><answer> </answer>", avs_gt(), {}, None)
    assert empty.no_answer == 1.0 and empty.detail_missing == 0.0 and empty.acc == 0.0
    missing = score_response("<answer>The cello</answer>", avs_gt(), {}, None)
    assert missing.detail_missing == 1.0 and missing.acc == 0.0


def seg_gt() -> GroundTruth:
    return GroundTruth(
        task="image_grounding",
        gt_key="",
        num_frames=1,
        height=840,
        width=840,
        num_objects=1,
        boxes=[[100, 100, 299, 199]],
        points=[[[150, 150], [250, 150]]],
    )


def test_segzero_through_score_response():
    obj = {"bbox_2d": [100, 100, 299, 199], "points_1": [150, 150], "points_2": [250, 150]}
    r = score_response(f"<think>a</think><answer>{json.dumps(obj)}</answer>", seg_gt(), {})
    assert r.grounding_reward == pytest.approx(4.4) and r.acc == pytest.approx(4.4) and r.score == pytest.approx(5.4)
    r = score_response("<answer>{}</answer>", seg_gt().to_json(), {"resized_hw": [420, 420]})
    assert r.grounding_reward == 0.0


def test_score_group_adds_the_length_term_per_group():
    texts = [TEXT, TEXT, "<answer>none</answer>"]
    group = score_group(texts, GT, EXTRA, [ok_detail(), None, None], lengths=[400, 900, 400])
    singles = [score_response(t, GT, EXTRA, d) for t, d in zip(texts, [ok_detail(), None, None])]
    assert [g.length_reward for g in group] == [1.0, 0.0, 0.0]  # two qualified, only the first in the window
    assert [g.score - g.length_reward for g in group] == pytest.approx([s.score for s in singles])
    assert all(g.length_no_group == 1.0 for g in score_group(texts, GT, EXTRA))


# Documented ranges (docs/rewards.md; the keyframe ones from keyframe_ranges, which a test checks against the doc).
UNIT_RANGES = {
    k: (0.0, 1.0)
    for k in ("format_reward", "keyframe_saliency", "alignment_iou", "consistency_reward", "length_reward")
}
_pieces = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "{",
        "}",
        "[",
        "]",
        ",",
        '"start_time": ',
        '"end_time": ',
        '"description": ',
        '"00:01.5"',
        '"00:04.0"',
        '"00:09.9"',
        '"1:00"',
        '"x"',
        "null",
        "3",
        "-1",
        "NaN",
        " ",
        "\n",
    ]
)
texts = st.lists(_pieces, max_size=80).map("".join) | st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(texts, st.sampled_from([1, 3, 10]))
def test_any_text_gives_finite_rewards_in_range(text, clip_frames):
    extra = {**EXTRA, "clip": {"frame_indices": list(range(0, 2 * clip_frames, 2)), "fps": 2.0}}
    r = score_response(text, GT, extra, ok_detail() if clip_frames == 10 else None)
    metrics = r.to_metrics()
    assert all(math.isfinite(v) for v in metrics.values())
    for key, (low, high) in {**UNIT_RANGES, **keyframe_ranges(KeyframeConfig(), clip_frames)}.items():
        assert low - 1e-9 <= metrics[key] <= high + 1e-9, (key, metrics[key])
    assert r.scoring_error == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=2, max_size=8), st.lists(st.integers(0, 900), min_size=8, max_size=8), st.randoms())
def test_permuting_rollouts_permutes_rewards(group, lengths, rnd):
    lengths = lengths[: len(group)]
    order = list(range(len(group)))
    rnd.shuffle(order)
    base = score_group(group, GT, EXTRA, [ok_detail()] * len(group), lengths)
    permuted = score_group(
        [group[i] for i in order], GT, EXTRA, [ok_detail()] * len(group), [lengths[i] for i in order]
    )
    assert permuted == [base[i] for i in order]


def test_parsed_share_and_system2_counters():
    timed = ok_detail(timings={"grounding": 0.5, "total": 1.25}).to_dict()
    ran = score_response(TEXT, GT.to_json(), EXTRA, timed)
    assert (ran.answer_parsed, ran.detail_ran, ran.detail_seconds) == (1.0, 1.0, 1.25)
    # No System-2 result: the answer still parsed, System 2 did not run.
    alone = score_response(TEXT, GT.to_json(), EXTRA, None)
    assert (alone.answer_parsed, alone.detail_ran, alone.detail_seconds) == (1.0, 0.0, 0.0)
    # An answer with no valid moment: nothing parsed; a System-2 failure did not run either.
    failed = DetailResult.failure("timeout", "late").to_dict()
    bad = score_response("<think>x</think><answer>nothing</answer>", GT.to_json(), EXTRA, failed)
    assert (bad.answer_parsed, bad.detail_ran) == (0.0, 0.0)
    # Ref-AVS: a non-empty answer is what System 2 grounds.
    avs = score_response("<think>a</think><answer>The cello</answer>", avs_gt(), {}, avs_detail([[10, 10, 34, 59]]))
    assert (avs.answer_parsed, avs.detail_ran) == (1.0, 1.0)
    assert score_response("<think>a</think>", avs_gt(), {}).answer_parsed == 0.0
