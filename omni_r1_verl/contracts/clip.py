"""The sampled clip: which frames System 1 saw and the time convention every consumer uses.

The dataset class samples frame indices per (epoch, sample) and records them in the row as
``extra_info["clip"] = {"frame_indices": [...], "fps": fps}``. The agent loop, the detail pool, the reward and the
evaluators read this record with :func:`read_clip`; nobody re-samples. Time convention: sampled clip frame ``k``
sits at ``k / fps`` seconds of "virtual time" (``fps`` is ``data.omni_r1.fps``, 2 in the recipe). Pure module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The recipe's virtual frame rate, and the rate assumed for a clip record without ``fps``.
VIRTUAL_FPS = 2.0

#: ``extra_info`` key of the clip record.
CLIP_KEY = "clip"


@dataclass(frozen=True)
class Clip:
    """A clip record.

    Attributes:
        frame_indices: Index of each clip frame in the full video (``[0]`` for image tasks).
        fps: Virtual frame rate System 1 was told.
    """

    frame_indices: tuple[int, ...]
    fps: float = VIRTUAL_FPS

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return len(self.frame_indices)

    @property
    def duration(self) -> float:
        """Clip length in virtual seconds."""
        return self.num_frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        """The ``extra_info["clip"]`` record."""
        return {"frame_indices": list(self.frame_indices), "fps": self.fps}


def read_clip(extra_info: Mapping[str, Any] | None) -> Clip | None:
    """The clip record of a row's ``extra_info``. Never raises.

    Args:
        extra_info: The row's ``extra_info`` (anything).

    Returns:
        The clip, or ``None`` when the record is absent or malformed (no frames, a negative index, a non-finite or
        non-positive fps). A record without ``fps`` gets :data:`VIRTUAL_FPS`.
    """
    clip = extra_info.get(CLIP_KEY) if isinstance(extra_info, Mapping) else None
    if not isinstance(clip, Mapping):
        return None
    frames, fps = clip.get("frame_indices"), clip.get("fps", VIRTUAL_FPS)
    if frames is None or isinstance(frames, (str, bytes, Mapping)):
        return None
    try:
        indices = tuple(int(f) for f in frames)
        fps = float(fps)
    except (TypeError, ValueError, OverflowError):
        return None
    if not indices or min(indices) < 0 or not math.isfinite(fps) or fps <= 0:
        return None
    return Clip(indices, fps)
