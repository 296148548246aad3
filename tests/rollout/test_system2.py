"""System-1 response -> System-2 request -> reward-schema result (no Ray: the pool is a plain coroutine here)."""

from __future__ import annotations

import asyncio
import json

import pytest

from omni_r1_verl.data.schema import GroundTruth, MediaRef, Task
from omni_r1_verl.detail.request import DetailStatus as PoolStatus
from omni_r1_verl.detail.request import keyframe_result, make_result
from omni_r1_verl.rollout.system2 import plan_request, run_system2, system2_needed, to_scoring_dict
from omni_r1_verl.scoring import RewardConfig, score_response
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.scoring.detail import DetailResult, DetailStatus

GT = GroundTruth(
    task=Task.VOS, gt_key="revos/v0/0", num_frames=10, height=40, width=60, num_objects=1, areas=[[0] + [100] * 9]
)
MEDIA = MediaRef(frames=[f"JPEGImages/v0/{i:05d}.jpg" for i in range(10)])
EXTRA = {
    "media": MEDIA.to_json(),
    "dataset_root": "/data/revos",
    "gt_store": "/data/prepared/train.gt",
    "sample_id": "revos/v0/0",
    "split": "train",
    "clip": {"frame_indices": [1, 3, 5, 7, 9], "fps": 1.0},
}
CONFIG = RewardConfig()


def answer(*spans: tuple[float, float], description: str = "the red car") -> str:
    moments = [{"start_time": s, "end_time": e, "description": description} for s, e in spans]
    return f"<think>look</think><answer>{json.dumps(moments)}</answer>"


def plan(text: str, gt: GroundTruth = GT, extra: dict | None = None, config: RewardConfig = CONFIG):
    return plan_request(text, gt.to_json(), extra or EXTRA, config, group_key="uid-1", rollout_id="r0", group_size=4)


def test_request_grounds_exactly_the_keyframes_the_reward_parses():
    text = answer((1.0, 1.0), (3.0, 4.0))
    request = plan(text).request
    parsed = parse_answer(text, 5, 1.0, CONFIG.answer)
    assert [(q.clip_index, q.description) for q in request.keyframes] == [
        (k.frame, k.description) for k in parsed.keyframes
    ]
    assert [q.clip_index for q in request.keyframes] == [1, 3, 4]
    # The clip's frames at original resolution, in clip order, with their indices in the full video.
    assert request.frame_paths == [MEDIA.frames[i] for i in (1, 3, 5, 7, 9)]
    assert request.frame_indices == [1, 3, 5, 7, 9]
    assert (request.gt_key, request.gt_root, request.dataset_root) == (GT.gt_key, EXTRA["gt_store"], "/data/revos")
    assert (request.group_key, request.group_size) == ("uid-1", 4)


@pytest.mark.parametrize("text", ["", "no tags at all", '<think>x</think><answer>[{"start_time": 99}]</answer>'])
def test_unusable_answer_skips_the_pool(text):
    result = plan(text).result
    assert plan(text).request is None
    assert result.status is DetailStatus.NO_VALID_MOMENT


def test_system2_needed_follows_the_weights_and_the_task():
    assert system2_needed(Task.VOS, CONFIG)
    assert not system2_needed(Task.IMAGE_GROUNDING, CONFIG)
    off = RewardConfig.from_dict({"weights": {"alignment": 0.0, "consistency": 0.0}})
    assert not system2_needed(Task.VOS, off)
    assert plan(answer((1.0, 1.0)), config=off).result.status is DetailStatus.SKIPPED
    assert system2_needed(Task.AVS, off)  # detection weight still on


def test_avs_grounds_the_rewritten_expression_on_the_first_frame():
    gt = GroundTruth(task=Task.AVS, gt_key="refavs/a", num_frames=10, height=40, width=60, num_objects=1)
    request = plan("<think>t</think><answer>the dog on the left</answer>", gt=gt).request
    assert [(q.clip_index, q.description) for q in request.keyframes] == [(0, "the dog on the left")]


def test_broken_rows_become_explicit_errors():
    no_media = {k: v for k, v in EXTRA.items() if k != "media"}
    assert plan(answer((1.0, 1.0)), extra=no_media).result.status is DetailStatus.ERROR
    outside = {**EXTRA, "clip": {"frame_indices": [1, 30], "fps": 1.0}}
    assert "outside" in plan(answer((1.0, 1.0)), extra=outside).result.message
    video = {**EXTRA, "media": MediaRef(frames=["v.mp4"], audio_in_video=True).to_json()}
    assert plan(answer((1.0, 1.0)), extra=video).result.status is DetailStatus.ERROR


def _pool_ok(request, boxes):
    keyframes = [keyframe_result(q, boxes, boxes) for q in request.keyframes]
    inter, union = [0, 90, 0, 80, 0], [0, 100, 0, 100, 0]
    return make_result(PoolStatus.OK, keyframes=keyframes, frame_inter=inter, frame_union=union, timings={"sam2": 1})


def test_ok_result_converts_and_scores_alignment_and_consistency():
    text = answer((1.0, 1.0))
    request = plan(text).request
    converted = to_scoring_dict(_pool_ok(request, [[10.0, 10.0, 20.0, 20.0]]))
    result = DetailResult.from_dict(converted)
    assert result.status is DetailStatus.OK and result.mask_status is DetailStatus.OK
    assert [k.frame for k in result.keyframes] == [1]
    assert result.masks.intersection == (0, 90, 0, 80, 0)
    breakdown = score_response(text, GT.to_json(), EXTRA, converted, CONFIG).to_metrics()
    assert breakdown["alignment_reward"] == pytest.approx(1.0)
    # Mean J over the frames where prediction or ground truth is non-empty: (0.9 + 0.8) / 2.
    assert breakdown["consistency_reward"] == pytest.approx(0.85)
    assert breakdown["detail_failed"] == 0.0


@pytest.mark.parametrize("status", [PoolStatus.NO_BOXES, PoolStatus.INVALID_BOXES])
def test_no_usable_boxes_is_a_run_with_empty_predictions(status):
    request = plan(answer((1.0, 1.0))).request
    rejected = 2 if status is PoolStatus.INVALID_BOXES else 0
    pool = make_result(status, error="none", keyframes=[keyframe_result(request.keyframes[0], [], [], rejected)])
    result = DetailResult.from_dict(to_scoring_dict(pool))
    assert result.status is DetailStatus.OK and result.masks is None
    assert result.keyframes[0].pred_boxes == () and result.keyframes[0].parsed is (rejected == 0)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(PoolStatus.TIMEOUT, DetailStatus.TIMEOUT), (PoolStatus.WORKER_DIED, DetailStatus.WORKER_DIED)],
)
def test_pool_failures_stay_failures_and_score_finite(status, expected):
    text = answer((1.0, 1.0))
    converted = to_scoring_dict(make_result(status, error="boom"))
    assert DetailResult.from_dict(converted).status is expected
    metrics = score_response(text, GT.to_json(), EXTRA, converted, CONFIG).to_metrics()
    assert metrics["detail_failed"] == 1.0 and metrics["alignment_reward"] == 0.0


def test_run_system2_never_raises():
    text = answer((1.0, 1.0))

    async def broken(request):
        raise ConnectionError("router gone")

    async def fine(request):
        return _pool_ok(request, [[1.0, 1.0, 5.0, 5.0]])

    failed = asyncio.run(run_system2(plan(text), broken))
    assert failed["status"] == "error" and "router gone" in failed["message"]
    assert asyncio.run(run_system2(plan(text), None))["status"] == "error"
    assert asyncio.run(run_system2(plan(text), fine))["status"] == "ok"
    skipped = asyncio.run(run_system2(plan("garbage"), broken))  # no pool call at all
    assert skipped["status"] == "no_valid_moment"
