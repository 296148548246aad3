"""Plain data the renderers draw: frames with masks, keyframes, moments, audio.

Times are seconds on the timeline of the rendered video (frame ``i`` of a 30 fps video at ``i / 30`` s), not
System 1's virtual clip time; :func:`marks_from_answer` converts a parsed answer from one to the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One video frame and the masks shown on it.

    Attributes:
        image: ``uint8`` RGB array ``(H, W, 3)``.
        time_s: Presentation time in seconds.
        masks: Object id -> ``bool`` array ``(H, W)``; objects drawn in mapping order (later ones on top).
    """

    image: np.ndarray
    time_s: float
    masks: Mapping[int, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Moment:
    """A span of the video System 1 chose.

    Attributes:
        start_s: Start in seconds.
        end_s: End in seconds (>= ``start_s``).
        description: The single-image description written for the span.
    """

    start_s: float
    end_s: float
    description: str = ""


@dataclass(frozen=True)
class Keyframe:
    """A frame sent to System 2 with its description.

    Attributes:
        time_s: Time of the frame in seconds.
        description: The description System 2 grounds.
        moment: Index into the accompanying moments list (colours the mark like its moment); ``None`` for none.
    """

    time_s: float
    description: str = ""
    moment: int | None = None

    @classmethod
    def at_frame(cls, frame: int, fps: float, description: str = "", moment: int | None = None) -> Keyframe:
        """The keyframe shown at frame ``frame`` of a constant-rate ``fps`` video."""
        return cls(time_s=frame / fps, description=description, moment=moment)


@dataclass(frozen=True)
class Audio:
    """A mono waveform.

    Attributes:
        samples: ``float32`` samples in ``[-1, 1]``, starting at time 0 of the video.
        sample_rate: Samples per second.
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class AnswerMarks:
    """Moments and keyframes of one answer, in video seconds."""

    moments: tuple[Moment, ...] = ()
    keyframes: tuple[Keyframe, ...] = ()


def marks_from_answer(parsed, frame_times: Sequence[float] | np.ndarray | None = None) -> AnswerMarks:
    """Convert a parsed System-1 answer (:class:`omni_r1_verl.scoring.ParsedAnswer`) to renderer marks.

    Only valid moments are kept. Clip frame ``k`` sits at virtual time ``k / parsed.fps``; with ``frame_times``
    (the video time of every clip frame, e.g. ``frame_indices / video_fps``) times are mapped piecewise linearly
    onto the video, extrapolating past the last clip frame with its spacing.

    Args:
        parsed: The parsed answer (read by attribute: ``moments``, ``keyframes``, ``fps``, ``num_frames``).
        frame_times: Video time of each clip frame; ``None`` keeps virtual time.

    Returns:
        The moments (valid ones, answer order) and keyframes (priority order), keyframes pointing at their
        moment's position in the returned moments.
    """
    valid = [m for m in parsed.moments if m.valid]
    if frame_times is None or parsed.fps <= 0:
        to_video = float
    else:
        times = np.asarray(frame_times, dtype=np.float64)
        if len(times) != parsed.num_frames:
            raise ValueError(f"{len(times)} frame times for a clip of {parsed.num_frames} frames")
        virtual = np.arange(len(times)) / parsed.fps
        if len(times) == 1:
            virtual, times = np.array([0.0, 1.0 / parsed.fps]), np.array([times[0], times[0] + 1.0 / parsed.fps])
        step = (times[-1] - times[-2]) / (virtual[-1] - virtual[-2])

        def to_video(t: float) -> float:
            if t > virtual[-1]:
                return float(times[-1] + (t - virtual[-1]) * step)
            return float(np.interp(t, virtual, times))

    moments = tuple(Moment(to_video(m.start), to_video(m.end), m.description or "") for m in valid)
    position = {m.index: i for i, m in enumerate(valid)}
    keyframes = tuple(
        Keyframe(to_video(k.frame / parsed.fps) if parsed.fps > 0 else 0.0, k.description, position.get(k.moment))
        for k in parsed.keyframes
    )
    return AnswerMarks(moments, keyframes)
