"""System-1 answer parsing: ``<think>``/``<answer>`` blocks, JSON moments, times, and their clip frames.

:func:`parse_answer` is shared by the agent loop (to build System-2 requests) and the reward (to score), so both
see the same moments and keyframes. It never raises: every problem is named in the result.

Time convention: sampled clip frame ``k`` sits at ``k / fps`` seconds of "virtual time" (``fps`` = 2 in the
recipe). A moment ``[start, end]`` covers the clip frames ``floor(start * fps) .. floor(end * fps)`` (capped at the
last frame), so it always covers at least one frame. ``"mm:ss.ff"`` is read as real seconds (``"00:01.5"`` is
1.5 s; the reference read every fraction as centiseconds).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omni_r1_verl.scoring.config import AnswerConfig

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
# [hh:]mm:ss[.fraction], optional trailing "s"; or plain seconds.
_CLOCK = re.compile(r"^\s*(?:(\d{1,3}):)?(\d{1,4}):(\d{1,4}(?:\.\d+)?)\s*s?\s*$")
_SECONDS = re.compile(r"^\s*(\d{1,6}(?:\.\d+)?)\s*s?\s*$")
_EPS = 1e-6
_DECODER = json.JSONDecoder()


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
        frames: Clip frame indices the moment covers (empty unless the times are valid).
        problems: What is wrong with the block (empty for a valid moment).
    """

    index: int
    start: float | None = None
    end: float | None = None
    description: str | None = None
    frames: tuple[int, ...] = ()
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
    ``"hh:mm:ss[.f]"``, plain seconds (``"3.5"``, ``"3.5s"``) and finite non-negative JSON numbers.

    Args:
        value: The JSON value of ``start_time`` / ``end_time``.

    Returns:
        Seconds, or ``None`` when the value is not a time.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if not isinstance(value, str) or len(value) > 32:
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
    """Yield ``(value or None, ok)`` for each JSON object in ``text``, left to right (never raises).

    Lists are walked into (each object element is a block). A ``{`` that does not start valid JSON yields a
    failed block and the scan resumes after the next ``}`` (a flat malformed block counts once, as in the
    reference's regex).
    """
    pos, n = 0, len(text)
    while pos < n:
        start = text.find("{", pos)
        if start < 0:
            return
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            yield None, False
            close = text.find("}", start + 1)
            pos = n if close < 0 else close + 1
            continue
        yield value, True
        pos = end


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
    frames: tuple[int, ...] = ()
    if start is not None and end is not None:
        if start > end + _EPS:
            problems.append(Problem.START_AFTER_END)
        elif end > num_frames / fps + _EPS:
            problems.append(Problem.OUT_OF_RANGE)
        else:
            first, last = time_to_frame(start, num_frames, fps), time_to_frame(end, num_frames, fps)
            frames = tuple(range(first, last + 1))
    return Moment(index, start, end, description, frames, tuple(problems))


def select_keyframes(moments: tuple[Moment, ...], max_keyframes: int) -> tuple[Keyframe, ...]:
    """Frames to ground, in priority order: each valid moment's first frame (answer order), then the
    remaining frames of the moments, without repeats, capped at ``max_keyframes``.

    A frame is described by the first moment (in answer order) that covers it.

    Args:
        moments: Parsed moments.
        max_keyframes: Cap.

    Returns:
        The keyframes.
    """
    valid = [m for m in moments if m.valid]
    order: list[int] = []
    for frames_of in (lambda m: m.frames[:1], lambda m: m.frames[1:]):
        for m in valid:
            order.extend(f for f in frames_of(m) if f not in order)
    keyframes = []
    for f in order[:max_keyframes]:
        owner = next(m for m in valid if f in m.frames)
        keyframes.append(Keyframe(frame=f, description=owner.description or "", moment=owner.index))
    return tuple(keyframes)


def _count_duplicates(moments: list[Moment]) -> int:
    spans = [m.frames for m in moments if m.valid]
    return len(spans) - len(set(spans))


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
    try:
        num_frames, fps = int(num_frames), float(fps)
    except (TypeError, ValueError, OverflowError):
        num_frames, fps = 0, 0.0
    if num_frames < 1 or not math.isfinite(fps) or fps <= 0:
        problems.add(Problem.BAD_CLIP)
        num_frames, fps = max(num_frames, 0), fps if math.isfinite(fps) and fps > 0 else 0.0

    has_think = _THINK.search(text) is not None
    if not has_think:
        problems.add(Problem.NO_THINK)
    answers = _ANSWER.findall(text)
    if not answers:
        problems.update((Problem.NO_ANSWER, Problem.NO_VALID_MOMENT))
        return ParsedAnswer(has_think=has_think, num_frames=num_frames, fps=fps, problems=tuple(sorted(problems)))
    if len(answers) > 1:
        problems.add(Problem.MULTIPLE_ANSWERS)
    answer = answers[0].strip()
    if not answer:
        problems.add(Problem.EMPTY_ANSWER)
    if len(answer) > config.max_answer_chars:
        problems.add(Problem.ANSWER_TRUNCATED)
        answer = answer[: config.max_answer_chars]

    moments: list[Moment] = []
    dropped = 0
    for value, ok in iter_json_blocks(answer):
        if len(moments) >= config.max_moments:
            dropped += 1
            continue
        if num_frames < 1 or fps <= 0:
            moments.append(Moment(index=len(moments), problems=(Problem.BAD_CLIP,)))
            continue
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
