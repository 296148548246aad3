"""From a System-1 answer (or a baseline) to the keyframes System 2 grounds, in whole-video frame indices.

* Video tasks (ReVOS, MeViS): the answer is parsed with the reward's parser on the evaluation clip
  (:func:`omni_r1_verl.scoring.answer.parse_answer`); each selected keyframe's clip index is mapped to its frame in
  the video, where System 2 grounds the description at full resolution.
* Ref-AVS: System 1 rewrites the expression; System 2 grounds it on the first frame (as in training).
* refCOCOg: System 1 answers a box itself (Seg-Zero format, pixels of the image it saw); it is mapped back to
  original pixels and prompts SAM2 directly.

Baselines (:mod:`omni_r1_verl.evaluation.baselines`) build the same :class:`Plan` without System 1. Pure module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omni_r1_verl.contracts.clip import Clip
from omni_r1_verl.contracts.rows import Task
from omni_r1_verl.contracts.system2 import KeyframeQuery
from omni_r1_verl.scoring.answer import iter_json_blocks, parse_answer
from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.utils.vision import smart_resize


@dataclass
class Plan:
    """What System 2 does for one sample.

    Attributes:
        keyframes: Frames to ground or prompt, ``clip_index`` = frame index in the whole video (empty: System 1
            gave nothing usable, the prediction is empty).
        clip_frames: For each keyframe, its index in System 1's clip (-1 for baselines and image tasks).
        moments: Parsed moments for the record (``start``, ``end``, ``description``, clip ``frames``, ``valid``).
        problems: What the parser found wrong with the answer.
        reason: Why there is no keyframe ("" when there is one).
    """

    keyframes: list[KeyframeQuery] = field(default_factory=list)
    clip_frames: list[int] = field(default_factory=list)
    moments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The plan for a per-sample record."""
        return {
            "keyframes": [
                {
                    "video_frame": int(k.clip_index),
                    "clip_frame": c,
                    "description": k.description,
                    **({"boxes": k.boxes} if k.boxes is not None else {}),
                }
                for k, c in zip(self.keyframes, self.clip_frames)
            ],
            "moments": self.moments,
            "problems": self.problems,
        }


def _moments(parsed) -> list[dict[str, Any]]:
    return [
        {
            "start": m.start,
            "end": m.end,
            "description": m.description,
            "frames": list(m.frames),
            "valid": m.valid,
        }
        for m in parsed.moments
    ]


def _finite(values: Any, n: int) -> list[float] | None:
    if not isinstance(values, (list, tuple)) or len(values) != n:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def segzero_box(answer: str, original_hw: tuple[int, int], seen_hw: tuple[int, int]) -> list[float] | None:
    """The box of a Seg-Zero answer (first JSON object's ``bbox_2d``) in original pixels, or None.

    Args:
        answer: Text of the ``<answer>`` block.
        original_hw: The image's ``(height, width)``.
        seen_hw: ``(height, width)`` System 1 saw (its coordinates are in those pixels).
    """
    for value, ok in iter_json_blocks(answer):
        if not ok or not isinstance(value, dict):
            return None
        box = _finite(value.get("bbox_2d"), 4)
        if box is None:
            return None
        sx, sy = original_hw[1] / seen_hw[1], original_hw[0] / seen_hw[0]
        return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]
    return None


def plan_from_answer(
    task: Task,
    text: str,
    clip: Clip,
    answer: AnswerConfig,
    *,
    image_hw: tuple[int, int] = (0, 0),
    image_pixels: tuple[int, int] = (0, 0),
    expression: str = "",
) -> Plan:
    """The plan of a System-1 answer. Never raises.

    Args:
        task: The sample's task.
        text: The decoded answer.
        clip: The clip System 1 saw (``frame_indices`` into the video).
        answer: Parser limits.
        image_hw: Original image size (refCOCOg).
        image_pixels: ``(min_pixels, max_pixels)`` System 1's image was resized with (refCOCOg).
        expression: The original expression (refCOCOg keyframes carry it as their description).

    Returns:
        The plan (``reason`` set when nothing can be grounded).
    """
    if task is Task.VOS:
        parsed = parse_answer(text, clip.num_frames, clip.fps, answer)
        plan = Plan(moments=_moments(parsed), problems=[p.value for p in parsed.problems])
        for k in parsed.keyframes:
            plan.keyframes.append(KeyframeQuery(clip_index=clip.frame_indices[k.frame], description=k.description))
            plan.clip_frames.append(int(k.frame))
    elif task is Task.AVS:
        parsed = parse_answer(text, 1, clip.fps, answer)
        plan = Plan(problems=[p.value for p in parsed.problems])
        if parsed.answer:
            plan.keyframes.append(KeyframeQuery(clip_index=0, description=parsed.answer))
            plan.clip_frames.append(0)
    else:
        parsed = parse_answer(text, 1, clip.fps, answer)
        plan = Plan(problems=[p.value for p in parsed.problems if p.value != "no_valid_moment"])
        seen = smart_resize(image_hw[0], image_hw[1], min_pixels=image_pixels[0], max_pixels=image_pixels[1])
        box = segzero_box(parsed.answer, image_hw, seen) if parsed.answer else None
        if box is not None:
            plan.keyframes.append(KeyframeQuery(clip_index=0, description=expression, boxes=[box]))
            plan.clip_frames.append(0)
    if not plan.keyframes:
        plan.reason = "System 1 gave no valid moment" if task is Task.VOS else "System 1 gave no usable answer"
    return plan
