"""System-1 response -> System-2 request -> the result the reward scores (no Ray: the pool is a coroutine here)."""

from __future__ import annotations

import asyncio
import json

import pytest

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.contracts.system2 import DetailResult, DetailStatus, KeyframeDetail, MaskOverlap
from omni_r1_verl.rollout.system2 import plan_request, run_system2, system2_needed
from omni_r1_verl.scoring import RewardConfig, score_response
from omni_r1_verl.scoring.answer import parse_answer

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


def test_a_clip_record_without_fps_is_read_at_the_default_fps_on_both_sides():
    # The agent loop and the reward parse with one clip reader: same keyframes, whatever the record lacks.
    text = answer((1.0, 1.0))
    extra = {**EXTRA, "clip": {"frame_indices": [1, 3, 5, 7, 9]}}
    request = plan(text, extra=extra).request
    assert [q.clip_index for q in request.keyframes] == [2]  # 1.0 s at the default 2 fps
    metrics = score_response(text, GT.to_json(), extra, None, CONFIG).to_metrics()
    assert metrics["num_keyframes"] == 1 and metrics["clip_missing"] == 0


def test_broken_rows_become_explicit_errors():
    no_media = {k: v for k, v in EXTRA.items() if k != "media"}
    assert plan(answer((1.0, 1.0)), extra=no_media).result.status is DetailStatus.ERROR
    outside = {**EXTRA, "clip": {"frame_indices": [1, 30], "fps": 1.0}}
    assert "outside" in plan(answer((1.0, 1.0)), extra=outside).result.message
    video = {**EXTRA, "media": MediaRef(frames=["v.mp4"], audio_in_video=True).to_json()}
    assert plan(answer((1.0, 1.0)), extra=video).result.status is DetailStatus.ERROR
    no_clip = {k: v for k, v in EXTRA.items() if k != "clip"}
    assert "clip" in plan(answer((1.0, 1.0)), extra=no_clip).result.message


@pytest.mark.parametrize("broken", [{"media": 5}, {"clip": "nope"}, {"dataset_root": object()}, 17])
def test_planning_never_raises(broken):
    extra = {**EXTRA, **broken} if isinstance(broken, dict) else broken
    outcome = plan_request(answer((1.0, 1.0)), GT.to_json(), extra, CONFIG, group_key="g", rollout_id="r", group_size=2)
    assert outcome.request is not None or outcome.result.status is DetailStatus.ERROR


def _pool_ok(request, boxes):
    keyframes = [
        KeyframeDetail(q.clip_index, tuple(map(tuple, boxes)), tuple(map(tuple, boxes))) for q in request.keyframes
    ]
    masks = MaskOverlap.of_clip([0, 90, 0, 80, 0], [0, 100, 0, 100, 0])
    return DetailResult(DetailStatus.OK, tuple(keyframes), masks=masks, timings={"sam2": 1.0})


def test_ok_result_scores_alignment_and_consistency():
    text = answer((1.0, 1.0))
    request = plan(text).request
    stored = _pool_ok(request, [[10.0, 10.0, 20.0, 20.0]]).to_dict()
    result = DetailResult.from_dict(json.loads(json.dumps(stored)))
    assert [k.frame for k in result.keyframes] == [1]
    assert result.masks.intersection == (0, 90, 0, 80, 0)
    breakdown = score_response(text, GT.to_json(), EXTRA, stored, CONFIG).to_metrics()
    assert breakdown["alignment_reward"] == pytest.approx(1.0)
    # Mean J over the frames where prediction or ground truth is non-empty: (0.9 + 0.8) / 2.
    assert breakdown["consistency_reward"] == pytest.approx(0.85)
    assert breakdown["detail_failed"] == 0.0


@pytest.mark.parametrize("status", [DetailStatus.TIMEOUT, DetailStatus.WORKER_DIED])
def test_pool_failures_stay_failures_and_score_finite(status):
    text = answer((1.0, 1.0))
    stored = DetailResult.for_request(plan(text).request, status, "boom").to_dict()
    metrics = score_response(text, GT.to_json(), EXTRA, stored, CONFIG).to_metrics()
    assert metrics["detail_failed"] == 1.0 and metrics[f"detail_{status.value}"] == 1.0
    assert metrics["alignment_reward"] == 0.0


def test_run_system2_never_raises():
    text = answer((1.0, 1.0))

    async def broken(request):
        raise ConnectionError("router gone")

    async def fine(request):
        return _pool_ok(request, [[1.0, 1.0, 5.0, 5.0]])

    async def wrong_type(request):
        return {"status": "ok"}

    failed = asyncio.run(run_system2(plan(text), broken))
    assert failed.status is DetailStatus.ERROR and "router gone" in failed.message
    assert asyncio.run(run_system2(plan(text), None)).status is DetailStatus.ERROR
    assert asyncio.run(run_system2(plan(text), wrong_type)).status is DetailStatus.ERROR
    assert asyncio.run(run_system2(plan(text), fine)).status is DetailStatus.OK
    skipped = asyncio.run(run_system2(plan("garbage"), broken))  # no pool call at all
    assert skipped.status is DetailStatus.NO_VALID_MOMENT
