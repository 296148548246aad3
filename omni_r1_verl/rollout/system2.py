"""From a System-1 response to the System-2 result the reward reads (no verl imports; the pool is passed in).

The agent loop (:mod:`omni_r1_verl.rollout.agent_loop`) calls :func:`run_system2` once per trajectory:

1. the response is parsed with the reward's own parser on the sample's clip, so System 2 grounds exactly the
   keyframes the reward scores (:func:`omni_r1_verl.scoring.answer.parse_answer`);
2. :func:`plan_request` turns the keyframes into a :class:`~omni_r1_verl.detail.request.DetailRequest` (clip frames
   at original resolution, ground-truth key and store) or says why System 2 is not needed;
3. the request goes to the detail pool (any awaitable ``submit``), and :func:`to_scoring_dict` converts the pool's
   result into the reward's schema (:mod:`omni_r1_verl.scoring.detail`).

Nothing here raises on model output: an unusable sample or a failing pool becomes an explicit status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omni_r1_verl.data.schema import GroundTruth, MediaRef, Task
from omni_r1_verl.detail.request import DetailRequest, KeyframeQuery
from omni_r1_verl.detail.request import DetailStatus as PoolStatus
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.scoring.config import RewardConfig
from omni_r1_verl.scoring.detail import DetailResult, DetailStatus, KeyframeDetail, MaskOverlap

logger = logging.getLogger(__name__)

#: Pool statuses that mean System 2 ran but found nothing usable: scored as no boxes, not as a failure.
_RAN_WITHOUT_BOXES = (PoolStatus.NO_BOXES, PoolStatus.INVALID_BOXES)

#: Pool statuses that are failures of System 2 itself.
_FAILURES = {
    PoolStatus.TIMEOUT: DetailStatus.TIMEOUT,
    PoolStatus.WORKER_DIED: DetailStatus.WORKER_DIED,
    PoolStatus.ERROR: DetailStatus.ERROR,
}


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
    return Plan(result=DetailResult(status=status, message=message))


def plan_request(
    text: str,
    ground_truth: GroundTruth | str | Mapping[str, Any],
    extra_info: Mapping[str, Any],
    config: RewardConfig,
    *,
    group_key: str,
    rollout_id: str,
    group_size: int = 0,
) -> Plan:
    """Decide what System 2 does for one response.

    Args:
        text: The decoded System-1 response.
        ground_truth: ``reward_model.ground_truth`` of the row.
        extra_info: ``extra_info`` of the row, with the sampled ``clip`` the dataset recorded.
        config: Reward config (weights, answer parsing limits).
        group_key: GRPO group id (the sample ``uid``): requests of a group share one SAM2 pass.
        rollout_id: Id of the trajectory inside its group.
        group_size: Rollouts per group (``rollout.n``).

    Returns:
        A request, or the result to attach without running System 2.
    """
    try:
        gt = ground_truth if isinstance(ground_truth, GroundTruth) else GroundTruth.from_json(ground_truth)
        media = MediaRef.from_json(extra_info["media"])
        clip = extra_info.get("clip") or {}
        frame_indices = [int(i) for i in clip.get("frame_indices", ())]
        fps = float(clip.get("fps", 0.0))
    except (KeyError, TypeError, ValueError) as err:
        return _skip(DetailStatus.ERROR, f"sample has no usable ground truth, media or clip: {err}")
    if not system2_needed(gt.task, config):
        return _skip(DetailStatus.SKIPPED, f"no reward term of task {gt.task.value} reads System 2")
    if media.audio_in_video:
        return _skip(DetailStatus.ERROR, "System 2 reads frame files; this sample's frames are inside a video file")
    if not frame_indices or max(frame_indices) >= len(media.frames):
        return _skip(DetailStatus.ERROR, f"clip frames {frame_indices} outside the {len(media.frames)} media frames")

    if gt.task is Task.AVS:
        # Ref-AVS: System 1 rewrites the expression; System 2 grounds it on the clip's first frame.
        parsed = parse_answer(text, 1, fps or 1.0, config.answer)
        queries = [KeyframeQuery(clip_index=0, description=parsed.answer)] if parsed.answer else []
    else:
        parsed = parse_answer(text, len(frame_indices), fps, config.answer)
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


def to_scoring_dict(result: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a detail-pool result (:func:`omni_r1_verl.detail.request.make_result`) into the reward's schema.

    ``no_boxes`` / ``invalid_boxes`` mean System 2 ran and found nothing usable: status ``ok`` with empty
    predictions (rejected boxes mark the keyframe unparsed, which the reward counts), and no mask counts.
    ``timeout`` / ``worker_died`` / ``error`` stay failures for both stages.

    Args:
        result: The pool's result dict.

    Returns:
        A dict :meth:`omni_r1_verl.scoring.detail.DetailResult.from_dict` accepts.
    """
    timings = {str(k): float(v) for k, v in (result.get("timings") or {}).items()}
    try:
        status = PoolStatus(result.get("status"))
    except ValueError:
        return DetailResult.failure(DetailStatus.ERROR, f"unknown pool status {result.get('status')!r}").to_dict()
    if status in _FAILURES:
        return DetailResult.failure(_FAILURES[status], str(result.get("error", "")), timings).to_dict()
    if status is PoolStatus.NO_VALID_MOMENT:
        return DetailResult(status=DetailStatus.NO_VALID_MOMENT, timings=timings).to_dict()
    keyframes = tuple(
        KeyframeDetail(
            frame=int(k["clip_index"]),
            pred_boxes=tuple(tuple(float(v) for v in b) for b in k.get("pred_boxes", ())),
            gt_boxes=tuple(tuple(float(v) for v in b) for b in k.get("gt_boxes", ())),
            parsed=int(k.get("rejected_boxes", 0)) == 0,
        )
        for k in result.get("keyframes", ())
    )
    masks = None
    if status is PoolStatus.OK:
        inter, union = list(result.get("frame_inter", ())), list(result.get("frame_union", ()))
        masks = MaskOverlap(frames=tuple(range(len(union))), intersection=tuple(inter), union=tuple(union))
    return DetailResult(
        status=DetailStatus.OK,
        keyframes=keyframes,
        mask_status=DetailStatus.OK if masks is not None else DetailStatus.SKIPPED,
        masks=masks,
        timings=timings,
        message=str(result.get("error", "")) if status in _RAN_WITHOUT_BOXES else "",
    ).to_dict()


async def run_system2(
    plan: Plan, submit: Callable[[DetailRequest], Awaitable[Mapping[str, Any]]] | None
) -> dict[str, Any]:
    """Run a plan's request on the pool and return the reward-schema dict to attach. Never raises.

    Args:
        plan: From :func:`plan_request`.
        submit: The pool's ``submit`` (``None`` when the pool could not be reached: an explicit error result).

    Returns:
        The dict for ``extra_fields["detail"]``.
    """
    if plan.request is None:
        return plan.result.to_dict()
    if submit is None:
        return DetailResult.failure(DetailStatus.ERROR, "the detail pool is unavailable").to_dict()
    start = time.perf_counter()
    try:
        result = await submit(plan.request)
    except Exception as err:  # noqa: BLE001 - a System-2 failure is scored and counted, never raised into training
        logger.warning("System 2 failed for %s: %s: %s", plan.request.group_key, type(err).__name__, err)
        timings = {"total": time.perf_counter() - start}
        return DetailResult.failure(DetailStatus.ERROR, f"{type(err).__name__}: {err}", timings).to_dict()
    return to_scoring_dict(result)
