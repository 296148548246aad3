"""Untrusted-text readers: the lazy tag regex's blocks by str.find, bracket spans, finite numbers; totality and
linear work (Python lines and characters handed to the JSON decoder, never wall time)."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1_verl.utils import model_output
from omni_r1_verl.utils.model_output import finite_float, json_spans, load_json, tagged_span

_tag_text = st.lists(st.sampled_from(["<answer>", "</answer>", "<answer", "answer>", "x", "\n", "<"]), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_tag_text.map("".join), st.integers(0, 40))
def test_tagged_span_finds_what_the_lazy_regex_finds(text, start):
    m = re.compile(r"<answer>(.*?)</answer>", re.DOTALL).search(text, start)
    assert tagged_span(text, "answer", start) == (m.span(1) if m else None)


def _objects(text):
    return [(text[s:e], closed) for s, e, closed in json_spans(text).objects]


def _values(text):
    return [text[s:e] for s, e in json_spans(text).values]


@pytest.mark.parametrize(
    ("text", "objects"),
    [
        ('[{"a": 1}, {"b": {"c": 2}}]', [('{"a": 1}', True), ('{"b": {"c": 2}}', True)]),  # lists are transparent
        ('he said "hi {there}" and {"a": "}"}', [("{there}", True), ('{"a": "}"}', True)]),  # prose quotes do not count
        ('{"a": "\\"}"}', [('{"a": "\\"}"}', True)]),  # escaped quote inside a string
        ('{"a": [1, 2} {"b": 1}', [('{"a": [1, 2}', True), ('{"b": 1}', True)]),  # a closer cuts off the list
        ('[{"a": 1] {"b"', [('{"a": 1', False), ('{"b"', False)]),  # cut off by the list's closer; truncated
        ("}}]] {} ]", [("{}", True)]),  # closers that match nothing open are ignored
        ("no json here", []),
    ],
)
def test_object_spans(text, objects):
    assert _objects(text) == objects


def test_values_keep_truncated_lists_transparent_and_truncated_objects_opaque():
    assert _values('x [[1, 2, 3, 4], {"bbox": [5, 6, 7, 8]}] y') == ['[[1, 2, 3, 4], {"bbox": [5, 6, 7, 8]}]']
    assert _values('[{"bbox": [1, 2, 3, 4]}, {"bbox": [5, 6') == ['{"bbox": [1, 2, 3, 4]}']
    assert _values('{"bbox": [1, 2, 3, 4], "label": "unfinished') == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4), st.text(alphabet="ab ,.:\n", max_size=10))
def test_an_object_in_prose_is_found_whole(obj, prose):
    text = f"{prose}{json.dumps(obj)}{prose}"
    [(start, end, closed)] = json_spans(text).objects
    assert closed and load_json(text, start, end) == (obj, True)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]"\\:,ab1 ', max_size=200))
def test_spans_are_ordered_disjoint_and_inside_the_text(text):
    spans = json_spans(text)
    for found in (spans.objects, [(s, e, True) for s, e in spans.values]):
        ends = [0]
        for start, end, closed in found:
            assert ends[-1] <= start < end <= len(text) and text[start] in "{["
            assert not closed or text[end - 1] in "}]"
            ends.append(end)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3.0),
        (-2.5, -2.5),
        (np.int64(7), 7.0),
        (np.float32(0.5), 0.5),
        (Fraction(1, 4), 0.25),
        (10**309, None),  # json gives an int; float() raises OverflowError
        (-(10**400), None),
        (Fraction(10**400, 3), None),
        (math.nan, None),
        (math.inf, None),
        (-math.inf, None),
        (True, None),
        ("3", None),
        (None, None),
        ([1], None),
    ],
)
def test_finite_float(value, expected):
    assert finite_float(value) == expected


def test_load_json_turns_every_decoder_failure_into_a_failed_span():
    for text in ["[" + "1" * 5000 + "]", "[" * 100_000 + "]" * 100_000, "{oops}"]:  # digit limit, recursion, syntax
        assert load_json(text, 0, len(text)) == (None, False)


# Inputs of each class at a given size; linear work means ~10x the steps for a 10x larger input.
_CLASSES = {
    "open": lambda n: "{[" * n,
    "close": lambda n: "]}" * n,
    "pairs": lambda n: "{}" * n,
    "nested_unclosed": lambda n: '{"a":[{},' * n,
    "strings": lambda n: '["}{\\"",' * n,
    "moments": lambda n: json.dumps([{"start_time": "00:01.0", "end_time": 10**309, "description": "x"}] * n),
}


@pytest.mark.parametrize("kind", sorted(_CLASSES))
def test_scan_work_is_linear(kind, count_steps):
    small, large = (count_steps(json_spans, _CLASSES[kind](n)) for n in (200, 2000))
    assert large <= 12 * max(small, 1), (small, large)


@pytest.mark.parametrize("kind", sorted(_CLASSES))
def test_the_decoder_reads_each_character_at_most_once(kind, monkeypatch):
    read = []
    real = json.loads
    monkeypatch.setattr(model_output.json, "loads", lambda s: read.append(len(s)) or real(s))
    text = _CLASSES[kind](500)
    spans = json_spans(text)
    for start, end, closed in spans.objects:
        if closed:
            load_json(text, start, end)
    assert sum(read) <= len(text)
    read.clear()
    for start, end in spans.values:
        load_json(text, start, end)
    assert sum(read) <= len(text)
