"""COCO RLE parsing is exact (vs pycocotools) and refuses strings that would make pycocotools overrun memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pycocotools import mask as coco_mask

from omni_r1_verl.data import rle

masks_strategy = st.integers(1, 24).flatmap(
    lambda h: st.integers(1, 24).flatmap(lambda w: st.integers(1, 4).flatmap(lambda n: hnp.arrays(np.bool_, (n, h, w))))
)


def _coco(masks: np.ndarray) -> list[dict]:
    return coco_mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


@settings(max_examples=150, deadline=None)
@given(masks_strategy)
def test_parse_matches_pycocotools(masks):
    n, h, w = masks.shape
    encoded = _coco(masks)
    runs = rle.parse([e["counts"] for e in encoded], h, w)
    assert np.array_equal(runs.decode(), masks)
    assert runs.areas().tolist() == coco_mask.area(encoded).tolist()
    for box, mask, ref in zip(runs.boxes(), masks, coco_mask.toBbox(encoded)):
        if mask.any():  # pycocotools: [x, y, w, h]; ours: inclusive extents
            x, y, bw, bh = ref
            assert box.tolist() == [x, y, x + bw - 1, y + bh - 1]
        else:
            assert box.tolist() == [-1, -1, -1, -1]


@settings(max_examples=50, deadline=None)
@given(masks_strategy)
def test_encode_round_trip_with_empty_frames(masks):
    masks[0] = False
    strings = rle.encode(masks)
    assert strings[0] == b""
    assert np.array_equal(rle.parse(strings, *masks.shape[1:]).decode(), masks)


def test_empty_and_none_strings_are_background():
    full = rle.encode(np.ones((4, 4), bool))[0]
    runs = rle.parse([None, b"", full.decode()], 4, 4)
    decoded = runs.decode()
    assert decoded[:2].sum() == 0 and decoded[2].all()
    assert runs.areas().tolist() == [0, 0, 16]
    assert runs.boxes().tolist() == [[-1] * 4, [-1] * 4, [0, 0, 3, 3]]


def _string(counts: list[int]) -> bytes:
    return coco_mask.frPyObjects({"size": [1, sum(counts)], "counts": counts}, 1, sum(counts))["counts"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"0" + bytes([200]), "alphabet"),  # outside '0'..'o'
        (b"1P", "inside a number"),  # continuation bit (0x20) set on the last character
        (b"ooooooo1", "too large"),  # 8 characters: more than 31 bits
    ],
)
def test_malformed_strings_are_rejected(text, match):
    with pytest.raises(rle.RLEError, match=match):
        rle.parse([text], 4, 4)


def test_non_ascii_is_rejected_not_replaced():
    # A lenient encoder would turn "é" into "?", which is a valid RLE character: the data would change silently.
    with pytest.raises(rle.RLEError, match="alphabet"):
        rle.parse(["0é"], 4, 4)


def test_runs_longer_than_the_mask_are_rejected():
    # pycocotools would write 100 pixels into a 4x4 buffer.
    with pytest.raises(rle.RLEError, match="cover 100 pixels"):
        rle.parse([_string([50, 50])], 4, 4)
    with pytest.raises(rle.RLEError, match="cover 10 pixels"):
        rle.parse([_string([5, 5])], 4, 4)


def test_negative_runs_are_rejected():
    # Runs from the fourth on are stored as differences to the run two earlier: "293HN" is [2, 9, 3, 1, 1];
    # replacing the last difference (-2) by -5 ("K") makes the fifth run -2.
    assert rle.parse([_string([2, 9, 3, 1, 1])], 1, 16).counts.tolist() == [2, 9, 3, 1, 1]
    with pytest.raises(rle.RLEError, match="negative"):
        rle.parse([b"293HK"], 1, 16)


def test_absurd_sizes_are_rejected_before_allocation():
    with pytest.raises(rle.RLEError, match="size"):
        rle.parse([b"0"], 10**6, 10**6)


def test_resize_nearest_only_copies_pixels():
    rng = np.random.default_rng(0)
    masks = rng.random((2, 7, 9)) < 0.5
    up = rle.resize_nearest(masks, 21, 27)
    assert up.dtype == bool and up.shape == (2, 21, 27)
    assert np.array_equal(up[:, 1::3, 1::3], masks)  # 3x upscale: every source pixel becomes a 3x3 block
    assert np.array_equal(rle.resize_nearest(up, 7, 9), masks)
    labels = rng.integers(0, 5, (6, 6))
    assert set(np.unique(rle.resize_nearest(labels, 13, 4))) <= set(np.unique(labels))
