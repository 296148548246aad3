"""From a System-1 response to the System-2 result the reward reads (no verl imports; the pool is passed in).

The agent loop (:mod:`omni_r1_verl.rollout.agent_loop`) calls :func:`run_system2` once per trajectory:

1. the response is parsed with the reward's own parser on the sample's clip, so System 2 grounds exactly the
   keyframes the reward scores (:func:`omni_r1_verl.scoring.answer.parse_answer`);
2. :func:`plan_request` turns the keyframes into a :class:`~omni_r1_verl.contracts.system2.DetailRequest` (clip
   frames at original resolution, ground-truth key and store) or says why System 2 is not needed; this is the one
   place that decides "no valid moment";
3. the request goes to the detail pool (any awaitable ``submit``), whose
   :class:`~omni_r1_verl.contracts.system2.DetailResult` is what the reward reads.

Nothing here raises on model output: an unusable sample, a failing pool or a bug becomes an explicit status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omni_r1_verl.contracts.clip import read_clip
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.contracts.system2 import DetailRequest, DetailResult, DetailStatus, KeyframeQuery
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.scoring.config import RewardConfig

logger = logging.getLogger(__name__)

#: Exception kinds already logged with a traceback (later ones of the same kind are logged in one line).
_LOGGED_KINDS: set[str] = set()


@dataclass(frozen=True)
class Plan:
    """What System 2 has to do for one trajectory.

    Attributes:
        request: The pool request, or ``None`` when System 2 is not run.
        result: The result to attach when ``request`` is ``None`` (a skip or an explicit failure).
    """

    request: DetailRequest | None = None
    result: DetailResult | None = None


def system2_needed(task: Task, config: RewardConfig) -> bool:
    """Whether any reward term of the task reads System 2's output.

    Args:
        task: The sample's task.
        config: Reward weights.

    Returns:
        ``False`` for image grounding (System 1 answers with boxes itself) and when every System-2 weight is 0.
    """
    w = config.weights
    if task is Task.VOS:
        return w.alignment != 0 or w.consistency != 0
    if task is Task.AVS:
        return w.detection != 0
    return False


def _skip(status: DetailStatus, message: str) -> Plan:
    return Plan(result=DetailResult.failure(status, message))


def _plan(
    text: str,
    ground_truth: GroundTruth | str | Mapping[str, Any],
    extra_info: Mapping[str, Any],
    config: RewardConfig,
    group_key: str,
    rollout_id: str,
    group_size: int,
) -> Plan:
    try:
        gt = ground_truth if isinstance(ground_truth, GroundTruth) else GroundTruth.from_json(ground_truth)
        media = MediaRef.from_json(extra_info["media"])
    except (KeyError, TypeError, ValueError) as err:
        return _skip(DetailStatus.ERROR, f"sample has no usable ground truth or media: {err}")
    if not system2_needed(gt.task, config):
        return _skip(DetailStatus.SKIPPED, f"no reward term of task {gt.task.value} reads System 2")
    clip = read_clip(extra_info)
    if clip is None:
        return _skip(DetailStatus.ERROR, "sample has no usable extra_info['clip'] record")
    if media.audio_in_video:
        return _skip(DetailStatus.ERROR, "System 2 reads frame files; this sample's frames are inside a video file")
    frame_indices = list(clip.frame_indices)
    if max(frame_indices) >= len(media.frames):
        return _skip(DetailStatus.ERROR, f"clip frames {frame_indices} outside the {len(media.frames)} media frames")

    if gt.task is Task.AVS:
        # Ref-AVS: System 1 rewrites the expression; System 2 grounds it on the clip's first frame.
        parsed = parse_answer(text, 1, clip.fps, config.answer)
        queries = [KeyframeQuery(clip_index=0, description=parsed.answer)] if parsed.answer else []
    else:
        parsed = parse_answer(text, clip.num_frames, clip.fps, config.answer)
        queries = [KeyframeQuery(clip_index=k.frame, description=k.description) for k in parsed.keyframes]
    if not queries:
        return _skip(DetailStatus.NO_VALID_MOMENT, "System 1 gave no valid moment")
    request = DetailRequest(
        group_key=group_key,
        rollout_id=rollout_id,
        dataset_root=str(extra_info.get("dataset_root", "")),
        frame_paths=[media.frames[i] for i in frame_indices],
        frame_indices=frame_indices,
        gt_key=gt.gt_key,
        keyframes=queries,
        gt_root=str(extra_info.get("gt_store", "")),
        group_size=group_size,
    )
    return Plan(request=request)


def plan_request(
    text: Any,
    ground_truth: GroundTruth | str | Mapping[str, Any],
    extra_info: Mapping[str, Any],
    config: RewardConfig,
    *,
    group_key: str,
    rollout_id: str,
    group_size: int = 0,
) -> Plan:
    """Decide what System 2 does for one response. Never raises.

    Args:
        text: The decoded System-1 response.
        ground_truth: ``reward_model.ground_truth`` of the row.
        extra_info: ``extra_info`` of the row, with the sampled ``clip`` the dataset recorded.
        config: Reward config (weights, answer parsing limits).
        group_key: GRPO group id (the sample ``uid``): requests of a group share one SAM2 pass.
        rollout_id: Id of the trajectory inside its group.
        group_size: Rollouts per group (``actor_rollout_ref.rollout.n``).

    Returns:
        A request, or the result to attach without running System 2 (``error`` for anything unexpected).
    """
    try:
        return _plan(text, ground_truth, extra_info, config, group_key, rollout_id, group_size)
    except Exception as err:  # noqa: BLE001 - the last line of defence: a rollout never fails on one sample
        return Plan(result=unexpected_error("planning System 2", err))


def unexpected_error(stage: str, err: BaseException, timings: Mapping[str, float] | None = None) -> DetailResult:
    """An explicit ``error`` result for an exception nothing else handled, logged once per kind.

    Args:
        stage: What was being done (for the message).
        err: The exception.
        timings: Time spent before it.

    Returns:
        The result (the reward counts it in ``detail_error``).
    """
    kind = f"{stage}:{type(err).__name__}"
    if kind not in _LOGGED_KINDS:
        _LOGGED_KINDS.add(kind)
        logger.error(
            "unexpected %s while %s (later ones are logged in one line)", type(err).__name__, stage, exc_info=err
        )
    else:
        logger.warning("unexpected %s while %s: %s", type(err).__name__, stage, err)
    return DetailResult.failure(DetailStatus.ERROR, f"{stage}: {type(err).__name__}: {err}", timings=timings)


async def run_system2(plan: Plan, submit: Callable[[DetailRequest], Awaitable[DetailResult]] | None) -> DetailResult:
    """Run a plan's request on the pool. Never raises.

    Args:
        plan: From :func:`plan_request`.
        submit: The pool's ``submit`` (``None`` when the pool could not be reached: an explicit error result).

    Returns:
        The result to attach (``result.to_dict()`` goes into ``extra_fields[DETAIL_KEY]``).
    """
    if plan.request is None:
        return plan.result
    if submit is None:
        return DetailResult.for_request(plan.request, DetailStatus.ERROR, "the detail pool is unavailable")
    start = time.perf_counter()
    try:
        result = await submit(plan.request)
    except Exception as err:  # noqa: BLE001 - a System-2 failure is scored and counted, never raised into training
        return unexpected_error("running System 2", err, {"total": time.perf_counter() - start})
    if not isinstance(result, DetailResult):
        return DetailResult.failure(DetailStatus.ERROR, f"the detail pool returned a {type(result).__name__}")
    return result
