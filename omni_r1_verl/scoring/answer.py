"""System-1 answer parsing: ``<think>``/``<answer>`` blocks, JSON moments, times, and their clip frames.

:func:`parse_answer` is shared by the agent loop (to build System-2 requests) and the reward (to score), so both
see the same moments and keyframes. It never raises, whatever the text and the numbers in it (every problem is named
in the result), and its work is linear in the text and independent of the clip length: tags are found with
``str.find``, JSON blocks with one bracket scan (:mod:`omni_r1_verl.utils.model_output`), a moment's frames are a
``range``.

Time convention: sampled clip frame ``k`` sits at ``k / fps`` seconds of "virtual time" (``fps`` = 2 in the
recipe). A moment ``[start, end]`` covers the clip frames ``floor(start * fps) .. floor(end * fps)`` (capped at the
last frame), so it always covers at least one frame. ``"mm:ss.ff"`` is read as real seconds (``"00:01.5"`` is
1.5 s; the reference read every fraction as centiseconds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.utils.model_output import finite_float, json_spans, load_json, tagged_span

#: Longest time string read (the time patterns below only ever see this many characters).
MAX_TIME_CHARS = 32
# [hh:]mm:ss[.fraction], optional trailing "s"; or plain seconds.
_CLOCK = re.compile(r"^\s*(?:(\d{1,3}):)?(\d{1,4}):(\d{1,4}(?:\.\d+)?)\s*s?\s*$")
_SECONDS = re.compile(r"^\s*(\d{1,6}(?:\.\d+)?)\s*s?\s*$")
_EPS = 1e-6
#: Largest clip accepted (frame counts beyond it are a bad clip, which keeps ``frames / fps`` in float range).
MAX_CLIP_FRAMES = 2**31


class Problem(str, Enum):
    """Everything :func:`parse_answer` can find wrong (a response may have several)."""

    #: Not a string (``None``, bytes, ...): scored as empty text.
    NOT_TEXT = "not_text"
    NO_THINK = "no_think"
    NO_ANSWER = "no_answer"
    EMPTY_ANSWER = "empty_answer"
    MULTIPLE_ANSWERS = "multiple_answers"
    ANSWER_TRUNCATED = "answer_truncated"
    NO_JSON = "no_json"
    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    BAD_TIME = "bad_time"
    BAD_DESCRIPTION = "bad_description"
    START_AFTER_END = "start_after_end"
    OUT_OF_RANGE = "out_of_range"
    TOO_MANY_MOMENTS = "too_many_moments"
    DUPLICATE_MOMENT = "duplicate_moment"
    NO_VALID_MOMENT = "no_valid_moment"
    BAD_CLIP = "bad_clip"


@dataclass(frozen=True)
class Moment:
    """One ``{"start_time", "end_time", "description"}`` block of an answer.

    Attributes:
        index: Position of the block in the answer (0-based, counting malformed blocks).
        start: Start in seconds, ``None`` when missing or unparsable.
        end: End in seconds, ``None`` when missing or unparsable.
        description: The single-image description, ``None`` when missing or not a non-empty string.
        frames: Clip frame indices the moment covers, as a ``range`` (empty unless the times are valid).
        problems: What is wrong with the block (empty for a valid moment).
    """

    index: int
    start: float | None = None
    end: float | None = None
    description: str | None = None
    frames: range = range(0)
    problems: tuple[Problem, ...] = ()

    @property
    def well_formed(self) -> bool:
        """The block is an object whose three fields have usable types (times parse, description is text)."""
        return self.start is not None and self.end is not None and self.description is not None

    @property
    def valid(self) -> bool:
        """The moment can be grounded: well formed and inside the clip."""
        return self.well_formed and bool(self.frames) and not self.problems


@dataclass(frozen=True)
class Keyframe:
    """A clip frame sent to System 2 with the description of the moment that selected it.

    Attributes:
        frame: Clip frame index (0-based, into ``extra_info["clip"]["frame_indices"]``).
        description: System 1's single-image description for this frame.
        moment: Index of the moment it comes from.
    """

    frame: int
    description: str
    moment: int


@dataclass(frozen=True)
class ParsedAnswer:
    """Everything the reward and the agent loop need from one System-1 response.

    Attributes:
        has_think: A ``<think>...</think>`` block is present.
        has_answer: An ``<answer>...</answer>`` block is present.
        answer: Text of the first answer block, stripped ("" when absent).
        num_blocks: JSON blocks found in the answer (malformed ones included; moments beyond the cap excluded).
        moments: The blocks in answer order (at most ``max_moments``).
        dropped_moments: Blocks beyond ``max_moments``, not parsed further.
        duplicate_moments: Valid moments repeating an earlier valid moment's exact frame span.
        keyframes: Frames to ground, in priority order (see :func:`select_keyframes`).
        num_frames: Frames of the sampled clip the answer was checked against.
        fps: Virtual frame rate of the clip.
        problems: Response-level problems plus the union of the moments' problems, sorted, without repeats.
    """

    has_think: bool = False
    has_answer: bool = False
    answer: str = ""
    num_blocks: int = 0
    moments: tuple[Moment, ...] = ()
    dropped_moments: int = 0
    duplicate_moments: int = 0
    keyframes: tuple[Keyframe, ...] = ()
    num_frames: int = 0
    fps: float = 0.0
    problems: tuple[Problem, ...] = field(default=())

    @property
    def valid_moments(self) -> tuple[Moment, ...]:
        """Moments that can be grounded, in answer order."""
        return tuple(m for m in self.moments if m.valid)

    @property
    def duration(self) -> float:
        """Clip length in seconds (``num_frames / fps``)."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def parse_time(value: Any) -> float | None:
    """Read a moment time as seconds.

    Accepts ``"mm:ss"``, ``"mm:ss.f..."`` (any number of fraction digits, read as a decimal fraction),
    ``"hh:mm:ss[.f]"``, plain seconds (``"3.5"``, ``"3.5s"``) and finite non-negative JSON numbers. Never raises:
    NaN, infinities, integers beyond float range, strings over :data:`MAX_TIME_CHARS` and other types give ``None``.

    Args:
        value: The JSON value of ``start_time`` / ``end_time``.

    Returns:
        Seconds, or ``None`` when the value is not a time.
    """
    if not isinstance(value, str):
        seconds = finite_float(value)
        return seconds if seconds is not None and seconds >= 0 else None
    if len(value) > MAX_TIME_CHARS:
        return None
    m = _CLOCK.match(value)
    if m:
        hours, minutes, seconds = m.groups()
        return int(hours or 0) * 3600.0 + int(minutes) * 60.0 + float(seconds)
    m = _SECONDS.match(value)
    return float(m.group(1)) if m else None


def time_to_frame(seconds: float, num_frames: int, fps: float) -> int:
    """Clip frame shown at ``seconds`` (frame ``k`` covers ``[k / fps, (k + 1) / fps)``; capped to the clip).

    Args:
        seconds: Virtual time.
        num_frames: Frames in the clip.
        fps: Virtual frame rate.

    Returns:
        A frame index in ``[0, num_frames - 1]``.
    """
    return max(0, min(int(math.floor(seconds * fps + _EPS)), num_frames - 1))


def iter_json_blocks(text: str):
    """Yield ``(value or None, ok)`` for each JSON object of ``text``, left to right (never raises; linear time).

    Lists are transparent (each object element of ``[{..}, {..}]`` is a block); objects nested in an object belong
    to it. An object that is not valid JSON, or is never closed, yields one failed block, and the scan goes on after
    it (see :func:`omni_r1_verl.utils.model_output.json_spans`).
    """
    for start, end, closed in json_spans(text).objects:
        yield load_json(text, start, end) if closed else (None, False)


def _parse_block(index: int, value: Any, ok: bool, num_frames: int, fps: float) -> Moment:
    if not ok:
        return Moment(index=index, problems=(Problem.BAD_JSON,))
    if not isinstance(value, dict):
        return Moment(index=index, problems=(Problem.NOT_AN_OBJECT,))
    problems: list[Problem] = []
    if not {"start_time", "end_time", "description"} <= value.keys():
        problems.append(Problem.MISSING_FIELD)
    start = parse_time(value.get("start_time"))
    end = parse_time(value.get("end_time"))
    if ("start_time" in value and start is None) or ("end_time" in value and end is None):
        problems.append(Problem.BAD_TIME)
    raw_desc = value.get("description")
    description = raw_desc.strip() if isinstance(raw_desc, str) and raw_desc.strip() else None
    if "description" in value and description is None:
        problems.append(Problem.BAD_DESCRIPTION)
    frames = range(0)
    if start is not None and end is not None:
        if start > end + _EPS:
            problems.append(Problem.START_AFTER_END)
        elif end > num_frames / fps + _EPS:
            problems.append(Problem.OUT_OF_RANGE)
        else:
            first, last = time_to_frame(start, num_frames, fps), time_to_frame(end, num_frames, fps)
            frames = range(first, last + 1)
    return Moment(index, start, end, description, frames, tuple(problems))


def select_keyframes(moments: tuple[Moment, ...], max_keyframes: int) -> tuple[Keyframe, ...]:
    """Frames to ground, in priority order: each valid moment's first frame (answer order), then the
    remaining frames of the moments, without repeats, capped at ``max_keyframes``.

    A frame is described by the first moment (in answer order) that covers it. The work is
    O(moments x max_keyframes), whatever the moments' lengths.

    Args:
        moments: Parsed moments.
        max_keyframes: Cap.

    Returns:
        The keyframes.
    """
    valid = [m for m in moments if m.valid]
    chosen: dict[int, None] = {}  # insertion-ordered set
    for m in valid:
        if len(chosen) >= max_keyframes:
            break
        chosen.setdefault(m.frames[0])
    for m in valid:
        # Each moment adds frames until the cap; it skips at most len(chosen) <= max_keyframes repeats.
        for f in m.frames[1:]:
            if len(chosen) >= max_keyframes:
                break
            chosen.setdefault(f)
    keyframes = []
    for f in chosen:
        owner = next(m for m in valid if f in m.frames)
        keyframes.append(Keyframe(frame=f, description=owner.description or "", moment=owner.index))
    return tuple(keyframes)


def _count_duplicates(moments: list[Moment]) -> int:
    spans = [m.frames for m in moments if m.valid]
    return len(spans) - len(set(spans))


def _clip(num_frames: Any, fps: Any) -> tuple[int, float] | None:
    """``(num_frames, fps)`` when they describe a usable clip, else ``None`` (never raises)."""
    try:
        frames, rate = int(num_frames), float(fps)
        ok = 1 <= frames <= MAX_CLIP_FRAMES and math.isfinite(rate) and rate > 0 and math.isfinite(frames / rate)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return (frames, rate) if ok else None


def parse_answer(text: Any, num_frames: int, fps: float, config: AnswerConfig | None = None) -> ParsedAnswer:
    """Parse one System-1 response. Never raises.

    A moment that repeats an earlier moment's exact frame span stays valid (it adds no keyframe, and the
    keyframe reward penalises the overlap); it is counted in ``duplicate_moments``.

    Args:
        text: The decoded response (anything; non-strings are treated as empty and flagged).
        num_frames: Frames in the sampled clip (``len(extra_info["clip"]["frame_indices"])``).
        fps: Virtual frame rate of the clip (``extra_info["clip"]["fps"]``).
        config: Parsing limits (defaults when ``None``).

    Returns:
        The parsed answer with every problem named.
    """
    config = config or AnswerConfig()
    problems: set[Problem] = set()
    if not isinstance(text, str):
        problems.add(Problem.NOT_TEXT)
        text = ""
    clip = _clip(num_frames, fps)
    if clip is None:
        problems.add(Problem.BAD_CLIP)
        num_frames, fps = 0, 0.0
    else:
        num_frames, fps = clip

    has_think = tagged_span(text, "think") is not None
    if not has_think:
        problems.add(Problem.NO_THINK)
    span = tagged_span(text, "answer")
    if span is None:
        problems.update((Problem.NO_ANSWER, Problem.NO_VALID_MOMENT))
        return ParsedAnswer(has_think=has_think, num_frames=num_frames, fps=fps, problems=tuple(sorted(problems)))
    if tagged_span(text, "answer", span[1] + len("</answer>")) is not None:
        problems.add(Problem.MULTIPLE_ANSWERS)
    answer = text[span[0] : span[1]].strip()
    if not answer:
        problems.add(Problem.EMPTY_ANSWER)
    if len(answer) > config.max_answer_chars:
        problems.add(Problem.ANSWER_TRUNCATED)
        answer = answer[: config.max_answer_chars]

    moments: list[Moment] = []
    blocks = json_spans(answer).objects
    dropped = max(len(blocks) - config.max_moments, 0)  # counted, never decoded
    for start, end, closed in blocks[: config.max_moments]:
        if clip is None:
            moments.append(Moment(index=len(moments), problems=(Problem.BAD_CLIP,)))
            continue
        value, ok = load_json(answer, start, end) if closed else (None, False)
        moments.append(_parse_block(len(moments), value, ok, num_frames, fps))
    if dropped:
        problems.add(Problem.TOO_MANY_MOMENTS)
    if not moments:
        problems.add(Problem.NO_JSON)
    duplicates = _count_duplicates(moments)
    if duplicates:
        problems.add(Problem.DUPLICATE_MOMENT)
    for m in moments:
        problems.update(m.problems)
    if not any(m.valid for m in moments):
        problems.add(Problem.NO_VALID_MOMENT)
    frozen = tuple(moments)
    return ParsedAnswer(
        has_think=has_think,
        has_answer=True,
        answer=answer,
        num_blocks=len(frozen),
        moments=frozen,
        dropped_moments=dropped,
        duplicate_moments=duplicates,
        keyframes=select_keyframes(frozen, config.max_keyframes),
        num_frames=num_frames,
        fps=fps,
        problems=tuple(sorted(problems)),
    )
