"""Keyframe-quality reward R_K against hand-computed cases (reference constants)."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

import numpy as np
import pytest
from scoring_helpers import answer, moment

from omni_r1_verl.scoring import parse_answer
from omni_r1_verl.scoring.config import KeyframeConfig
from omni_r1_verl.scoring.keyframe import count_term, keyframe_ranges, keyframe_terms

CFG = KeyframeConfig()
# One object, 12 clip frames, visible on frames 4..11 with area 10 * (frame - 3).
AREAS = np.array([[0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80]], dtype=float)


@pytest.mark.parametrize(
    ("u", "triangle", "reference"),
    [
        (0, 0.0, 0.0),
        (1, 0.4, 0.4),
        (3, 1.2, 1.2),
        (4, 1.6, 1.6),
        (5, 1.2, 0.8),
        (6, 0.8, 0.4),
        (7, 0.4, 0.0),
        (8, 0.0, -0.4),
    ],
)
def test_count_term_triangle_and_reference_shapes(u, triangle, reference):
    assert count_term(u, CFG) == pytest.approx(triangle)
    assert count_term(u, KeyframeConfig(count_shape="reference")) == pytest.approx(reference)


def test_four_visible_single_frame_moments_reach_the_maximum():
    text = answer(*(moment(t, t) for t in ("00:02.0", "00:03.0", "00:04.0", "00:05.0")))  # frames 4, 6, 8, 10
    terms = keyframe_terms(parse_answer(text, 12, 2.0), AREAS, CFG)
    # answer = (0.2*4 + 0.2*4 + 0.2*4 + 1.0*4) / 4 = 1.6; count = 1.6; diversity = 0
    assert terms.answer == pytest.approx(1.6)
    assert terms.count == pytest.approx(1.6)
    assert terms.diversity == 0.0
    assert terms.total == pytest.approx(3.2)
    # saliency = mean(10, 30, 50, 70) / 80
    assert terms.saliency == pytest.approx(40 / 80)


def test_mixed_blocks_hand_computed():
    text = answer(
        '{"start_time": broken}',  # bad JSON: counts in J only
        moment("00:04.0", "00:04.5"),  # frames 8, 9: visible, span 2
        moment("00:00.0", "00:00.0"),  # frame 0: invisible
        moment("00:04.5", "00:04.5"),  # frame 9 again: overlap
    )
    terms = keyframe_terms(parse_answer(text, 12, 2.0), AREAS, CFG)
    # J = 4, well formed = 3, valid = 3, visibility = 1 + 0 + 1
    assert terms.answer == pytest.approx((0.2 * 4 + 0.2 * 3 + 0.2 * 3 + 2.0) / 4)
    # frames selected: 8, 9, 0, 9 -> u = 3, one overlap; one extra frame in the first moment
    assert terms.selected_frames == 3 and terms.overlapping_frames == 1
    assert terms.count == pytest.approx(1.2)
    assert terms.diversity == pytest.approx(-0.2 - 0.5)


def test_visibility_is_the_fraction_of_object_frame_cells():
    areas = np.array([[0, 5, 5, 5], [0, 0, 5, 5]], dtype=float)  # two objects
    terms = keyframe_terms(parse_answer(answer(moment("00:00.0", "00:01.5")), 4, 2.0), areas, CFG)
    # cells visible: object 0 on frames 1-3 (3), object 1 on frames 2-3 (2) of 8 -> 5/8
    assert terms.answer == pytest.approx((0.2 + 0.2 + 0.2 + 5 / 8) / 1)
    assert terms.diversity == pytest.approx(-0.2 * 3)


def test_blocks_without_a_valid_moment_earn_only_structure_credit():
    # The reference's "dummy" rollout: cumulated reward 0.2-0.4, no count or diversity terms.
    text = answer(moment("00:03.0", "00:01.0"), '{"x": 1}')
    terms = keyframe_terms(parse_answer(text, 12, 2.0), AREAS, CFG)
    assert terms.answer == pytest.approx((0.2 * 2 + 0.2 * 1) / 2)
    assert terms.count == 0.0 and terms.diversity == 0.0 and terms.saliency == 0.0


def test_no_json_gives_zero():
    terms = keyframe_terms(parse_answer("<think>x</think><answer>the dog</answer>", 12, 2.0), AREAS, CFG)
    assert terms.total == 0.0 and terms.saliency == 0.0


def test_unknown_areas_drop_visibility_and_saliency_only():
    terms = keyframe_terms(parse_answer(answer(moment("00:02.0", "00:02.0")), 12, 2.0), None, CFG)
    assert terms.answer == pytest.approx(0.6) and terms.count == pytest.approx(0.4) and terms.saliency == 0.0


def test_empty_ground_truth_gives_zero_visibility_and_saliency():
    terms = keyframe_terms(parse_answer(answer(moment("00:02.0", "00:02.0")), 12, 2.0), np.zeros((1, 12)), CFG)
    assert terms.answer == pytest.approx(0.6) and terms.saliency == 0.0


# ---- the documented ranges (docs/rewards.md) are the code's ------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rewards.md"
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(formula: str, names: dict[str, float]) -> float:
    """A documented bound: numbers, F and M, + - * /, min and max (no eval)."""

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            return {"min": min, "max": max}[node.func.id](walk(a) for a in node.args)
        raise ValueError(f"unsupported formula {formula!r}")

    return walk(ast.parse(formula.replace("·", "*").replace("−", "-").strip(), mode="eval"))


def _documented_ranges() -> dict[str, tuple[str, str]]:
    ranges = {}
    for line in DOCS.read_text().splitlines():
        m = re.fullmatch(r"\| `(keyframe_\w+)` \| \[(.*)\] \|", line.strip())
        if m:
            body, depth = m.group(2), 0
            for i, ch in enumerate(body):  # split at the top-level comma
                depth += (ch == "(") - (ch == ")")
                if ch == "," and depth == 0:
                    ranges[m.group(1)] = (body[:i], body[i + 1 :])
    return ranges


@pytest.mark.parametrize("num_frames", [1, 3, 4, 5, 8, 10, 100])
@pytest.mark.parametrize("max_moments", [1, 32])
def test_documented_keyframe_ranges_are_the_codes(num_frames, max_moments):
    documented = _documented_ranges()
    assert set(documented) == {"keyframe_answer", "keyframe_count", "keyframe_diversity"}
    names = {"F": num_frames, "M": max_moments}
    for key, (low, high) in keyframe_ranges(CFG, num_frames, max_moments).items():
        assert _evaluate(documented[key][0], names) == pytest.approx(low), key
        assert _evaluate(documented[key][1], names) == pytest.approx(high), key


def test_keyframe_ranges_are_reached():
    # F = 10 clip, M = 3: the extremes of each term come from real answers.
    areas = np.ones((1, 10))
    best = keyframe_terms(
        parse_answer(answer(*(moment(t, t) for t in ("00:00.0", "00:01.0", "00:02.0", "00:03.0"))), 10, 2.0), areas, CFG
    )
    whole = keyframe_terms(parse_answer(answer(*[moment("00:00.0", "00:04.5")] * 3), 10, 2.0), areas, CFG)
    bounds = keyframe_ranges(CFG, 10, 3)
    assert best.answer == pytest.approx(bounds["keyframe_answer"][1]) and best.count == bounds["keyframe_count"][1]
    assert whole.count == pytest.approx(bounds["keyframe_count"][0])
    assert whole.diversity == pytest.approx(bounds["keyframe_diversity"][0])
