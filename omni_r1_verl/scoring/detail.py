"""The System-2 result the rollout attaches to a trajectory (``AgentLoopOutput.extra_fields["detail"]``).

The detail pool produces a :class:`DetailResult` per rollout and stores ``result.to_dict()``; the reward reads it
back with :meth:`DetailResult.from_dict`. It is small (no masks): per-keyframe boxes and per-frame pixel counts.

* ``status`` says whether System 2 ran. Any status other than ``ok`` is a failure that the reward turns into a
  counted metric and zero for the terms that needed System 2; it never scores as an empty, "correct" mask.
* ``keyframes``: for each grounded clip frame, the boxes System 2 predicted and the ground-truth boxes of the
  objects visible there, both in original pixels.
* ``masks``: per clip frame, the intersection and union pixel counts of the union of the rollout's propagated
  masks against the union of the ground-truth masks (:func:`omni_r1_verl.scoring.consistency.overlap_counts`
  computes them). ``mask_status`` tells whether that stage ran (``skipped`` when a_G = 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

#: Bumped when a field changes meaning; :meth:`DetailResult.from_dict` rejects other versions.
SCHEMA_VERSION = 1


class DetailStatus(str, Enum):
    """Outcome of a System-2 stage."""

    OK = "ok"
    #: The stage was not requested (e.g. SAM2 with a_G = 0).
    SKIPPED = "skipped"
    #: System 1 gave no valid moment, so there was nothing to ground (not a System-2 failure).
    NO_VALID_MOMENT = "no_valid_moment"
    TIMEOUT = "timeout"
    WORKER_DIED = "worker_died"
    ERROR = "error"


#: Statuses that mean System 2 failed (each is reported as its own metric).
FAILURE_STATUSES: tuple[DetailStatus, ...] = (DetailStatus.TIMEOUT, DetailStatus.WORKER_DIED, DetailStatus.ERROR)


class DetailSchemaError(ValueError):
    """A detail dict does not follow the schema (wrong version, types or lengths)."""


def _req(cond: bool, message: str) -> None:
    if not cond:
        raise DetailSchemaError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _boxes(value: Any, name: str) -> tuple[tuple[float, ...], ...]:
    # Structure is checked here; coordinate validity (finite, inside the image) is the scorer's job, so a box
    # System 2 got wrong is counted as an invalid box instead of failing the whole result.
    _req(isinstance(value, Sequence) and not isinstance(value, (str, bytes)), f"{name} must be a list of boxes")
    out = []
    for box in value:
        _req(isinstance(box, Sequence) and not isinstance(box, (str, bytes)), f"{name} holds a non-list box")
        out.append(tuple(float(v) if _is_number(v) else math.nan for v in box))
    return tuple(out)


def _counts(value: Any, name: str) -> tuple[int, ...]:
    _req(isinstance(value, Sequence) and not isinstance(value, (str, bytes)), f"{name} must be a list")
    out = []
    for v in value:
        _req(_is_number(v), f"{name} holds a non-number")
        _req(math.isfinite(v) and v >= 0 and float(v).is_integer(), f"{name} holds {v!r}, not a pixel count")
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class KeyframeDetail:
    """System 2's boxes on one grounded keyframe.

    Attributes:
        frame: Clip frame index (into ``extra_info["clip"]["frame_indices"]``).
        pred_boxes: Boxes System 2 predicted, ``[x1, y1, x2, y2]`` original pixels (empty when it found none).
        gt_boxes: Ground-truth boxes of the objects visible on that frame, original pixels.
        parsed: System 2's output was parsable (``False``: counted, and scored as no boxes).
    """

    frame: int
    pred_boxes: tuple[tuple[float, ...], ...] = ()
    gt_boxes: tuple[tuple[float, ...], ...] = ()
    parsed: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {
            "frame": self.frame,
            "pred_boxes": [list(b) for b in self.pred_boxes],
            "gt_boxes": [list(b) for b in self.gt_boxes],
            "parsed": self.parsed,
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
        parsed = data.get("parsed", True)
        _req(isinstance(parsed, bool), "keyframe 'parsed' must be a bool")
        return cls(
            frame=frame,
            pred_boxes=_boxes(data.get("pred_boxes", ()), "pred_boxes"),
            gt_boxes=_boxes(data.get("gt_boxes", ()), "gt_boxes"),
            parsed=parsed,
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
        status: Outcome of the grounding stage (boxes).
        keyframes: One entry per grounded keyframe (empty unless ``status`` is ``ok``).
        mask_status: Outcome of the SAM2 stage (``skipped`` when it was not requested).
        masks: Pixel counts, present iff ``mask_status`` is ``ok``.
        timings: Seconds spent per stage (e.g. ``queue``, ``grounding``, ``sam2``), for metrics.
        message: Human-readable reason of a failure.
    """

    status: DetailStatus
    keyframes: tuple[KeyframeDetail, ...] = ()
    mask_status: DetailStatus = DetailStatus.SKIPPED
    masks: MaskOverlap | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DetailStatus(self.status))
        object.__setattr__(self, "mask_status", DetailStatus(self.mask_status))
        _req((self.masks is not None) == (self.mask_status is DetailStatus.OK), "masks present iff mask_status ok")

    @classmethod
    def failure(cls, status: DetailStatus | str, message: str = "", timings: Mapping[str, float] | None = None):
        """A result for a request that failed before producing anything.

        Args:
            status: The failure status.
            message: Why.
            timings: Time spent before failing.

        Returns:
            The result (both stages carry ``status``).
        """
        status = DetailStatus(status)
        return cls(status=status, mask_status=status, timings=dict(timings or {}), message=message)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-compatible dict for ``extra_fields["detail"]``."""
        return {
            "version": SCHEMA_VERSION,
            "status": self.status.value,
            "keyframes": [k.to_dict() for k in self.keyframes],
            "mask_status": self.mask_status.value,
            "masks": None if self.masks is None else self.masks.to_dict(),
            "timings": {str(k): float(v) for k, v in self.timings.items()},
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetailResult:
        """Parse and check a detail dict.

        Args:
            data: What the rollout stored.

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
            mask_status = DetailStatus(data.get("mask_status", DetailStatus.SKIPPED.value))
        except ValueError as exc:
            raise DetailSchemaError(str(exc)) from exc
        keyframes = data.get("keyframes") or ()
        _req(isinstance(keyframes, Sequence), "keyframes must be a list")
        masks = data.get("masks")
        timings = data.get("timings") or {}
        _req(isinstance(timings, Mapping), "timings must be a dict")
        try:
            clean_timings = {str(k): float(v) for k, v in timings.items()}
        except (TypeError, ValueError) as exc:
            raise DetailSchemaError(f"timings: {exc}") from exc
        return cls(
            status=status,
            keyframes=tuple(KeyframeDetail.from_dict(k) for k in keyframes),
            mask_status=mask_status,
            masks=None if masks is None else MaskOverlap.from_dict(masks),
            timings=clean_timings,
            message=str(data.get("message", "")),
        )
