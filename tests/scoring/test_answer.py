"""System-1 answer parsing: tags, JSON moments, times, frames, validity, and never raising."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_helpers import answer, moment

from omni_r1_verl.scoring import Problem, parse_answer, parse_time
from omni_r1_verl.scoring.answer import iter_json_blocks, time_to_frame
from omni_r1_verl.scoring.config import AnswerConfig


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:01.5", 1.5),  # the reference read this as 1.05 s (fraction as centiseconds)
        ("00:03.50", 3.5),
        ("00:03.500", 3.5),  # the reference: 8.0 s
        ("00:03", 3.0),
        ("01:02.25", 62.25),
        ("1:02:03.5", 3723.5),
        ("00:75.0", 75.0),
        ("3.5", 3.5),
        ("3.5s", 3.5),
        (" 00:02.00 ", 2.0),
        (4, 4.0),
        (2.25, 2.25),
    ],
)
def test_parse_time_reads_real_seconds(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value", ["", "abc", "-00:01.0", "00:01.0 later", "1e3", None, True, -1, math.nan, math.inf, [1]]
)
def test_parse_time_rejects_non_times(value):
    assert parse_time(value) is None


@pytest.mark.parametrize(("seconds", "frame"), [(0.0, 0), (0.49, 0), (0.5, 1), (1.15, 2), (9.99, 11), (100.0, 11)])
def test_time_to_frame_floors_and_caps(seconds, frame):
    assert time_to_frame(seconds, num_frames=12, fps=2.0) == frame


def test_moment_frames_cover_start_to_end_inclusive():
    parsed = parse_answer(answer(moment("00:01.0", "00:02.0"), moment("00:03.5", "00:03.5")), 12, 2.0)
    assert [tuple(m.frames) for m in parsed.moments] == [(2, 3, 4), (7,)]
    assert parsed.problems == ()
    assert all(m.valid for m in parsed.moments)


def test_end_at_clip_end_is_valid_and_maps_to_last_frame():
    parsed = parse_answer(answer(moment("00:05.5", "00:06.0")), 12, 2.0)
    assert tuple(parsed.moments[0].frames) == (11,)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (moment("00:03.0", "00:02.0"), Problem.START_AFTER_END),
        (moment("00:01.0", "00:06.5"), Problem.OUT_OF_RANGE),
        (moment("soon", "00:01.0"), Problem.BAD_TIME),
        ({"start_time": "00:01.0", "end_time": "00:01.0", "description": 7}, Problem.BAD_DESCRIPTION),
        ({"start_time": "00:01.0", "end_time": "00:01.0", "description": "  "}, Problem.BAD_DESCRIPTION),
        ({"start_time": "00:01.0", "description": "x"}, Problem.MISSING_FIELD),
        ('{"start_time": "00:01.0", "end_time": }', Problem.BAD_JSON),
    ],
)
def test_invalid_moments_name_their_problem(block, problem):
    parsed = parse_answer(answer(block), 12, 2.0)
    assert not parsed.moments[0].valid
    assert problem in parsed.moments[0].problems
    assert problem in parsed.problems and Problem.NO_VALID_MOMENT in parsed.problems
    assert parsed.keyframes == ()


def test_braces_inside_descriptions_do_not_split_blocks():
    # The reference's non-greedy regex cut this block at the first "}" and lost the moment.
    parsed = parse_answer(answer(moment("00:01.0", "00:01.0", "the {red} cup }")), 12, 2.0)
    assert parsed.num_blocks == 1 and parsed.moments[0].valid
    assert parsed.moments[0].description == "the {red} cup }"


def test_plain_objects_code_fences_and_lists_all_parse():
    a = '{"start_time":"00:00.5","end_time":"00:00.5","description":"a"}'
    b = '{"start_time":"00:02.0","end_time":"00:02.0","description":"b"}'
    text = f"<think>x</think><answer>```json\n{a}\n{b}```</answer>"
    parsed = parse_answer(text, 12, 2.0)
    assert [tuple(m.frames) for m in parsed.moments] == [(1,), (4,)]


def test_malformed_block_counts_once_and_scan_resumes():
    text = '<answer>{"start_time": oops} {"start_time":"00:01.0","end_time":"00:01.0","description":"a"}</answer>'
    parsed = parse_answer(text, 12, 2.0)
    assert parsed.num_blocks == 2
    assert Problem.BAD_JSON in parsed.moments[0].problems and parsed.moments[1].valid


def test_deeply_nested_json_is_a_bad_block_not_a_crash():
    parsed = parse_answer("<answer>" + "[" * 100_000 + "{" * 100_000 + "</answer>", 12, 2.0)
    assert Problem.NO_VALID_MOMENT in parsed.problems


def test_only_first_answer_block_is_used():
    text = answer(moment("00:01.0", "00:01.0")) + "<answer>[]</answer>"
    parsed = parse_answer(text, 12, 2.0)
    assert Problem.MULTIPLE_ANSWERS in parsed.problems and len(parsed.valid_moments) == 1


def test_missing_tags_are_named():
    parsed = parse_answer('{"start_time":"00:01.0","end_time":"00:01.0","description":"a"}', 12, 2.0)
    assert {Problem.NO_ANSWER, Problem.NO_THINK, Problem.NO_VALID_MOMENT} <= set(parsed.problems)
    assert parsed.moments == () and not parsed.has_answer


def test_hundreds_of_moments_are_capped_and_counted():
    text = answer(*[moment("00:01.0", "00:01.0")] * 300)
    parsed = parse_answer(text, 12, 2.0, AnswerConfig(max_moments=32, max_answer_chars=len(text)))
    assert len(parsed.moments) == 32 and parsed.dropped_moments == 268
    assert Problem.TOO_MANY_MOMENTS in parsed.problems
    assert parsed.duplicate_moments == 31 and Problem.DUPLICATE_MOMENT in parsed.problems
    assert [k.frame for k in parsed.keyframes] == [2]


def test_long_answers_are_truncated_and_flagged():
    text = answer(*[moment("00:01.0", "00:01.0")] * 300)
    parsed = parse_answer(text, 12, 2.0, AnswerConfig(max_answer_chars=1000))
    assert Problem.ANSWER_TRUNCATED in parsed.problems
    assert len(parsed.answer) == 1000 and 0 < len(parsed.moments) < 20


def test_keyframes_take_each_moments_first_frame_before_later_frames():
    parsed = parse_answer(
        answer(
            moment("00:00.0", "00:01.5", "first"),  # frames 0-3
            moment("00:05.0", "00:05.0", "second"),  # frame 10
            moment("00:01.0", "00:01.0", "third"),  # frame 2, already covered by "first"
        ),
        12,
        2.0,
        AnswerConfig(max_keyframes=4),
    )
    assert [(k.frame, k.description) for k in parsed.keyframes] == [
        (0, "first"),
        (10, "second"),
        (2, "first"),
        (1, "first"),
    ]


@pytest.mark.parametrize(("frames", "fps"), [(0, 2.0), (12, 0.0), (12, math.nan), ("x", 2.0)])
def test_bad_clip_is_reported_and_nothing_is_valid(frames, fps):
    parsed = parse_answer(answer(moment("00:01.0", "00:01.0")), frames, fps)
    assert Problem.BAD_CLIP in parsed.problems and parsed.valid_moments == ()


def test_non_text_is_flagged():
    parsed = parse_answer(None, 12, 2.0)
    assert Problem.NOT_TEXT in parsed.problems and not parsed.has_answer


def test_iter_json_blocks_walks_lists():
    assert [v for v, ok in iter_json_blocks('[{"a": 1}, {"b": {"c": 2}}]')] == [{"a": 1}, {"b": {"c": 2}}]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('<>/{}[]":,.0123456789 abthinkswerdlcpo_\n')), max_size=400))
def test_parse_answer_never_raises_and_keyframes_stay_in_the_clip(text):
    parsed = parse_answer(text, 12, 2.0)
    assert all(0 <= k.frame < 12 for k in parsed.keyframes)
    assert len(parsed.keyframes) <= 4
    assert all(m.valid == (not m.problems and bool(m.frames)) for m in parsed.moments)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_answer_never_raises_on_arbitrary_unicode(text):
    parse_answer(f"<think>{text}</think><answer>{text}</answer>", 7, 2.0)
