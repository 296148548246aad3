"""Deterministic colours: one per object id (masks) and one per moment (spans, keyframe marks).

The first ids get hand-picked, strongly distinct, saturated colours (after Sasha Trubetskoy's "20 distinct
colours"); further ids step around the hue circle by the golden angle, so neighbouring ids never look alike and the
same id has the same colour in every picture of a run.
"""

from __future__ import annotations

import colorsys

Colour = tuple[int, int, int]

OBJECT_COLOURS: tuple[Colour, ...] = (
    (230, 25, 75),  # red
    (60, 180, 75),  # green
    (0, 130, 200),  # blue
    (245, 130, 48),  # orange
    (145, 30, 180),  # purple
    (70, 240, 240),  # cyan
    (240, 50, 230),  # magenta
    (210, 245, 60),  # lime
    (0, 128, 128),  # teal
    (170, 110, 40),  # brown
    (128, 0, 0),  # maroon
    (0, 0, 128),  # navy
)
MOMENT_COLOURS: tuple[Colour, ...] = (
    (255, 179, 0),  # amber
    (0, 172, 193),  # cyan
    (216, 27, 96),  # pink
    (124, 179, 66),  # light green
    (94, 53, 177),  # deep purple
    (244, 81, 30),  # deep orange
)
#: Keyframe marks that belong to no moment.
KEYFRAME_COLOUR: Colour = (255, 214, 0)
_GOLDEN = 0.618033988749895


def _hue_colour(k: int, saturation: float, value: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb((0.11 + k * _GOLDEN) % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def object_colour(obj_id: int) -> Colour:
    """Colour of an object's mask and outline.

    Args:
        obj_id: Object id (any integer).

    Returns:
        ``(r, g, b)`` in ``0..255``.
    """
    obj_id = int(obj_id)
    if 0 <= obj_id < len(OBJECT_COLOURS):
        return OBJECT_COLOURS[obj_id]
    return _hue_colour(obj_id, 0.85, 0.95)


def moment_colour(index: int | None) -> Colour:
    """Colour of a moment's span and of its keyframes' marks (``None``: :data:`KEYFRAME_COLOUR`)."""
    if index is None:
        return KEYFRAME_COLOUR
    index = int(index)
    if 0 <= index < len(MOMENT_COLOURS):
        return MOMENT_COLOURS[index]
    return _hue_colour(index, 0.75, 0.9)
