"""Bit-packed kernels against plain numpy / scipy on unpacked masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from omni_r1_verl.metrics import packed
from omni_r1_verl.metrics import reference as ref


def unpack(words: np.ndarray, width: int) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=-1, count=width, bitorder="little").astype(bool)


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 5, 8, 12, 18, 36])
def test_disk_levels_are_the_disk(radius):
    union = np.zeros((2 * radius + 1, 2 * radius + 1), bool)
    for w, a in packed.disk_levels(radius):
        union[radius - a : radius + a + 1, radius - w : radius + w + 1] = True
    assert np.array_equal(union, ref.disk(radius))
    widths = [w for w, _ in packed.disk_levels(radius)]
    assert widths[0] == radius and widths[-1] == 0 and widths == sorted(widths, reverse=True)


def test_pack_and_crop_round_trip():
    rng = np.random.default_rng(0)
    masks = rng.random((3, 5, 130)) > 0.5
    words = packed.pack_frames(masks)
    assert words.shape == (3, 5, 3) and np.array_equal(unpack(words, 130), masks)
    crop = packed.crop_rows(words, slice(1, 4), 1, 60, pad=12)  # pixels 64..123, then at least 12 zero bits
    assert crop.shape == (3, 3, 2)  # ceil((60 + 12) / 64)
    assert np.array_equal(unpack(crop, 128), np.pad(masks[:, 1:4, 64:124], ((0, 0), (0, 0), (0, 68))))
    assert np.array_equal(packed.popcount(words), masks.sum(axis=(1, 2)))


@pytest.mark.parametrize("seed", range(6))
def test_boundaries_match_seg2bmap(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 200))
    masks = rng.random((2, h, w)) > rng.random()
    got = unpack(packed.boundaries(packed.pack_rows(masks, 1), w), w)
    assert np.array_equal(got, np.stack([ref.seg2bmap(m) for m in masks]))


@pytest.mark.parametrize("radius", [1, 2, 4, 12])
def test_dilations_match_scipy(radius):
    rng = np.random.default_rng(radius)
    masks = rng.random((2, 40, 150)) > 0.995
    masks[0, 0, 0] = masks[1, -1, 149] = True  # sources at the corners: nothing may wrap to another row or frame
    words = packed.pack_rows(masks, radius)
    disk = unpack(packed.dilate_disk(words, radius), 150)
    square = unpack(packed.dilate_square(words, radius), 150)
    for t in range(2):
        assert np.array_equal(disk[t], ndimage.binary_dilation(masks[t], ref.disk(radius)))
        assert np.array_equal(square[t], ndimage.binary_dilation(masks[t], np.ones((2 * radius + 1,) * 2, bool)))


@pytest.mark.parametrize("seed", range(8))
def test_matched_counts_points_within_the_disk(seed):
    rng = np.random.default_rng(seed)
    radius = int(rng.integers(1, 15))
    points = rng.random((3, 50, 300)) > rng.random()
    targets = rng.random((3, 50, 300)) > 0.99
    targets[1] = False
    if seed % 2:  # points in one corner only: the disk pass runs on a window of the frame
        points[:, :-10] = False
        points[..., :200] = False
    got = packed.matched(packed.pack_rows(points, radius), packed.pack_rows(targets, radius), radius)
    near = [ndimage.binary_dilation(t, ref.disk(radius)) if t.any() else t for t in targets]
    assert got.tolist() == [int((p & d).sum()) for p, d in zip(points, near)]
