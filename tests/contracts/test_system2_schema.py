"""The System-2 contract: requests, merge keys, the one result schema (round trips, clear errors), statuses."""

from __future__ import annotations

import json

import pytest

from omni_r1_verl.contracts.system2 import (
    FAILURE_STATUSES,
    RAN_STATUSES,
    SCHEMA_VERSION,
    DetailRequest,
    DetailResult,
    DetailSchemaError,
    DetailStatus,
    KeyframeDetail,
    KeyframeQuery,
    MaskOverlap,
    rounded_box,
)


def _request(**overrides) -> DetailRequest:
    data = dict(
        group_key="uid-1",
        rollout_id="r0",
        dataset_root="/data",
        frame_paths=["v/0.jpg", "v/1.jpg", "v/2.jpg"],
        frame_indices=[0, 5, 10],
        gt_key="v",
        keyframes=[KeyframeQuery(1, "the dog")],
    )
    data.update(overrides)
    return DetailRequest(**data)


def full() -> DetailResult:
    return DetailResult(
        status=DetailStatus.OK,
        keyframes=(
            KeyframeDetail(2, ((1.0, 2.0, 30.0, 40.0),), ((0.0, 0.0, 10.0, 10.0),), description="the dog"),
            KeyframeDetail(5, rejected_boxes=2),
        ),
        masks=MaskOverlap((0, 1), (3, 0), (5, 0)),
        timings={"grounding": 0.5, "sam2": 1.25},
        attempts=1,
        worker="w#0",
    )


# -------------------------------------------------------------------------------------------------------- requests


def test_caller_bugs_fail_at_construction():
    with pytest.raises(ValueError, match="outside the 3-frame clip"):
        _request(keyframes=[KeyframeQuery(3, "x")])
    with pytest.raises(ValueError, match="frame indices"):
        _request(frame_indices=[0, 1])
    with pytest.raises(ValueError, match="frame_paths is empty"):
        _request(frame_paths=[], frame_indices=[])
    with pytest.raises(ValueError, match="description must be a string"):
        _request(keyframes=[KeyframeQuery(0, 5)])  # type: ignore[arg-type]


def test_a_request_without_keyframes_is_refused():
    # "No valid moment" is decided once, before a request exists.
    with pytest.raises(ValueError, match="no keyframe"):
        _request(keyframes=[])


def test_dict_keyframes_are_accepted_and_round_trip():
    req = _request(keyframes=[{"clip_index": 2, "description": "a", "boxes": [[0, 0, 1, 1]]}])
    assert req.keyframes[0] == KeyframeQuery(2, "a", [[0, 0, 1, 1]])
    assert DetailRequest(**req.to_dict()) == req


def test_merge_key_groups_rollouts_of_one_sample_only():
    a, b = _request(rollout_id="r0"), _request(rollout_id="r7", keyframes=[KeyframeQuery(0, "other")])
    assert a.merge_key() == b.merge_key()
    assert a.merge_key() != _request(frame_indices=[0, 5, 11]).merge_key()
    assert a.merge_key() != _request(group_key="uid-2").merge_key()
    assert a.merge_key() != _request(gt_key="w").merge_key()


# --------------------------------------------------------------------------------------------------------- results


def test_round_trip_through_json():
    result = full()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["version"] == SCHEMA_VERSION and data["status"] == "ok"
    assert DetailResult.from_dict(data) == result


def test_a_failure_for_a_request_echoes_its_keyframes_without_boxes_or_masks():
    fail = DetailResult.for_request(_request(), DetailStatus.TIMEOUT, "slow", attempts=2)
    assert fail.failed and not fail.ran and fail.masks is None
    assert (fail.message, fail.attempts) == ("slow", 2)
    assert fail.keyframes == (KeyframeDetail(frame=1, description="the dog"),)
    assert DetailResult.from_dict(fail.to_dict()) == fail


def test_masks_exist_exactly_for_ok():
    with pytest.raises(DetailSchemaError, match="masks present iff"):
        DetailResult(DetailStatus.OK)
    with pytest.raises(DetailSchemaError, match="masks present iff"):
        DetailResult(DetailStatus.NO_BOXES, masks=MaskOverlap((0,), (0,), (1,)))


def test_status_classes():
    results = [full()] + [DetailResult.failure(s) for s in DetailStatus if s is not DetailStatus.OK]
    assert {r.status for r in results if r.ran} == set(RAN_STATUSES)
    assert {r.status for r in results if r.failed} == set(FAILURE_STATUSES)
    assert not RAN_STATUSES & set(FAILURE_STATUSES)


def test_a_keyframe_with_rejected_boxes_counts_as_unparsed():
    assert KeyframeDetail(0).parsed and not KeyframeDetail(0, rejected_boxes=1).parsed


def test_rounded_box_keeps_non_finite_values():
    assert rounded_box([1.23456, 2, float("inf"), 4.0004]) == (1.235, 2.0, float("inf"), 4.0)


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
        (("version",), 1, "version"),
        (("status",), "exploded", "exploded"),
        (("keyframes", 0, "frame"), -1, "frame"),
        (("keyframes", 0, "frame"), "2", "frame"),
        (("keyframes", 0, "description"), 3, "description"),
        (("keyframes", 0, "pred_boxes"), "boxes", "pred_boxes"),
        (("keyframes", 0, "rejected_boxes"), "two", "rejected_boxes"),
        (("masks", "union"), [5], "length"),
        (("masks", "intersection"), [9, 0], "exceeds"),
        (("masks", "union"), [5.5, 0], "pixel count"),
        (("masks",), None, "masks present iff"),
        (("timings",), {"x": "slow"}, "timings"),
        (("attempts",), -1, "attempts"),
    ],
)
def test_malformed_dicts_raise_schema_errors(path, value, message):
    with pytest.raises(DetailSchemaError, match=message):
        DetailResult.from_dict(mutate(path, value))


def test_non_numeric_and_huge_box_coordinates_survive_for_the_scorer_to_count():
    data = mutate(("keyframes", 0, "pred_boxes"), [[1, "x", 10**400, 4]])
    coords = DetailResult.from_dict(data).keyframes[0].pred_boxes[0]
    assert coords[0] == 1.0 and coords[1] != coords[1] and coords[2] == float("inf")


def test_huge_pixel_counts_are_accepted_as_integers():
    data = mutate(("masks",), {"frames": [0, 1], "intersection": [0, 10**30], "union": [1, 10**31]})
    assert DetailResult.from_dict(data).masks.union[1] == 10**31


def test_not_a_dict():
    with pytest.raises(DetailSchemaError):
        DetailResult.from_dict(["ok"])
