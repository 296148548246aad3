"""The row contract between ``omni-r1 prepare`` and its consumers (dataset class, agent loop, reward, evaluators).

A prepared row stores two small JSON payloads besides verl's usual columns:

* ``reward_model.ground_truth`` = :class:`GroundTruth` (what the reward needs: task, GT-store key, per-frame
  visibility and mask areas, inline boxes for image tasks);
* ``extra_info.media`` = :class:`MediaRef` (where the frames / audio / image are, relative to the dataset root).

JSON strings keep one Arrow schema across all datasets, whatever their shapes. Media paths are relative to the
dataset root; :func:`resolve_under_root` is the one way to open them. Pure module: stdlib only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any


class Task(str, Enum):
    """What a sample asks System 1 to do."""

    #: Video object segmentation from a referring / reasoning expression (ReVOS, MeViS).
    VOS = "vos"
    #: Referring audio-visual segmentation (RefAVS): audio + image, detection reward on frame 0 in training.
    AVS = "avs"
    #: Image grounding, Seg-Zero style (refCOCOg): System 1 outputs a box and two points itself.
    IMAGE_GROUNDING = "image_grounding"


@dataclass
class GroundTruth:
    """Ground-truth summary carried in each row (small: no masks).

    Attributes:
        task: The task.
        gt_key: Key of this sample's masks in the ground-truth store ("" when the task has no masks).
        num_frames: Frames of the full video (1 for images).
        height: Original frame height in pixels.
        width: Original frame width in pixels.
        num_objects: Ground-truth objects referred to by the expression (0 for a null expression).
        areas: ``areas[o][f]`` = mask pixel count of object ``o`` in frame ``f`` (visible iff > 0).
        boxes: Optional inline boxes ``[x1, y1, x2, y2]`` per object on frame 0 (image tasks, RefAVS), original pixels.
        points: Optional inline points per object (Seg-Zero's two inscribed-circle centres), original pixels.
        null_target: True when nothing should be segmented (RefAVS null split).
    """

    task: Task
    gt_key: str
    num_frames: int
    height: int
    width: int
    num_objects: int
    areas: list[list[int]] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    points: list[list[list[float]]] = field(default_factory=list)
    null_target: bool = False

    def __post_init__(self) -> None:
        self.task = Task(self.task)
        if self.num_frames < 1 or self.height < 1 or self.width < 1:
            raise ValueError(f"invalid sizes: frames={self.num_frames} hw={self.height}x{self.width}")
        if self.areas and (len(self.areas) != self.num_objects or any(len(a) != self.num_frames for a in self.areas)):
            raise ValueError(f"areas must be [num_objects={self.num_objects}][num_frames={self.num_frames}]")

    def to_json(self) -> str:
        """Compact JSON for the ``ground_truth`` column."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # no deep copy, unlike asdict
        data["task"] = self.task.value
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> GroundTruth:
        """Parse the ``ground_truth`` column (a JSON string, or an already decoded dict).

        Args:
            text: The column value.

        Returns:
            The ground truth.
        """
        data = json.loads(text) if isinstance(text, str) else dict(text)
        return cls(**data)


@dataclass
class MediaRef:
    """Where a sample's media are, relative to the dataset root.

    Attributes:
        frames: Frame image files of the full video, in temporal order (one entry for image samples).
        audio: Audio file (``""`` when the sample has no separate audio track).
        audio_in_video: The audio comes from the video container (``frames`` then holds one video file).
        fps: Native frame rate of ``frames`` when known, else 0.
    """

    frames: list[str] = field(default_factory=list)
    audio: str = ""
    audio_in_video: bool = False
    fps: float = 0.0

    def to_json(self) -> str:
        """Compact JSON for ``extra_info.media``.

        When all frames share one directory it is written once (``frame_dir`` + ``frame_names``), which keeps rows
        of long videos small; :meth:`from_json` restores :attr:`frames`.
        """
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        parents = {f.rpartition("/")[0] for f in self.frames}
        if len(self.frames) > 1 and len(parents) == 1:
            data["frame_dir"] = parents.pop()
            data["frame_names"] = [f.rpartition("/")[2] for f in data.pop("frames")]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> MediaRef:
        """Parse ``extra_info.media``.

        Args:
            text: The column value (JSON string or decoded dict).

        Returns:
            The media reference.
        """
        data = json.loads(text) if isinstance(text, str) else dict(text)
        if "frame_dir" in data:
            prefix = data.pop("frame_dir")
            prefix = prefix + "/" if prefix else ""
            data["frames"] = [prefix + name for name in data.pop("frame_names")]
        return cls(**data)


class UnsafePathError(ValueError):
    """A media path escapes the dataset root (absolute, ``..``, or a symlink pointing outside)."""


def resolve_under_root(root: str | Path, relative: str) -> Path:
    """Join ``relative`` to ``root`` and refuse anything that leaves the root.

    Args:
        root: Dataset root.
        relative: A path stored in a row.

    Returns:
        The absolute path inside the root.

    Raises:
        UnsafePathError: If ``relative`` is absolute, contains ``..``, or resolves (through symlinks) outside root.
    """
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or relative.strip() == "":
        raise UnsafePathError(f"path {relative!r} is not a relative path inside the dataset root")
    base = Path(root).resolve()
    target = (base / pure).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"path {relative!r} resolves outside the dataset root {base}")
    return target
