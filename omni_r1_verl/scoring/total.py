"""The total Omni-R1 reward of a response, with a fixed set of metric keys.

Per task (``GroundTruth.task``)::

    vos:              acc = a_K R_K + a_K_ratio saliency + a_A R_A + a_G R_G
    avs:              acc = w_detection IoU(System-2 box on frame 0, GT box)
    image_grounding:  acc = w_grounding Seg-Zero(answer box and points)
    score = acc + w_format format + length          (length: per GRPO group, see scoring.length)

:func:`score_response` scores one response without the group term; :func:`score_group` scores a whole GRPO group
(the ground truth is prepared once) including it. Neither raises on model output: malformed answers, missing or
failed System-2 results and degenerate boxes give finite rewards and are counted in the metrics
(:data:`METRIC_KEYS`, the same keys for every sample, as verl requires).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omni_r1_verl.contracts.clip import VIRTUAL_FPS, read_clip
from omni_r1_verl.contracts.rows import GroundTruth, Task
from omni_r1_verl.contracts.system2 import FAILURE_STATUSES, DetailResult, DetailStatus
from omni_r1_verl.scoring.alignment import alignment_terms, detection_terms
from omni_r1_verl.scoring.answer import ParsedAnswer, Problem, parse_answer
from omni_r1_verl.scoring.config import RewardConfig
from omni_r1_verl.scoring.consistency import consistency_terms
from omni_r1_verl.scoring.format import format_reward
from omni_r1_verl.scoring.keyframe import keyframe_terms
from omni_r1_verl.scoring.length import length_shaping
from omni_r1_verl.scoring.segzero import segzero_terms
from omni_r1_verl.utils.model_output import finite_float
from omni_r1_verl.utils.vision import smart_resize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardBreakdown:
    """Every term and counter of one response's reward (all plain floats, for verl's ``reward_extra_info``).

    Rewards: ``score`` (the total), ``acc`` (task accuracy: the total without format and length),
    ``format_reward``, ``length_reward``, the weighted-sum inputs ``keyframe_*``, ``alignment_*``,
    ``consistency_reward``, ``detection_reward``, ``grounding_reward``.

    Counters (0/1 flags or counts; their batch mean is a rate): answer problems, System-2 problems, data
    problems and group problems, named after what they count. Three describe the pass itself: ``answer_parsed``
    (the answer gave System 2 something to ground: a valid moment, or for Ref-AVS and refCOCOg a non-empty answer),
    ``detail_ran`` (System 2 ran on the keyframes) and ``detail_seconds`` (its time in the worker).
    """

    score: float = 0.0
    acc: float = 0.0
    format_reward: float = 0.0
    length_reward: float = 0.0
    keyframe_reward: float = 0.0
    keyframe_answer: float = 0.0
    keyframe_count: float = 0.0
    keyframe_diversity: float = 0.0
    keyframe_saliency: float = 0.0
    alignment_reward: float = 0.0
    alignment_iou: float = 0.0
    alignment_count: float = 0.0
    consistency_reward: float = 0.0
    detection_reward: float = 0.0
    grounding_reward: float = 0.0
    answer_parsed: float = 0.0
    num_moments: float = 0.0
    num_valid_moments: float = 0.0
    num_keyframes: float = 0.0
    no_answer: float = 0.0
    no_valid_moment: float = 0.0
    invalid_moments: float = 0.0
    duplicate_moments: float = 0.0
    dropped_moments: float = 0.0
    invalid_boxes: float = 0.0
    unparsed_keyframes: float = 0.0
    detail_missing: float = 0.0
    detail_invalid: float = 0.0
    detail_failed: float = 0.0
    detail_timeout: float = 0.0
    detail_worker_died: float = 0.0
    detail_error: float = 0.0
    detail_ran: float = 0.0
    detail_seconds: float = 0.0
    masks_missing: float = 0.0
    gt_invalid: float = 0.0
    gt_empty: float = 0.0
    clip_missing: float = 0.0
    length_no_group: float = 0.0
    length_group_timeout: float = 0.0
    scoring_error: float = 0.0

    def to_metrics(self) -> dict[str, float]:
        """The fixed-key dict for ``reward_extra_info``."""
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def with_length(self, length_reward: float, **flags: float) -> RewardBreakdown:
        """A copy with the group length term added to ``score``.

        Args:
            length_reward: The length term.
            **flags: Group counters to set (``length_no_group``, ``length_group_timeout``).

        Returns:
            The updated breakdown.
        """
        return dataclasses.replace(self, length_reward=length_reward, score=self.score + length_reward, **flags)


#: The reward_extra_info keys of every sample, in order.
METRIC_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RewardBreakdown))


@dataclass(frozen=True)
class _Context:
    """Everything about a sample that does not depend on the response (prepared once per group)."""

    gt: GroundTruth | None
    num_frames: int
    fps: float
    areas: np.ndarray | None
    flags: Mapping[str, float]


def _context(ground_truth: GroundTruth | str | Mapping[str, Any], extra_info: Mapping[str, Any] | None) -> _Context:
    flags: dict[str, float] = {}
    try:
        gt = ground_truth if isinstance(ground_truth, GroundTruth) else GroundTruth.from_json(ground_truth)
    except (TypeError, ValueError, KeyError) as exc:
        sample = (extra_info or {}).get("sample_id", "?")
        logger.warning("sample %s: unusable ground truth (%s: %s); scored 0", sample, type(exc).__name__, exc)
        return _Context(None, 0, VIRTUAL_FPS, None, {"gt_invalid": 1.0})
    clip = read_clip(extra_info)
    if clip is None:  # the whole video at the default rate: no frame index list to build or gather
        if gt.task is Task.VOS:
            flags["clip_missing"] = 1.0
        indices, num_frames, fps = None, gt.num_frames, VIRTUAL_FPS
    else:
        indices, num_frames, fps = list(clip.frame_indices), clip.num_frames, clip.fps
    areas = None
    if gt.areas:
        full = np.asarray(gt.areas, dtype=np.float64).reshape(gt.num_objects, gt.num_frames)
        if indices is None:
            areas = full
        elif max(indices) < gt.num_frames:
            areas = full[:, indices]
        else:
            flags["gt_invalid"] = 1.0
    elif gt.task is Task.VOS:
        flags["gt_invalid"] = 1.0
    if gt.num_objects == 0 or (areas is not None and not (areas > 0).any()):
        flags["gt_empty"] = 1.0
    return _Context(gt, num_frames, fps, areas, flags)


def _safe_context(
    ground_truth: GroundTruth | str | Mapping[str, Any], extra_info: Mapping[str, Any] | None
) -> _Context | None:
    try:
        return _context(ground_truth, extra_info)
    except Exception:  # a bug preparing the sample must not stop training either
        logger.exception("preparing sample %s failed; scored 0", (extra_info or {}).get("sample_id", "?"))
        return None


def _detail(detail: DetailResult | Mapping[str, Any] | None, num_frames: int) -> tuple[DetailResult | None, bool]:
    """Parse a detail dict; returns ``(result, invalid)``."""
    if detail is None or isinstance(detail, DetailResult):
        result = detail
    else:
        # DetailSchemaError is a ValueError; the others come from values the schema check cannot convert (an
        # integer beyond float range).
        try:
            result = DetailResult.from_dict(detail)
        except (ValueError, TypeError, OverflowError) as exc:
            logger.warning("malformed System-2 result ignored: %s", exc)
            return None, True
    if result is not None:
        frames = [k.frame for k in result.keyframes] + list(result.masks.frames if result.masks else ())
        if any(f >= num_frames for f in frames):
            logger.warning("System-2 result refers to frames beyond the %d-frame clip; ignored", num_frames)
            return None, True
    return result, False


def _detail_flags(result: DetailResult | None, invalid: bool, needed: bool) -> dict[str, float]:
    flags: dict[str, float] = {}
    if result is not None and not invalid:
        flags["detail_ran"] = float(result.ran)
        seconds = finite_float(result.timings.get("total", 0.0)) if isinstance(result.timings, Mapping) else None
        flags["detail_seconds"] = max(seconds or 0.0, 0.0)
    if invalid:
        flags["detail_invalid"] = flags["detail_failed"] = 1.0
    elif result is None:
        if needed:
            flags["detail_missing"] = 1.0
    elif result.status in FAILURE_STATUSES:
        flags["detail_failed"] = 1.0
        flags[f"detail_{result.status.value}"] = 1.0
    elif needed and result.status is DetailStatus.NO_VALID_MOMENT:
        # System 2 saw no valid moment while the reward parsed one: the two sides disagree.
        flags["detail_invalid"] = flags["detail_failed"] = 1.0
    return flags


def _answer_counters(parsed: ParsedAnswer) -> dict[str, float]:
    return {
        "num_moments": float(len(parsed.moments)),
        "num_valid_moments": float(len(parsed.valid_moments)),
        "num_keyframes": float(len(parsed.keyframes)),
        "no_answer": float(Problem.NO_ANSWER in parsed.problems),
        "no_valid_moment": float(Problem.NO_VALID_MOMENT in parsed.problems),
        "invalid_moments": float(len(parsed.moments) - len(parsed.valid_moments)),
        "duplicate_moments": float(parsed.duplicate_moments),
        "dropped_moments": float(parsed.dropped_moments),
    }


def _score_vos(ctx: _Context, text: str, detail: Any, config: RewardConfig) -> dict[str, float]:
    gt, w = ctx.gt, config.weights
    parsed = parse_answer(text, ctx.num_frames, ctx.fps, config.answer)
    out = _answer_counters(parsed)
    kf = keyframe_terms(parsed, ctx.areas, config.keyframe)
    out.update(
        keyframe_reward=kf.total,
        keyframe_answer=kf.answer,
        keyframe_count=kf.count,
        keyframe_diversity=kf.diversity,
        keyframe_saliency=kf.saliency,
    )
    needed = bool(parsed.valid_moments)
    out["answer_parsed"] = float(needed)
    result, invalid = _detail(detail, ctx.num_frames)
    out.update(_detail_flags(result, invalid, needed))
    alignment = consistency = 0.0
    if needed and result is not None and result.ran:
        al = alignment_terms(result.keyframes, gt.num_objects, gt.height, gt.width, config.alignment, config.boxes)
        alignment = al.total
        out.update(
            alignment_iou=al.iou,
            alignment_count=al.count,
            invalid_boxes=float(al.invalid_boxes),
            unparsed_keyframes=float(al.unparsed_keyframes),
        )
        if result.masks is not None:
            consistency = consistency_terms(result.masks.intersection, result.masks.union, config.consistency).value
        elif w.consistency != 0:
            out["masks_missing"] = 1.0
    out.update(alignment_reward=alignment, consistency_reward=consistency)
    out["acc"] = (
        w.keyframe * kf.total + w.keyframe_ratio * kf.saliency + w.alignment * alignment + w.consistency * consistency
    )
    return out


def _score_avs(ctx: _Context, text: str, detail: Any, config: RewardConfig) -> dict[str, float]:
    gt = ctx.gt
    parsed = parse_answer(text, 1, ctx.fps, config.answer)
    out = {"no_answer": float(not parsed.answer)}
    needed = bool(parsed.answer)
    out["answer_parsed"] = float(needed)
    result, invalid = _detail(detail, max(ctx.num_frames, 1))
    out.update(_detail_flags(result, invalid, needed))
    iou = 0.0
    if needed and result is not None and result.ran:
        keyframe = next((k for k in result.keyframes if k.frame == 0), None)
        if keyframe is not None:
            gt_boxes = () if gt.null_target else gt.boxes
            keyframe = dataclasses.replace(keyframe, gt_boxes=tuple(tuple(b) for b in gt_boxes))
        det = detection_terms(keyframe, gt.height, gt.width, config.boxes)
        iou = det.iou
        out.update(invalid_boxes=float(det.invalid_boxes), unparsed_keyframes=float(det.unparsed))
    out["detection_reward"] = iou
    out["acc"] = config.weights.detection * iou
    return out


def _score_image_grounding(
    ctx: _Context, text: str, extra_info: Mapping[str, Any] | None, config: RewardConfig
) -> dict[str, float]:
    gt = ctx.gt
    parsed = parse_answer(text, 1, ctx.fps, config.answer)
    out = {"no_answer": float(not parsed.answer), "answer_parsed": float(bool(parsed.answer))}
    if not gt.boxes or not gt.points:
        out["gt_invalid"] = 1.0
        out["acc"] = 0.0
        return out
    resized = (extra_info or {}).get("resized_hw")
    try:
        resized_hw = (int(resized[0]), int(resized[1])) if resized is not None else smart_resize(gt.height, gt.width)
    except (TypeError, ValueError, IndexError):
        resized_hw = smart_resize(gt.height, gt.width)
    terms = segzero_terms(
        parsed.answer, gt.boxes[0], gt.points[0], (gt.height, gt.width), resized_hw, config.segzero, config.boxes
    )
    out.update(grounding_reward=terms.total, invalid_boxes=float(terms.invalid_box))
    out["acc"] = config.weights.grounding * terms.total
    return out


def _score(
    ctx: _Context, text: Any, detail: Any, extra_info: Mapping[str, Any] | None, config: RewardConfig
) -> RewardBreakdown:
    values: dict[str, float] = dict(ctx.flags)
    fmt = format_reward(text, config.format)
    values["format_reward"] = fmt
    if ctx.gt is not None:
        if ctx.gt.task is Task.VOS:
            values.update(_score_vos(ctx, text, detail, config))
        elif ctx.gt.task is Task.AVS:
            values.update(_score_avs(ctx, text, detail, config))
        else:
            values.update(_score_image_grounding(ctx, text, extra_info, config))
    acc = values.get("acc", 0.0)
    values["score"] = acc + config.weights.format * fmt
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"non-finite reward terms {bad}")
    return RewardBreakdown(**values)


def _safe_score(
    ctx: _Context | None, text: Any, detail: Any, extra_info: Mapping[str, Any] | None, config: RewardConfig
) -> RewardBreakdown:
    if ctx is None:
        return RewardBreakdown(scoring_error=1.0)
    try:
        return _score(ctx, text, detail, extra_info, config)
    except Exception:  # the last line of defence: a reward bug must not stop training
        logger.exception("scoring failed for sample %s; scored 0", (extra_info or {}).get("sample_id", "?"))
        return RewardBreakdown(scoring_error=1.0)


def score_response(
    text: Any,
    ground_truth: GroundTruth | str | Mapping[str, Any],
    extra_info: Mapping[str, Any] | None = None,
    detail: DetailResult | Mapping[str, Any] | None = None,
    config: RewardConfig | None = None,
) -> RewardBreakdown:
    """Score one response (everything except the group length term). Never raises.

    Args:
        text: The decoded System-1 response.
        ground_truth: ``reward_model.ground_truth`` (JSON string, dict or :class:`GroundTruth`).
        extra_info: The sample's ``extra_info`` (reads ``clip``, ``sample_id``, ``resized_hw``).
        detail: The System-2 result (``extra_fields["detail"]``), ``None`` when System 2 did not run.
        config: Weights and constants (defaults when ``None``).

    Returns:
        The breakdown; ``length_reward`` is 0.
    """
    config = config or RewardConfig()
    return _safe_score(_safe_context(ground_truth, extra_info), text, detail, extra_info, config)


def score_group(
    texts: Sequence[Any],
    ground_truth: GroundTruth | str | Mapping[str, Any],
    extra_info: Mapping[str, Any] | None = None,
    details: Sequence[DetailResult | Mapping[str, Any] | None] | None = None,
    lengths: Sequence[int] | None = None,
    config: RewardConfig | None = None,
) -> list[RewardBreakdown]:
    """Score the rollouts of one GRPO group (one prompt), including the group length term. Never raises.

    Args:
        texts: The decoded responses.
        ground_truth: The shared ground truth.
        extra_info: The shared ``extra_info``.
        details: One System-2 result per rollout (``None`` entries, or ``None`` for all).
        lengths: Response tokens per rollout; without them the length term is 0 and ``length_no_group`` is set.
        config: Weights and constants.

    Returns:
        One breakdown per rollout, in order.
    """
    config = config or RewardConfig()
    ctx = _safe_context(ground_truth, extra_info)
    details = details if details is not None else [None] * len(texts)
    if len(details) != len(texts):
        raise ValueError(f"{len(details)} details for {len(texts)} responses")
    scores = [_safe_score(ctx, t, d, extra_info, config) for t, d in zip(texts, details)]
    if not config.length.enable:
        return scores
    if lengths is None or len(lengths) != len(texts):
        return [s.with_length(0.0, length_no_group=1.0) for s in scores]
    bonuses = length_shaping([s.acc for s in scores], list(lengths), config.length)
    return [s.with_length(b) for s, b in zip(scores, bonuses)]
