"""The System-2 boundary: what a rollout asks of System 2 and what comes back (one schema, one status enum).

* :class:`DetailRequest` (one per rollout): the sampled clip's frames at original resolution, the keyframes System 1
  chose with its descriptions, and the ground-truth key. Requests of one GRPO group share a video, a clip and a
  ground truth: the pool merges them into one job (:meth:`DetailRequest.merge_key`). A request always has at least
  one keyframe: "no valid moment" is decided once, by the agent loop, before anything is sent.
* :class:`DetailResult` (one per rollout), produced by the detail engine, carried through the pool, stored by the
  agent loop as ``extra_fields[DETAIL_KEY]`` (:meth:`DetailResult.to_dict`) and read back by the reward
  (:meth:`DetailResult.from_dict`) and by evaluators. It is small (no masks): per-keyframe boxes and per-frame pixel
  counts of the rollout's union mask against the ground-truth union.

A failure is always an explicit :class:`DetailStatus`, never an empty prediction that could score as correct.
Pure module: stdlib only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

#: Bumped when a field changes meaning; :meth:`DetailResult.from_dict` rejects other versions, so a result cached
#: by an earlier evaluation run is never misread.
SCHEMA_VERSION = 2

#: ``AgentLoopOutput.extra_fields`` key of the System-2 result (verl hands ``extra_fields`` to the reward manager
#: as ``tool_extra_fields``; the ``naive`` manager merges them into ``extra_info``).
DETAIL_KEY = "detail"

Box = tuple[float, float, float, float]


class DetailStatus(str, Enum):
    """Outcome of one rollout's System-2 pass."""

    #: Boxes were grounded and masks propagated and scored.
    OK = "ok"
    #: No reward term of the sample reads System 2 (image grounding, or every System-2 weight is 0).
    SKIPPED = "skipped"
    #: System 1 gave no valid moment, so there was nothing to ground (not a System-2 failure).
    NO_VALID_MOMENT = "no_valid_moment"
    #: System 2 ran but the grounding model produced no box on any keyframe.
    NO_BOXES = "no_boxes"
    #: System 2 ran but every box was rejected (inverted, zero area, outside the image, malformed).
    INVALID_BOXES = "invalid_boxes"
    #: The request ran past its deadline (queueing and retries included).
    TIMEOUT = "timeout"
    #: The worker process died on every attempt.
    WORKER_DIED = "worker_died"
    #: Anything else (unreadable frame, missing ground truth, model error, unexpected exception); see ``message``.
    ERROR = "error"


#: Statuses where System 2 ran on the keyframes (boxes are scored; masks exist only for ``ok``).
RAN_STATUSES: frozenset[DetailStatus] = frozenset({DetailStatus.OK, DetailStatus.NO_BOXES, DetailStatus.INVALID_BOXES})

#: Statuses that are failures of System 2 itself (each is reported as its own reward metric).
FAILURE_STATUSES: tuple[DetailStatus, ...] = (DetailStatus.TIMEOUT, DetailStatus.WORKER_DIED, DetailStatus.ERROR)


class DetailSchemaError(ValueError):
    """A System-2 result dict does not follow the schema (wrong version, types or lengths)."""


# ---------------------------------------------------------------------------------------------------------- requests


@dataclass
class KeyframeQuery:
    """One keyframe System 1 selected.

    Attributes:
        clip_index: Position of the frame in the sampled clip (0-based).
        description: System 1's single-image description of the target at this moment.
        boxes: Optional boxes ``[x1, y1, x2, y2]`` in original pixels; when given, grounding is skipped for this
            keyframe (tests, benchmarks, oracle baselines).
    """

    clip_index: int
    description: str = ""
    boxes: list[list[float]] | None = None


@dataclass
class DetailRequest:
    """System-2 work for one rollout.

    Attributes:
        group_key: The GRPO group (sample ``uid``): requests with equal :meth:`merge_key` share a job.
        rollout_id: Identifies the rollout inside its group (logging only).
        dataset_root: Root that ``frame_paths`` are relative to.
        frame_paths: The sampled clip's frames at original resolution, relative to ``dataset_root``.
        frame_indices: Index of each clip frame in the full video (ground-truth lookup).
        gt_key: Key of the sample in the ground-truth store.
        keyframes: The keyframes to ground (at least one).
        gt_root: Root of the ground-truth store; empty means ``dataset_root``.
        group_size: Requests expected for this group (``actor_rollout_ref.rollout.n``); the pool runs the job as
            soon as that many arrived instead of waiting for its batching window. 0: unknown.

    Raises:
        ValueError: On an empty clip, mismatched frame lists, no keyframe, or a keyframe outside the clip.
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
        where = f"request {self.rollout_id!r}"
        if not self.frame_paths:
            raise ValueError(f"{where}: frame_paths is empty")
        if len(self.frame_indices) != len(self.frame_paths):
            raise ValueError(
                f"{where}: {len(self.frame_paths)} frame paths but {len(self.frame_indices)} frame indices"
            )
        if not self.keyframes:
            raise ValueError(f"{where}: no keyframe (a rollout without a valid moment is not sent to System 2)")
        for kf in self.keyframes:
            if not 0 <= int(kf.clip_index) < len(self.frame_paths):
                raise ValueError(
                    f"{where}: keyframe clip_index {kf.clip_index} outside the {len(self.frame_paths)}-frame clip"
                )
            if not isinstance(kf.description, str):
                raise ValueError(f"{where}: keyframe description must be a string")

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
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------------------- results


def _req(cond: bool, message: str) -> None:
    if not cond:
        raise DetailSchemaError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_float(value: Any) -> float:
    # Structure is checked by the schema; coordinate validity (finite, inside the image) is the scorer's job, so a
    # box System 2 got wrong is counted as an invalid box instead of failing the whole result.
    if not _is_number(value):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _boxes(value: Any, name: str) -> tuple[tuple[float, ...], ...]:
    _req(isinstance(value, Sequence) and not isinstance(value, (str, bytes)), f"{name} must be a list of boxes")
    out = []
    for box in value:
        _req(isinstance(box, Sequence) and not isinstance(box, (str, bytes)), f"{name} holds a non-list box")
        out.append(tuple(_to_float(v) for v in box))
    return tuple(out)


def _counts(value: Any, name: str) -> tuple[int, ...]:
    _req(isinstance(value, Sequence) and not isinstance(value, (str, bytes)), f"{name} must be a list")
    out = []
    for v in value:
        _req(_is_number(v), f"{name} holds a non-number")
        _req(
            isinstance(v, int) or (math.isfinite(v) and float(v).is_integer()),
            f"{name} holds {v!r}, not a pixel count",
        )
        _req(v >= 0, f"{name} holds {v!r}, not a pixel count")
        out.append(int(v))
    return tuple(out)


def _int_field(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    _req(isinstance(value, int) and not isinstance(value, bool) and value >= 0, f"{key} must be an int >= 0")
    return value


def rounded_box(box: Sequence[float]) -> Box:
    """A box with coordinates rounded to 1/1000 pixel (what results carry; non-finite values kept)."""
    return tuple(round(float(v), 3) if math.isfinite(float(v)) else float(v) for v in box)  # type: ignore[return-value]


@dataclass(frozen=True)
class KeyframeDetail:
    """System 2's boxes on one grounded keyframe.

    Attributes:
        frame: Clip frame index (into ``extra_info["clip"]["frame_indices"]``).
        pred_boxes: Accepted boxes ``[x1, y1, x2, y2]`` in original pixels (empty when none was found).
        gt_boxes: Ground-truth boxes of the objects visible on that frame, original pixels.
        rejected_boxes: Boxes (or malformed box entries) System 2 produced and rejected.
        description: The description the boxes were grounded from.
    """

    frame: int
    pred_boxes: tuple[tuple[float, ...], ...] = ()
    gt_boxes: tuple[tuple[float, ...], ...] = ()
    rejected_boxes: int = 0
    description: str = ""

    @property
    def parsed(self) -> bool:
        """System 2's output for this keyframe was clean (no rejected box); ``False`` scores as no boxes."""
        return self.rejected_boxes == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-compatible dict."""
        return {
            "frame": self.frame,
            "pred_boxes": [list(b) for b in self.pred_boxes],
            "gt_boxes": [list(b) for b in self.gt_boxes],
            "rejected_boxes": self.rejected_boxes,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyframeDetail:
        """Parse and check one keyframe entry.

        Args:
            data: The dict.

        Returns:
            The keyframe.

        Raises:
            DetailSchemaError: On a malformed entry.
        """
        _req(isinstance(data, Mapping), "keyframe entry must be a dict")
        frame = data.get("frame")
        _req(isinstance(frame, int) and not isinstance(frame, bool) and frame >= 0, f"bad keyframe frame {frame!r}")
        description = data.get("description", "")
        _req(isinstance(description, str), "keyframe description must be a string")
        return cls(
            frame=frame,
            description=description,
            pred_boxes=_boxes(data.get("pred_boxes", ()), "pred_boxes"),
            gt_boxes=_boxes(data.get("gt_boxes", ()), "gt_boxes"),
            rejected_boxes=_int_field(data, "rejected_boxes"),
        )


@dataclass(frozen=True)
class MaskOverlap:
    """Per-frame pixel counts of the rollout's union mask against the ground-truth union mask.

    Attributes:
        frames: Clip frame indices the counts are for.
        intersection: ``|pred AND gt|`` per frame.
        union: ``|pred OR gt|`` per frame.
    """

    frames: tuple[int, ...]
    intersection: tuple[int, ...]
    union: tuple[int, ...]

    def __post_init__(self) -> None:
        _req(len(self.frames) == len(self.intersection) == len(self.union), "mask counts differ in length")
        _req(all(i <= u for i, u in zip(self.intersection, self.union)), "intersection exceeds union")

    @classmethod
    def of_clip(cls, intersection: Sequence[int], union: Sequence[int]) -> MaskOverlap:
        """Counts for every clip frame in order (``frames = 0 .. len - 1``)."""
        return cls(tuple(range(len(union))), tuple(int(v) for v in intersection), tuple(int(v) for v in union))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"frames": list(self.frames), "intersection": list(self.intersection), "union": list(self.union)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaskOverlap:
        """Parse and check mask counts.

        Args:
            data: The dict.

        Returns:
            The counts.

        Raises:
            DetailSchemaError: On malformed counts.
        """
        _req(isinstance(data, Mapping), "masks must be a dict")
        return cls(
            frames=_counts(data.get("frames", ()), "masks.frames"),
            intersection=_counts(data.get("intersection", ()), "masks.intersection"),
            union=_counts(data.get("union", ()), "masks.union"),
        )


@dataclass(frozen=True)
class DetailResult:
    """What System 2 reports for one rollout.

    Attributes:
        status: The outcome.
        keyframes: One entry per requested keyframe (with boxes when System 2 ran; echoed without boxes otherwise).
        masks: Pixel counts, present iff ``status`` is ``ok``.
        timings: Seconds per stage (``queue``, ``load_frames``, ``grounding``, ``segmentation``, ``total``, ...).
        message: Human-readable reason of any status but ``ok``.
        attempts: Job attempts it took in the pool (0 outside the pool).
        worker: Which worker produced it.
    """

    status: DetailStatus
    keyframes: tuple[KeyframeDetail, ...] = ()
    masks: MaskOverlap | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    message: str = ""
    attempts: int = 0
    worker: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DetailStatus(self.status))
        object.__setattr__(self, "keyframes", tuple(self.keyframes))
        _req((self.masks is not None) == (self.status is DetailStatus.OK), "masks present iff status is ok")

    @property
    def ran(self) -> bool:
        """System 2 ran on the keyframes (``ok``, ``no_boxes``, ``invalid_boxes``): their boxes can be scored."""
        return self.status in RAN_STATUSES

    @property
    def failed(self) -> bool:
        """A failure of System 2 itself (``timeout``, ``worker_died``, ``error``)."""
        return self.status in FAILURE_STATUSES

    @classmethod
    def failure(
        cls,
        status: DetailStatus | str,
        message: str = "",
        *,
        keyframes: Sequence[KeyframeDetail] = (),
        timings: Mapping[str, float] | None = None,
        attempts: int = 0,
        worker: str = "",
    ) -> DetailResult:
        """A result without masks (a skip, no valid moment, no usable box, or a failure).

        Args:
            status: Any status but ``ok``.
            message: Why.
            keyframes: Keyframe entries to carry (echoed requests, or boxes of a ``no_boxes`` pass).
            timings: Time spent.
            attempts: Attempts made.
            worker: Last worker involved.

        Returns:
            The result.
        """
        return cls(
            status=status,
            keyframes=tuple(keyframes),
            timings=dict(timings or {}),
            message=message,
            attempts=attempts,
            worker=worker,
        )

    @classmethod
    def for_request(cls, request: DetailRequest, status: DetailStatus | str, message: str, **kwargs: Any):
        """A failure result for a request that produced nothing: its keyframes echoed without boxes.

        Args:
            request: The request.
            status: A non-``ok`` status.
            message: Why.
            **kwargs: ``timings``, ``attempts``, ``worker`` (see :meth:`failure`).

        Returns:
            The result.
        """
        echoed = [KeyframeDetail(frame=int(k.clip_index), description=k.description) for k in request.keyframes]
        return cls.failure(status, message, keyframes=echoed, **kwargs)

    def replace(self, **changes: Any) -> DetailResult:
        """A copy with some fields changed (e.g. the pool's ``attempts`` / ``worker`` / queue time)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-compatible dict (for ``extra_fields[DETAIL_KEY]`` and evaluation records)."""
        return {
            "version": SCHEMA_VERSION,
            "status": self.status.value,
            "keyframes": [k.to_dict() for k in self.keyframes],
            "masks": None if self.masks is None else self.masks.to_dict(),
            "timings": {str(k): float(v) for k, v in self.timings.items()},
            "message": self.message,
            "attempts": self.attempts,
            "worker": self.worker,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetailResult:
        """Parse and check a result dict.

        Args:
            data: What :meth:`to_dict` wrote (possibly after a trip through verl or a JSONL file).

        Returns:
            The result.

        Raises:
            DetailSchemaError: On any schema violation (wrong version, unknown status, malformed fields).
        """
        _req(isinstance(data, Mapping), f"detail must be a dict, got {type(data).__name__}")
        version = data.get("version")
        _req(version == SCHEMA_VERSION, f"detail schema version {version!r}, expected {SCHEMA_VERSION}")
        try:
            status = DetailStatus(data.get("status"))
        except ValueError as exc:
            raise DetailSchemaError(str(exc)) from exc
        keyframes = data.get("keyframes") or ()
        _req(isinstance(keyframes, Sequence) and not isinstance(keyframes, (str, bytes)), "keyframes must be a list")
        masks = data.get("masks")
        timings = data.get("timings") or {}
        _req(isinstance(timings, Mapping), "timings must be a dict")
        _req(all(_is_number(v) for v in timings.values()), "timings must map stages to numbers")
        return cls(
            status=status,
            keyframes=tuple(KeyframeDetail.from_dict(k) for k in keyframes),
            masks=None if masks is None else MaskOverlap.from_dict(masks),
            timings={str(k): _to_float(v) for k, v in timings.items()},
            message=str(data.get("message", "")),
            attempts=_int_field(data, "attempts"),
            worker=str(data.get("worker", "")),
        )
