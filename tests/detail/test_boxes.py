"""Grounding answers -> boxes -> original pixels -> validated prompts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1_verl.detail.boxes import ParsedBoxes, Rejection, mask_box, parse_boxes, to_original, validate_box
from omni_r1_verl.utils.vision import box_to_resized, smart_resize


@pytest.mark.parametrize(
    ("text", "boxes", "malformed"),
    [
        # Qwen2.5-VL cookbook style: fenced JSON list with labels.
        ('```json\n[{"bbox_2d": [10, 20, 110, 220], "label": "cat"}]\n```', [(10, 20, 110, 220)], 0),
        # VisionReasoner style: reasoning, then an answer block with boxes and points.
        (
            '<think>two dogs {maybe}</think><answer>[{"bbox_2d": [1,2,3,4], "point_2d": [2,3]}, '
            '{"bbox_2d": [5,6,7,8], "point_2d": [6,7]}]</answer>',
            [(1, 2, 3, 4), (5, 6, 7, 8)],
            0,
        ),
        # Seg-Zero style single object with points.
        (
            '<answer>{"bbox_2d": [3.5, 4, 30, 40.25], "points_1": [5, 6], "points_2": [7, 8]}</answer>',
            [(3.5, 4, 30, 40.25)],
            0,
        ),
        # Prose around several JSON objects; a string containing brackets does not break the scan.
        (
            'Found {"bbox_2d": [1, 1, 9, 9], "label": "a ] tricky } label"} and {"bbox_2d": [2, 2, 8, 8]}.',
            [(1, 1, 9, 9), (2, 2, 8, 8)],
            0,
        ),
        # A bare box and a list of bare boxes.
        ("[4, 5, 6, 7]", [(4, 5, 6, 7)], 0),
        ("[[4, 5, 6, 7], [1, 1, 2, 2]]", [(4, 5, 6, 7), (1, 1, 2, 2)], 0),
        # Malformed entries are counted, not raised: wrong length, non-numeric, nested garbage, booleans.
        (
            '[{"bbox_2d": [1, 2, 3]}, {"bbox_2d": ["a", 2, 3, 4]}, {"bbox_2d": [true, 1, 2, 3]}, '
            '{"bbox_2d": [1, 2, 3, 4]}]',
            [(1, 2, 3, 4)],
            3,
        ),
        # Numeric strings are accepted; [[box]] is unwrapped.
        ('{"bbox_2d": ["1", "2", "3.5", "4"]}', [(1, 2, 3.5, 4)], 0),
        ('{"bbox_2d": [[1, 2, 3, 4]]}', [(1, 2, 3, 4)], 0),
        # Other four-number fields of an object are not boxes.
        ('{"color": [1, 2, 3, 4], "label": "x"}', [], 0),
        # Nothing usable.
        ("I cannot find it.", [], 0),
        ("", [], 0),
        ('{"bbox_2d": [1, 2, 3, 4]', [], 0),
    ],
)
def test_parse_boxes(text, boxes, malformed):
    parsed = parse_boxes(text)
    assert parsed.boxes == [tuple(float(v) for v in b) for b in boxes]
    assert parsed.malformed == malformed


def test_only_the_answer_block_is_read_when_present():
    text = '<think>maybe {"bbox_2d": [0, 0, 5, 5]}</think><answer>{"bbox_2d": [1, 1, 9, 9]}</answer>'
    assert parse_boxes(text).boxes == [(1.0, 1.0, 9.0, 9.0)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.- abbox_2dtrue<>/answer\n')), max_size=200))
def test_parse_boxes_never_raises(text):
    parsed = parse_boxes(text)
    assert all(len(b) == 4 and all(math.isfinite(v) for v in b) for b in parsed.boxes)
    assert parsed.malformed >= 0


def test_non_string_input_gives_nothing():
    assert parse_boxes(None).boxes == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ([10, 10, 50, 40], (10.0, 10.0, 50.0, 40.0)),
        # Overhanging boxes are clipped to the image (models often write x2 = width).
        ([-5, 10, 120, 90], (0.0, 10.0, 100.0, 80.0)),
        ([50, 40, 10, 10], Rejection.INVERTED),
        ([10, 10, 10, 40], Rejection.ZERO_AREA),
        ([10, 10, 10.5, 40], Rejection.ZERO_AREA),
        ([120, 10, 150, 40], Rejection.OUTSIDE),
        ([-40, -40, -10, -10], Rejection.OUTSIDE),
        ([float("nan"), 1, 2, 3], Rejection.NON_FINITE),
        ([1, 2, 3], Rejection.MALFORMED),
    ],
)
def test_validate_box(box, expected):
    assert validate_box(box, height=80, width=100) == expected


def test_norm1000_boxes_map_through_the_unit_square():
    assert to_original([0, 500, 1000, 1000], (476, 644), (480, 640), "norm1000") == (0.0, 240.0, 640.0, 480.0)
    with pytest.raises(ValueError, match="unknown box format"):
        to_original([0, 0, 1, 1], (28, 28), (28, 28), "relative")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(32, 2000),
    st.integers(32, 2000),
    st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_box_round_trip_through_smart_resize(height, width, fractions):
    """A box drawn on the original, seen by the model at smart_resize size, maps back to the same pixels."""
    resized = smart_resize(height, width)
    x1, x2 = sorted([fractions[0] * width, fractions[1] * width])
    y1, y2 = sorted([fractions[2] * height, fractions[3] * height])
    seen = box_to_resized([x1, y1, x2, y2], (height, width), resized)
    back = to_original(seen, resized, (height, width))
    assert np.allclose(back, [x1, y1, x2, y2], atol=1e-6 * max(height, width))


def test_mask_box_uses_pixel_edges():
    mask = np.zeros((10, 12), dtype=bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3.0, 2.0, 9.0, 5.0)
    assert mask_box(np.zeros((4, 4), dtype=bool)) is None


# ---- hostile grounding output: counted, never raised, linear work --------------------------------------------

HOSTILE = ["1" + "0" * 309, "-" + "9" * 400, "1" + "0" * 5000, "1e999", "NaN", "Infinity", "-Infinity", "true", "null"]


@pytest.mark.parametrize("literal", HOSTILE)
def test_huge_and_non_finite_coordinates_are_malformed_entries(literal):
    text = f'[{{"bbox_2d": [1, 2, {literal}, 4]}}, {{"bbox_2d": [5, 6, 7, 8]}}]'
    parsed = parse_boxes(text)
    if literal == HOSTILE[2]:  # beyond the integer digit limit: that whole list is not JSON
        assert parsed == ParsedBoxes([], 0)
    else:
        assert parsed.boxes == [(5.0, 6.0, 7.0, 8.0)] and parsed.malformed == 1
    assert parse_boxes(f"[{literal}, 2, 3, 4]").boxes == []


def test_complete_boxes_of_a_truncated_answer_are_kept():
    assert parse_boxes('[{"bbox_2d": [1, 2, 3, 4]}, {"bbox_2d": [5, 6').boxes == [(1.0, 2.0, 3.0, 4.0)]


def test_long_answers_are_read_up_to_the_cap():
    text = '{"bbox_2d": [1, 2, 3, 4]} ' * 10
    parsed = parse_boxes(text, max_chars=len(text) // 2)
    assert parsed.truncated and len(parsed.boxes) == 5
    assert not parse_boxes(text).truncated and len(parse_boxes(text).boxes) == 10


@pytest.mark.parametrize("value", [10**309, -(10**400), float("inf"), "x", None])
def test_validate_box_never_raises(value):
    assert validate_box([1, 1, value, 5], height=80, width=100) in (Rejection.NON_FINITE, Rejection.MALFORMED)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "<answer>" * n,
        lambda n: "[" * n,
        lambda n: '{"bbox_2d": [' * n,
        lambda n: "[]" * n,
        lambda n: '{"bbox_2d": [1, 2, 3, 4]}' * n,
        lambda n: '[{"bbox_2d": [1, 2, 3, "' + "}" * n,
    ],
)
def test_parse_boxes_work_is_linear(make, count_steps):
    small, large = (count_steps(parse_boxes, make(n)) for n in (50, 500))
    assert large <= 12 * max(small, 1), (small, large)
