"""Qwen-VL resolution rules and the coordinate maps that go with them.

System 1 (low-resolution video frames) and System 2 (high-resolution keyframes) both resize with
:func:`smart_resize`; System 2's boxes come back in resized-image pixels and are mapped to original pixels with
:func:`box_to_original`. Using the same function on both sides is what makes the map exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Patch size (14) times the spatial merge (2): resized sides are multiples of this.
IMAGE_FACTOR = 28
#: Single images (System-2 keyframes, RefAVS/refCOCOg System-1 images): 64 to 1600 merged patches.
IMAGE_MIN_PIXELS = 64 * IMAGE_FACTOR * IMAGE_FACTOR
IMAGE_MAX_PIXELS = 1600 * IMAGE_FACTOR * IMAGE_FACTOR
#: Video frames seen by System 1 ("low resolution"): 16 to 100 merged patches per frame.
VIDEO_FRAME_MIN_PIXELS = 16 * IMAGE_FACTOR * IMAGE_FACTOR
VIDEO_FRAME_MAX_PIXELS = 100 * IMAGE_FACTOR * IMAGE_FACTOR
#: Largest aspect ratio Qwen-VL accepts.
MAX_ASPECT_RATIO = 200


def _round(x: float, factor: int) -> int:
    return round(x / factor) * factor


def _floor(x: float, factor: int) -> int:
    return math.floor(x / factor) * factor


def _ceil(x: float, factor: int) -> int:
    return math.ceil(x / factor) * factor


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = IMAGE_MIN_PIXELS,
    max_pixels: int = IMAGE_MAX_PIXELS,
) -> tuple[int, int]:
    """Qwen-VL's resize rule: sides multiple of ``factor``, area within ``[min_pixels, max_pixels]``, aspect kept.

    Args:
        height: Original height in pixels.
        width: Original width in pixels.
        factor: Side granularity.
        min_pixels: Smallest allowed area.
        max_pixels: Largest allowed area.

    Returns:
        ``(resized_height, resized_width)``.

    Raises:
        ValueError: For non-positive sizes or an aspect ratio above :data:`MAX_ASPECT_RATIO`.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"aspect ratio of {height}x{width} exceeds {MAX_ASPECT_RATIO}")
    h_bar = max(factor, _round(height, factor))
    w_bar = max(factor, _round(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, _floor(height / beta, factor))
        w_bar = max(factor, _floor(width / beta, factor))
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil(height * beta, factor)
        w_bar = _ceil(width * beta, factor)
    return h_bar, w_bar


def box_to_original(
    box: Sequence[float], resized_hw: tuple[int, int], original_hw: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Map an ``[x1, y1, x2, y2]`` box from resized-image pixels to original-image pixels.

    Args:
        box: Box in the resized image.
        resized_hw: ``(height, width)`` the model saw.
        original_hw: ``(height, width)`` of the original image.

    Returns:
        The box in original pixels (not clipped).
    """
    sy = original_hw[0] / resized_hw[0]
    sx = original_hw[1] / resized_hw[1]
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def box_to_resized(
    box: Sequence[float], original_hw: tuple[int, int], resized_hw: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Inverse of :func:`box_to_original`.

    Args:
        box: Box in original pixels.
        original_hw: ``(height, width)`` of the original image.
        resized_hw: ``(height, width)`` the model sees.

    Returns:
        The box in resized-image pixels.
    """
    return box_to_original(box, original_hw, resized_hw)
