"""The System-2 result schema: round trips and clear errors on malformed dicts."""

from __future__ import annotations

import pytest

from omni_r1_verl.scoring import DetailResult, DetailSchemaError, DetailStatus, KeyframeDetail, MaskOverlap
from omni_r1_verl.scoring.detail import SCHEMA_VERSION


def full() -> DetailResult:
    return DetailResult(
        status=DetailStatus.OK,
        keyframes=(KeyframeDetail(2, ((1.0, 2.0, 30.0, 40.0),), ((0.0, 0.0, 10.0, 10.0),)), KeyframeDetail(5)),
        mask_status=DetailStatus.OK,
        masks=MaskOverlap((0, 1), (3, 0), (5, 0)),
        timings={"grounding": 0.5, "sam2": 1.25},
    )


def test_round_trip():
    result = full()
    data = result.to_dict()
    assert data["version"] == SCHEMA_VERSION and data["status"] == "ok"
    assert DetailResult.from_dict(data) == result


def test_failure_constructor_marks_both_stages():
    result = DetailResult.failure("timeout", "queue full")
    assert result.status is result.mask_status is DetailStatus.TIMEOUT
    assert DetailResult.from_dict(result.to_dict()) == result


def mutate(path, value):
    data = full().to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), 99, "version"),
        (("status",), "exploded", "exploded"),
        (("keyframes", 0, "frame"), -1, "frame"),
        (("keyframes", 0, "frame"), "2", "frame"),
        (("keyframes", 0, "pred_boxes"), "boxes", "pred_boxes"),
        (("keyframes", 0, "parsed"), "yes", "parsed"),
        (("masks", "union"), [5], "length"),
        (("masks", "intersection"), [9, 0], "exceeds"),
        (("masks", "union"), [5.5, 0], "pixel count"),
        (("masks",), None, "masks present iff"),
        (("timings",), {"x": "slow"}, "timings"),
    ],
)
def test_malformed_dicts_raise_schema_errors(path, value, message):
    with pytest.raises(DetailSchemaError, match=message):
        DetailResult.from_dict(mutate(path, value))


def test_non_numeric_box_coordinates_survive_as_nan_for_the_scorer_to_count():
    data = mutate(("keyframes", 0, "pred_boxes"), [[1, "x", 3, 4]])
    coords = DetailResult.from_dict(data).keyframes[0].pred_boxes[0]
    assert coords[0] == 1.0 and coords[1] != coords[1]


def test_not_a_dict():
    with pytest.raises(DetailSchemaError):
        DetailResult.from_dict(["ok"])
