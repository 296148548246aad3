"""Boxes from grounding-model text, mapped to original pixels and validated.

Grounding models answer in free text around JSON, e.g. a fenced ``[{"bbox_2d": [x1, y1, x2, y2], "label": ..}]``,
optionally inside ``<answer>...</answer>`` (VisionReasoner / Seg-Zero prompts). :func:`parse_boxes` reads every
``bbox_2d`` it can find with ``json`` only (never ``eval``), counts entries that are not four finite numbers, and
never raises, in time linear in the text (:mod:`omni_r1_verl.utils.model_output`). :func:`to_original` maps model
coordinates back to original pixels with the same ``smart_resize`` sizes the model saw, and :func:`validate_box`
rejects what cannot prompt SAM2.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omni_r1_verl.utils.model_output import finite_float, json_spans, load_json, tagged_span
from omni_r1_verl.utils.vision import box_to_original

Box = tuple[float, float, float, float]

#: Characters of a grounding answer read for boxes (the rest is dropped and flagged; bounds the parser's work).
MAX_BOX_TEXT_CHARS = 20_000
_BOX_KEYS = ("bbox_2d", "bbox", "box_2d", "box")


class Rejection(str, enum.Enum):
    """Why a box was dropped."""

    MALFORMED = "malformed"
    NON_FINITE = "non_finite"
    INVERTED = "inverted"
    ZERO_AREA = "zero_area"
    OUTSIDE = "outside"


@dataclass
class ParsedBoxes:
    """Boxes read from one grounding answer.

    Attributes:
        boxes: Boxes in the model's coordinate frame, in answer order.
        malformed: Box entries that were not four finite numbers (NaN, infinities and integers beyond float range
            included).
        truncated: The text was longer than :data:`MAX_BOX_TEXT_CHARS`; only its beginning was read.
    """

    boxes: list[Box]
    malformed: int = 0
    truncated: bool = False


def parse_boxes(text: str, max_chars: int = MAX_BOX_TEXT_CHARS) -> ParsedBoxes:
    """Read every box of a grounding answer.

    The ``<answer>`` block is used when present, else the whole text. Each JSON value found (the whole text,
    fenced blocks, or bracketed spans; the complete values of a truncated list too) is searched for objects with a
    ``bbox_2d``-like key.

    Args:
        text: The model's decoded output.
        max_chars: Characters of the answer read.

    Returns:
        Boxes and the count of malformed entries (never raises; linear time).
    """
    if not isinstance(text, str):
        return ParsedBoxes([], 0)
    span = tagged_span(text, "answer")
    body = text[span[0] : span[1]] if span else text
    truncated = len(body) > max_chars
    body = body[:max_chars]
    boxes: list[Box] = []
    malformed = 0
    for value in _json_values(body):
        for raw in _box_entries(value):
            box = _as_box(raw)
            if box is None:
                malformed += 1
            else:
                boxes.append(box)
    return ParsedBoxes(boxes, malformed, truncated)


def _json_values(text: str) -> Iterator[Any]:
    """Top-level JSON values in ``text``: the whole text if it parses, else each outer bracketed span that does."""
    stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        yield json.loads(stripped)
        return
    except (ValueError, RecursionError):
        pass
    for start, end in json_spans(text).values:
        # Only spans that can hold a box are decoded: a box key, or the three commas of a bare box.
        if text.find("box", start, end) < 0 and text.count(",", start, end) < 3:
            continue
        value, ok = load_json(text, start, end)
        if ok:
            yield value


def _box_entries(value: Any, depth: int = 0, bare_ok: bool = True) -> Iterator[Any]:
    """Raw box values of ``value``: ``obj[bbox_2d]`` of every object, searched through lists and nesting.

    A bare ``[x1, y1, x2, y2]`` counts only at the top level or as an item of a top-level list, so other
    four-number fields of an object are not mistaken for boxes.
    """
    if depth > 8:
        return
    if isinstance(value, dict):
        key = next((k for k in _BOX_KEYS if k in value), None)
        if key is not None:
            yield value[key]
            return
        for item in value.values():
            if isinstance(item, (dict, list)):
                yield from _box_entries(item, depth + 1, bare_ok=False)
    elif isinstance(value, list):
        if bare_ok and len(value) == 4 and all(_is_number(v) for v in value):
            yield value
            return
        for item in value:
            if isinstance(item, (dict, list)):
                yield from _box_entries(item, depth + 1, bare_ok=bare_ok and depth == 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_box(raw: Any) -> Box | None:
    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
        raw = raw[0]  # [[x1, y1, x2, y2]]
    if not isinstance(raw, list) or len(raw) != 4:
        return None
    values = []
    for v in raw:
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                return None
        number = finite_float(v)
        if number is None:
            return None
        values.append(number)
    return (values[0], values[1], values[2], values[3])


def to_original(
    box: Sequence[float], resized_hw: tuple[int, int], original_hw: tuple[int, int], box_format: str = "absolute"
) -> Box:
    """Map a model box to original-image pixels.

    Args:
        box: Box as the model wrote it.
        resized_hw: ``(height, width)`` of the image the model saw (``smart_resize`` of the original).
        original_hw: ``(height, width)`` of the original frame.
        box_format: ``absolute`` (resized-image pixels, Qwen2.5-VL) or ``norm1000`` (0..1000, Qwen2-VL).

    Returns:
        The box in original pixels (not clipped).
    """
    if box_format == "norm1000":
        return box_to_original(box, (1000, 1000), original_hw)
    if box_format != "absolute":
        raise ValueError(f"unknown box format {box_format!r}")
    return box_to_original(box, resized_hw, original_hw)


def validate_box(box: Sequence[float], height: int, width: int, min_size: float = 1.0) -> Box | Rejection:
    """Clip a box to the image or say why it cannot prompt a segmenter.

    A box is rejected when a coordinate is not finite, when it is inverted (``x2 < x1`` or ``y2 < y1``), when it
    has no area (narrower or shorter than ``min_size`` pixels), or when it lies outside the image. Boxes that only
    overhang the border are clipped (models often write ``x2 = width``).

    Args:
        box: ``[x1, y1, x2, y2]`` in original pixels.
        height: Image height.
        width: Image width.
        min_size: Smallest accepted side after clipping, in pixels.

    Returns:
        The clipped box, or the :class:`Rejection`.
    """
    if len(box) != 4:
        return Rejection.MALFORMED
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except OverflowError:  # an integer beyond float range
        return Rejection.NON_FINITE
    except (TypeError, ValueError):
        return Rejection.MALFORMED
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return Rejection.NON_FINITE
    if x2 < x1 or y2 < y1:
        return Rejection.INVERTED
    if x2 - x1 < min_size or y2 - y1 < min_size:
        return Rejection.ZERO_AREA
    cx1, cy1 = min(max(x1, 0.0), float(width)), min(max(y1, 0.0), float(height))
    cx2, cy2 = min(max(x2, 0.0), float(width)), min(max(y2, 0.0), float(height))
    if cx2 - cx1 < min_size or cy2 - cy1 < min_size:
        return Rejection.OUTSIDE
    return (cx1, cy1, cx2, cy2)


def mask_box(mask: Any) -> Box | None:
    """Tight box of a binary mask in pixel-edge coordinates (pixels ``x1..x2-1`` are covered).

    Args:
        mask: 2-D boolean array.

    Returns:
        ``(x1, y1, x2, y2)``, or ``None`` for an empty mask.
    """
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(np.asarray(mask).any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
