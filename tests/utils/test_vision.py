"""Qwen-VL resize rule and box coordinate maps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omni_r1_verl.utils.vision import (
    IMAGE_FACTOR,
    IMAGE_MAX_PIXELS,
    VIDEO_FRAME_MAX_PIXELS,
    VIDEO_FRAME_MIN_PIXELS,
    box_to_original,
    box_to_resized,
    smart_resize,
)


@pytest.mark.parametrize(
    ("hw", "limits", "expected"),
    [
        # 720p frame at the System-1 video budget (<= 100 merged patches): floor after scaling.
        ((720, 1280), (VIDEO_FRAME_MIN_PIXELS, VIDEO_FRAME_MAX_PIXELS), (196, 364)),
        # Already a multiple of 28 and inside the budget: unchanged.
        ((280, 280), (VIDEO_FRAME_MIN_PIXELS, VIDEO_FRAME_MAX_PIXELS), (280, 280)),
        # Tiny image is scaled up (ceil) to reach min_pixels.
        ((20, 30), (VIDEO_FRAME_MIN_PIXELS, VIDEO_FRAME_MAX_PIXELS), (112, 140)),
        # 840x840 refCOCOg image under the single-image budget: rounds to 840.
        ((840, 840), (4 * 28 * 28, IMAGE_MAX_PIXELS), (840, 840)),
    ],
)
def test_known_sizes(hw, limits, expected):
    assert smart_resize(*hw, min_pixels=limits[0], max_pixels=limits[1]) == expected


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_invariants(h, w):
    if max(h, w) / min(h, w) > 200:
        with pytest.raises(ValueError):
            smart_resize(h, w)
        return
    rh, rw = smart_resize(h, w, min_pixels=VIDEO_FRAME_MIN_PIXELS, max_pixels=VIDEO_FRAME_MAX_PIXELS)
    assert rh % IMAGE_FACTOR == 0 and rw % IMAGE_FACTOR == 0
    assert rh >= IMAGE_FACTOR and rw >= IMAGE_FACTOR
    assert rh * rw <= max(VIDEO_FRAME_MAX_PIXELS, IMAGE_FACTOR * IMAGE_FACTOR * 200)


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        smart_resize(0, 10)
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2500)


@given(
    st.lists(st.floats(0, 2000, allow_nan=False), min_size=4, max_size=4),
    st.tuples(st.integers(28, 2000), st.integers(28, 2000)),
    st.tuples(st.integers(28, 2000), st.integers(28, 2000)),
)
def test_box_round_trip(box, resized, original):
    back = box_to_resized(box_to_original(box, resized, original), original, resized)
    assert back == pytest.approx(tuple(box), rel=1e-9, abs=1e-9)


def test_box_to_original_scales_each_axis():
    assert box_to_original([14, 28, 28, 56], resized_hw=(56, 28), original_hw=(112, 112)) == (56.0, 56.0, 112.0, 112.0)
