"""What a System-2 request carries and what comes back (plain, picklable, JSON-able; no torch, no Ray).

One :class:`DetailRequest` per rollout. Requests of the same GRPO group share the video, the sampled clip and the
ground truth; the router merges them into one job (:meth:`DetailRequest.merge_key`). The result is a small dict
(no masks) with exactly the keys listed in :data:`RESULT_KEYS`; a failure is always an explicit status, never an
empty prediction that could score as correct.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class DetailStatus(str, enum.Enum):
    """Outcome of one rollout's System-2 pass."""

    #: Masks were propagated and scored.
    OK = "ok"
    #: System 1 gave no valid moment, so there was nothing to ground.
    NO_VALID_MOMENT = "no_valid_moment"
    #: The grounding model produced no box on any keyframe.
    NO_BOXES = "no_boxes"
    #: Boxes were produced but every one was rejected (inverted, zero area, outside the image, malformed).
    INVALID_BOXES = "invalid_boxes"
    #: The request ran past its deadline (queueing and retries included).
    TIMEOUT = "timeout"
    #: The worker process died on every attempt.
    WORKER_DIED = "worker_died"
    #: Anything else (unreadable frame, missing ground truth, model error); ``error`` says what.
    ERROR = "error"


#: Keys of every result dict, in order.
RESULT_KEYS = ("status", "error", "keyframes", "frame_inter", "frame_union", "timings", "attempts", "worker")


@dataclass
class KeyframeQuery:
    """One keyframe System 1 selected.

    Attributes:
        clip_index: Position of the frame in the sampled clip (0-based).
        description: System 1's single-image description of the target at this moment.
        boxes: Optional boxes ``[x1, y1, x2, y2]`` in original pixels; when given, grounding is skipped for this
            keyframe (image tasks where System 1 outputs boxes itself, tests, benchmarks).
    """

    clip_index: int
    description: str = ""
    boxes: list[list[float]] | None = None


@dataclass
class DetailRequest:
    """System-2 work for one rollout.

    Attributes:
        group_key: The GRPO group (sample ``uid`` / video key): requests with equal :meth:`merge_key` share a job.
        rollout_id: Identifies the rollout inside its group (logging only).
        dataset_root: Root that ``frame_paths`` are relative to.
        frame_paths: The sampled clip's frames at original resolution, relative to ``dataset_root``.
        frame_indices: Index of each clip frame in the full video (ground-truth lookup).
        gt_key: Key of the sample in the ground-truth store.
        keyframes: The keyframes to ground (may be empty: no valid moment).
        gt_root: Root of the ground-truth store; empty means ``dataset_root``.
        group_size: Requests expected for this group (``rollout.n``); the router runs the job as soon as that
            many arrived instead of waiting for the batching window. 0: unknown.
    """

    group_key: str
    rollout_id: str
    dataset_root: str
    frame_paths: list[str]
    frame_indices: list[int]
    gt_key: str
    keyframes: list[KeyframeQuery] = field(default_factory=list)
    gt_root: str = ""
    group_size: int = 0

    def __post_init__(self) -> None:
        self.keyframes = [k if isinstance(k, KeyframeQuery) else KeyframeQuery(**k) for k in self.keyframes]
        self.frame_paths = [str(p) for p in self.frame_paths]
        self.frame_indices = [int(i) for i in self.frame_indices]
        if not self.frame_paths:
            raise ValueError(f"request {self.rollout_id!r}: frame_paths is empty")
        if len(self.frame_indices) != len(self.frame_paths):
            raise ValueError(
                f"request {self.rollout_id!r}: {len(self.frame_paths)} frame paths but "
                f"{len(self.frame_indices)} frame indices"
            )
        for kf in self.keyframes:
            if not 0 <= int(kf.clip_index) < len(self.frame_paths):
                raise ValueError(
                    f"request {self.rollout_id!r}: keyframe clip_index {kf.clip_index} outside the "
                    f"{len(self.frame_paths)}-frame clip"
                )
            if not isinstance(kf.description, str):
                raise ValueError(f"request {self.rollout_id!r}: keyframe description must be a string")

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return len(self.frame_paths)

    def merge_key(self) -> str:
        """Requests with equal keys see the same frames and ground truth, so one SAM2 pass serves them all."""
        payload = [self.group_key, self.dataset_root, self.gt_root, self.gt_key, self.frame_paths, self.frame_indices]
        return hashlib.sha1(json.dumps(payload).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (round-trips through ``DetailRequest(**d)``)."""
        return asdict(self)


def keyframe_result(
    query: KeyframeQuery,
    pred_boxes: Sequence[Sequence[float]] = (),
    gt_boxes: Sequence[Sequence[float]] = (),
    rejected_boxes: int = 0,
) -> dict[str, Any]:
    """The per-keyframe entry of a result.

    Args:
        query: The keyframe as requested.
        pred_boxes: Accepted boxes in original pixels.
        gt_boxes: Ground-truth boxes of every object visible on this frame, original pixels.
        rejected_boxes: Boxes (or malformed box entries) that were dropped.

    Returns:
        ``{clip_index, description, pred_boxes, gt_boxes, rejected_boxes}``.
    """
    return {
        "clip_index": int(query.clip_index),
        "description": query.description,
        "pred_boxes": [[_round(v) for v in b] for b in pred_boxes],
        "gt_boxes": [[_round(v) for v in b] for b in gt_boxes],
        "rejected_boxes": int(rejected_boxes),
    }


def make_result(
    status: DetailStatus | str,
    *,
    error: str = "",
    keyframes: Sequence[Mapping[str, Any]] = (),
    frame_inter: Sequence[int] = (),
    frame_union: Sequence[int] = (),
    timings: Mapping[str, float] | None = None,
    attempts: int = 0,
    worker: str = "",
) -> dict[str, Any]:
    """Assemble a result dict with exactly :data:`RESULT_KEYS`.

    Args:
        status: The outcome.
        error: Human-readable reason for a non-``ok`` status.
        keyframes: Per-keyframe entries (:func:`keyframe_result`).
        frame_inter: Per clip frame, pixels in both the rollout's union mask and the ground-truth union.
        frame_union: Per clip frame, pixels in either.
        timings: Seconds per stage.
        attempts: Job attempts it took.
        worker: Which worker produced it.

    Returns:
        The result.
    """
    status = DetailStatus(status)
    if status is DetailStatus.OK and len(frame_inter) != len(frame_union):
        raise ValueError("frame_inter and frame_union must have one entry per clip frame")
    return {
        "status": status.value,
        "error": str(error),
        "keyframes": [dict(k) for k in keyframes],
        "frame_inter": [int(v) for v in frame_inter],
        "frame_union": [int(v) for v in frame_union],
        "timings": {k: round(float(v), 6) for k, v in (timings or {}).items()},
        "attempts": int(attempts),
        "worker": str(worker),
    }


def failure_result(
    request: DetailRequest,
    status: DetailStatus | str,
    error: str,
    *,
    timings: Mapping[str, float] | None = None,
    attempts: int = 0,
    worker: str = "",
) -> dict[str, Any]:
    """A result for a request that could not be segmented: keyframes echoed, no boxes, no frame counts.

    Args:
        request: The request.
        status: A non-``ok`` status.
        error: Why.
        timings: Seconds per stage so far.
        attempts: Attempts made.
        worker: Last worker involved.

    Returns:
        The result.
    """
    if DetailStatus(status) is DetailStatus.OK:
        raise ValueError("failure_result needs a failure status")
    return make_result(
        status,
        error=error,
        keyframes=[keyframe_result(k) for k in request.keyframes],
        timings=timings,
        attempts=attempts,
        worker=worker,
    )


def _round(value: float) -> float:
    value = float(value)
    return round(value, 3) if math.isfinite(value) else value
