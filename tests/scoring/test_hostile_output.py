"""Hostile model output: every scoring entry point is total (never raises, well-formed result, problems counted)
and its work does not grow faster than the input (Python lines counted, never wall time).

Generated classes: huge and non-finite numbers in every numeric field (integers beyond float range, beyond Python's
digit limit, NaN / Infinity literals, wrong types), unclosed and nested tags, long clips, non-string responses.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_helpers import answer, moment, vos_gt

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.contracts.system2 import SCHEMA_VERSION
from omni_r1_verl.scoring import METRIC_KEYS, Problem, parse_answer, parse_time, score_response
from omni_r1_verl.scoring.answer import Moment, select_keyframes
from omni_r1_verl.scoring.boxes import clean_boxes, match_boxes
from omni_r1_verl.scoring.config import AnswerConfig, BoxConfig, KeyframeConfig, SegZeroConfig
from omni_r1_verl.scoring.format import format_reward
from omni_r1_verl.scoring.keyframe import keyframe_terms
from omni_r1_verl.scoring.segzero import segzero_terms

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Values no numeric field may turn into an exception: beyond float range, non-finite, negative, wrong types.
BAD_NUMBERS = [10**309, -(10**309), 10**1000, math.nan, math.inf, -math.inf, -1, -0.5, True, None, "x", [1], {}]
bad_numbers = st.sampled_from(BAD_NUMBERS)
numbers = bad_numbers | st.integers() | st.floats() | st.sampled_from([0, 1.5, 3, 1e308])
#: JSON literals json.dumps never writes: past the digit limit (a decode error) and overflowing exponents (inf).
RAW_LITERALS = ["1" + "0" * 5000, "1e999", "-1e999", "Infinity", "NaN", "-" + "9" * 400]


def _is_bad_time(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return not isinstance(value, str) or parse_time(value) is None
    try:
        return not (math.isfinite(float(value)) and value >= 0)
    except OverflowError:
        return True


hostile_moments = st.fixed_dictionaries(
    {"start_time": numbers | st.sampled_from(["00:01.0", "00:99", "1e3"]), "end_time": numbers, "description": numbers}
)


@SETTINGS
@given(st.lists(hostile_moments, min_size=1, max_size=6), st.integers(1, 40), st.sampled_from([0.5, 2.0, 30.0]))
def test_every_bad_number_in_a_moment_is_a_counted_problem(blocks, num_frames, fps):
    parsed = parse_answer(answer(*blocks), num_frames, fps)
    assert len(parsed.moments) == len(blocks)
    for block, m in zip(blocks, parsed.moments):
        if _is_bad_time(block["start_time"]) or _is_bad_time(block["end_time"]):
            assert Problem.BAD_TIME in m.problems and not m.valid
        if not (isinstance(block["description"], str) and block["description"].strip()):
            assert Problem.BAD_DESCRIPTION in m.problems and not m.valid


@pytest.mark.parametrize("literal", RAW_LITERALS)
@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_raw_number_literals_never_raise(literal, field):
    block = json.dumps(moment("00:01.0", "00:02.0")).replace(json.dumps(moment("00:01.0", "00:02.0")[field]), literal)
    parsed = parse_answer(answer(block), 12, 2.0)
    [m] = parsed.moments
    assert not m.valid and ({Problem.BAD_TIME, Problem.BAD_JSON} & set(m.problems))


_tags = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", "<answer", "think>", "[", "]", "{", "}"])
_blocks = st.sampled_from([json.dumps(moment("00:00.5", "00:01.0")), '{"start_time": ', '"x"', ",", " "])
texts = st.lists(_tags | _blocks | st.sampled_from(RAW_LITERALS[1:]), max_size=40).map("".join)
not_text = st.sampled_from([None, b"<think>x</think>", 7, ["<think>"], {"answer": 1}])
clips = st.tuples(
    st.integers(1, 20_000) | bad_numbers | st.sampled_from([0, 2**40, "12"]),
    st.sampled_from([2.0, 1e-300, 1e300]) | bad_numbers,
)


def _check_well_formed(parsed, config: AnswerConfig) -> None:
    assert parsed.problems == tuple(sorted(set(parsed.problems))) and all(
        isinstance(p, Problem) for p in parsed.problems
    )
    assert parsed.num_blocks == len(parsed.moments) <= config.max_moments
    assert (parsed.dropped_moments > 0) == (Problem.TOO_MANY_MOMENTS in parsed.problems)
    for m in parsed.moments:
        assert m.valid == (not m.problems and len(m.frames) > 0)
        assert m.valid or m.problems  # an unusable moment always says why
        assert set(m.problems) <= set(parsed.problems)
    assert len(parsed.keyframes) <= config.max_keyframes
    assert len({k.frame for k in parsed.keyframes}) == len(parsed.keyframes)
    for k in parsed.keyframes:
        owner = parsed.moments[k.moment]
        assert owner.valid and k.frame in owner.frames and 0 <= k.frame < parsed.num_frames
    assert (not parsed.valid_moments) == (Problem.NO_VALID_MOMENT in parsed.problems)


@SETTINGS
@given(texts | st.text(max_size=100) | not_text, clips)
def test_parse_answer_is_total(text, clip):
    config = AnswerConfig(max_moments=4, max_keyframes=3, max_answer_chars=300)
    parsed = parse_answer(text, *clip, config)
    _check_well_formed(parsed, config)
    if not isinstance(text, str):
        assert Problem.NOT_TEXT in parsed.problems


GT = vos_gt([[0, 0, 0, 0] + [100] * 16])
BOX = [10.0, 10.0, 59.0, 59.0]
box_lists = st.lists(st.lists(numbers, min_size=4, max_size=4) | st.just(BOX) | numbers, max_size=3)
details = st.fixed_dictionaries(
    {
        "version": st.just(SCHEMA_VERSION),
        "status": st.just("ok"),
        "keyframes": st.lists(
            st.fixed_dictionaries({"frame": st.integers(0, 9), "pred_boxes": box_lists, "gt_boxes": box_lists}),
            max_size=2,
        ),
        "masks": st.fixed_dictionaries(
            {
                "frames": st.just([0, 1]),
                "intersection": st.lists(numbers, min_size=2, max_size=2),
                "union": st.lists(numbers, min_size=2, max_size=2),
            }
        ),
    }
)
extra_infos = st.fixed_dictionaries(
    {"clip": st.fixed_dictionaries({"frame_indices": st.just(list(range(0, 20, 2))) | numbers, "fps": numbers})}
)


@SETTINGS
@given(texts | not_text, extra_infos, details | st.none())
def test_score_response_is_total_and_keeps_the_format_reward(text, extra_info, detail):
    r = score_response(text, GT, extra_info, detail)
    metrics = r.to_metrics()
    assert tuple(metrics) == METRIC_KEYS and all(math.isfinite(v) for v in metrics.values())
    assert r.scoring_error == 0.0
    assert r.format_reward == format_reward(text)


def _four_finite(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 4
        and all(not isinstance(v, bool) and isinstance(v, (int, float)) and abs(v) < 1e308 for v in value)
        and all(math.isfinite(v) for v in value)
    )


@SETTINGS
@given(st.dictionaries(st.sampled_from(["bbox_2d", "bbox", "points_1", "points_2"]), box_lists | numbers))
def test_segzero_counts_unusable_boxes(obj):
    gt_box, gt_points, hw = [100, 100, 299, 199], [[150, 150], [250, 150]], (400, 400)
    terms = segzero_terms(json.dumps(obj), gt_box, gt_points, hw, hw, SegZeroConfig(), BoxConfig())
    assert all(math.isfinite(v) for v in (terms.iou, terms.iou_reward, terms.box_reward, terms.point_reward))
    box = obj["bbox_2d"] if "bbox_2d" in obj else obj.get("bbox")
    if box is not None and not _four_finite(box):
        assert terms.invalid_box and terms.iou == 0.0


@pytest.mark.parametrize("value", BAD_NUMBERS[:6])
def test_boxes_with_huge_or_non_finite_coordinates_are_counted_invalid(value):
    cleaned = clean_boxes([[value, 0, 5, 5], BOX, [0, value, 5, 5]], 100, 100)
    assert cleaned.invalid == 2 and cleaned.boxes.tolist() == [BOX]
    match = match_boxes([[1, 1, value, 5]], [BOX], 100, 100)
    assert match.invalid_pred == 1 and match.iou_sum == 0.0


def test_detail_with_numbers_beyond_float_range_is_counted_not_a_scoring_error():
    detail = {
        "version": SCHEMA_VERSION,
        "status": "ok",
        "keyframes": [{"frame": 1, "pred_boxes": [[10**309, 0, 5, 5]], "gt_boxes": []}],
        "masks": {"frames": [0], "intersection": [10**400], "union": [10**400]},
    }
    text = answer(moment("00:00.5", "00:00.5"))
    r = score_response(text, GT, {"clip": {"frame_indices": list(range(0, 20, 2)), "fps": 2.0}}, detail)
    assert r.scoring_error == 0.0 and r.format_reward == 1.0
    assert r.detail_invalid == 1.0 or r.invalid_boxes == 1.0


# ---- work does not grow with the clip or faster than the text -----------------------------------------------


def _full_span_moments(num_frames: int, count: int = 32) -> tuple[Moment, ...]:
    return tuple(Moment(i, 0.0, 1.0, "d", range(num_frames)) for i in range(count))


def test_keyframe_selection_does_not_grow_with_the_video(count_steps):
    # The reference-style list membership test made this O(moments x frames^2): 31 s at 16,000 frames.
    short, long = (count_steps(select_keyframes, _full_span_moments(f), 4) for f in (100, 1000))
    assert long == short


def _long_video_answer(num_frames: int) -> str:
    end = f"{(num_frames - 1) / 2:.1f}"
    return answer(*[moment("00:00.0", end)] * 32)


def test_parsing_and_keyframe_terms_do_not_grow_with_the_video(count_steps):
    import numpy as np

    def work(num_frames):
        parsed = parse_answer(_long_video_answer(num_frames), num_frames, 2.0)
        assert len(parsed.valid_moments) == 32 and len(parsed.moments[0].frames) == num_frames
        return count_steps(keyframe_terms, parsed, np.ones((2, num_frames)), KeyframeConfig()) + count_steps(
            parse_answer, _long_video_answer(num_frames), num_frames, 2.0
        )

    assert work(2_000) == work(200)


def test_score_without_a_clip_does_not_grow_with_the_video(count_steps):
    def work(num_frames):
        gt = GroundTruth(
            task="vos", gt_key="k", num_frames=num_frames, height=10, width=10, num_objects=1, areas=[[1] * num_frames]
        )
        return count_steps(score_response, _long_video_answer(num_frames), gt, {}, None)

    assert work(2_000) <= work(200) + 10


# Inputs of each class at a given size n; linear work means ~10x the steps for 10x n (quadratic: 100x).
TEXT_CLASSES = {
    "unclosed_answer": lambda n: "<think>x</think>" + "<answer>" * n,
    "unclosed_think": lambda n: "<think>" * n + "<answer>[]</answer>",
    "nested_tags": lambda n: "<think>" * n + "</think>" * n + "<answer>" * n + "[]" + "</answer>" * n,
    "many_blocks": lambda n: answer(*["{}"] * n),
    "unclosed_blocks": lambda n: "<answer>" + '{"start_time": [' * n + "</answer>",
    "huge_numbers": lambda n: answer(*[{"start_time": 10**309, "end_time": 10**309, "description": "x"}] * n),
}


@pytest.mark.parametrize("kind", sorted(TEXT_CLASSES))
def test_parse_work_is_linear_in_the_text(kind, count_steps):
    config = AnswerConfig(max_moments=10_000, max_answer_chars=1_000_000)
    small, large = (count_steps(parse_answer, TEXT_CLASSES[kind](n), 12, 2.0, config) for n in (30, 300))
    assert large <= 12 * max(small, 1), (small, large)
