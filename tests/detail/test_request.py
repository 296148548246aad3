"""The request type, merge keys and the result dict contract."""

from __future__ import annotations

import pytest

from omni_r1_verl.detail.request import (
    RESULT_KEYS,
    DetailRequest,
    DetailStatus,
    KeyframeQuery,
    failure_result,
    make_result,
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


def test_caller_bugs_fail_at_construction():
    with pytest.raises(ValueError, match="outside the 3-frame clip"):
        _request(keyframes=[KeyframeQuery(3, "x")])
    with pytest.raises(ValueError, match="frame indices"):
        _request(frame_indices=[0, 1])
    with pytest.raises(ValueError, match="frame_paths is empty"):
        _request(frame_paths=[], frame_indices=[])
    with pytest.raises(ValueError, match="description must be a string"):
        _request(keyframes=[KeyframeQuery(0, 5)])  # type: ignore[arg-type]


def test_dict_keyframes_are_accepted_and_round_trip():
    req = _request(keyframes=[{"clip_index": 2, "description": "a", "boxes": [[0, 0, 1, 1]]}])
    assert req.keyframes[0] == KeyframeQuery(2, "a", [[0, 0, 1, 1]])
    assert DetailRequest(**req.to_dict()) == req


def test_merge_key_groups_rollouts_of_one_sample_only():
    a, b = _request(rollout_id="r0"), _request(rollout_id="r7", keyframes=[])
    assert a.merge_key() == b.merge_key()
    assert a.merge_key() != _request(frame_indices=[0, 5, 11]).merge_key()
    assert a.merge_key() != _request(group_key="uid-2").merge_key()
    assert a.merge_key() != _request(gt_key="w").merge_key()


def test_results_have_exactly_the_contract_keys():
    ok = make_result("ok", frame_inter=[1, 2], frame_union=[3, 4], timings={"total": 0.5}, attempts=1, worker="w")
    assert tuple(ok) == RESULT_KEYS
    assert ok["status"] == "ok" and ok["frame_union"] == [3, 4]
    with pytest.raises(ValueError):
        make_result("ok", frame_inter=[1], frame_union=[1, 2])
    with pytest.raises(ValueError):
        make_result("maybe")


def test_failure_results_echo_keyframes_and_never_carry_frame_counts():
    fail = failure_result(_request(), DetailStatus.TIMEOUT, "slow", attempts=2)
    assert tuple(fail) == RESULT_KEYS
    assert fail["status"] == "timeout" and fail["error"] == "slow" and fail["attempts"] == 2
    assert fail["frame_inter"] == [] and fail["frame_union"] == []
    assert fail["keyframes"] == [
        {"clip_index": 1, "description": "the dog", "pred_boxes": [], "gt_boxes": [], "rejected_boxes": 0}
    ]
    with pytest.raises(ValueError):
        failure_result(_request(), DetailStatus.OK, "")
