"""DAVIS J and F: hand-computed cases of the definition, and the vectorised kernels against the per-frame
reference (``metrics.reference``, explicit dilation) on random and structured masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mask_cases import random_pair
from scipy import ndimage

from omni_r1_verl.metrics import boundary_f, boundary_map, boundary_radius, j_and_f, region_similarity
from omni_r1_verl.metrics import masks as masks_module
from omni_r1_verl.metrics import reference as ref


def edt_dilate(bmap, structure):
    """Dilation by a disk through the exact Euclidean distance transform (fast for large radii)."""
    return ndimage.distance_transform_edt(~bmap) <= structure.shape[0] // 2 if bmap.any() else bmap


def assert_matches_reference(pred, gt, bound_th=0.008, void=None, dilate=None):
    j, f = j_and_f(pred, gt, void=void, bound_th=bound_th)
    for t in range(len(pred)):
        v = None if void is None else void[t]
        assert j[t] == pytest.approx(ref.frame_j(pred[t], gt[t], v), abs=1e-12), t
        expected = ref.frame_f(pred[t], gt[t], v, bound_th=bound_th, dilate=dilate)
        assert f[t] == pytest.approx(expected, abs=1e-12), t


# --- the definition, by hand -------------------------------------------------------------------------------------


def test_j_per_frame_with_empty_frames_scoring_one():
    gt = np.zeros((3, 2, 4), bool)
    pred = np.zeros((3, 2, 4), bool)
    gt[0, 0, :3] = True
    pred[0, 0, 2:] = True  # overlap 1, union 4
    pred[1, 1, 1] = True  # prediction on an empty GT frame
    assert region_similarity(pred, gt).tolist() == [0.25, 0.0, 1.0]
    assert j_and_f(pred, gt)[0].tolist() == [0.25, 0.0, 1.0]


def test_j_void_pixels_and_single_frames():
    gt = np.array([[1, 1, 0, 0]], bool)
    pred = np.array([[1, 0, 1, 0]], np.uint8) * 255
    assert region_similarity(pred, gt) == pytest.approx(1 / 3)
    assert region_similarity(pred, gt).shape == ()
    void = np.array([[0, 0, 1, 0]], bool)
    assert region_similarity(pred, gt, void) == pytest.approx(1 / 2)
    assert j_and_f(pred, gt, void=void)[0] == pytest.approx(1 / 2)


def test_boundary_map_pins_seg2bmap():
    square = np.zeros((4, 4), bool)
    square[1:3, 1:3] = True
    # Boundary pixels sit on the background side towards the origin; the last row and column use one neighbour.
    expected = [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    assert boundary_map(square).astype(int).tolist() == expected
    assert ref.seg2bmap(square).astype(int).tolist() == expected
    edge = np.zeros((3, 3), bool)
    edge[:, 2] = True
    assert np.argwhere(boundary_map(edge)).tolist() == [[0, 1], [1, 1], [2, 1]]
    corner = np.zeros((3, 3), bool)
    corner[2, 2] = True  # only its north-west neighbours see it; the pixel itself is the bottom-right one
    assert np.argwhere(boundary_map(corner)).tolist() == [[1, 1], [1, 2], [2, 1]]
    assert not boundary_map(np.ones((5, 5), bool)).any()  # a full frame has no boundary


def test_boundary_radius():
    assert boundary_radius(100, 100) == 2  # ceil(0.008 * 141.4)
    assert boundary_radius(720, 1280) == 12
    assert boundary_radius(480, 854, bound_th=3) == 3
    with pytest.raises(ValueError):
        boundary_radius(10, 10, bound_th=2.5)
    with pytest.raises(ValueError):
        boundary_radius(10, 10, bound_th=0)


def test_boundary_f_tolerance_is_inclusive_disk():
    gt = np.zeros((100, 100), bool)
    gt[30:60, 30:60] = True
    within = np.roll(gt, 2, axis=1)  # r = 2: every boundary pixel has a partner at distance <= 2
    beyond = np.roll(gt, 3, axis=1)
    assert boundary_f(within, gt) == 1.0
    assert boundary_f(beyond, gt) < 1.0
    diagonal = np.roll(np.roll(gt, 2, axis=0), 2, axis=1)  # distance 2*sqrt(2) > 2 for the shifted edges
    assert boundary_f(diagonal, gt) == pytest.approx(ref.frame_f(diagonal, gt)) and boundary_f(diagonal, gt) < 1


def test_boundary_f_hand_computed():
    gt = np.zeros((10, 10), bool)
    gt[2:5, 2:5] = True  # boundary: the 4x4 ring from (1, 1) to (4, 4), 12 pixels
    pred = np.zeros((10, 10), bool)
    pred[2:5, 6:9] = True  # its ring runs from (1, 5) to (4, 8); r = ceil(0.008 * 14.14) = 1
    assert ref.seg2bmap(pred).sum() == ref.seg2bmap(gt).sum() == 12
    # Only pred's ring column x = 5 and the GT ring's column x = 4 (rows 1..4) are within distance 1.
    assert boundary_f(pred, gt) == pytest.approx(1 / 3)  # P = R = 4 / 12


def test_boundary_f_empty_conventions():
    gt = np.zeros((1, 20, 20), bool)
    gt[0, 5:10, 5:10] = True
    empty = np.zeros_like(gt)
    assert boundary_f(empty, gt).tolist() == [0.0]  # P = 1, R = 0
    assert boundary_f(gt, empty).tolist() == [0.0]  # P = 0, R = 1
    assert boundary_f(empty, empty).tolist() == [1.0]
    assert j_and_f(empty, empty)[0].tolist() == [1.0]
    full = np.ones_like(gt)
    assert boundary_f(full, full).tolist() == [1.0]  # no boundary in either: both empty maps


def test_boundary_f_void_pixels_are_removed_before_boundaries():
    gt = np.zeros((40, 40), bool)
    gt[10:20, 10:20] = True
    pred = gt.copy()
    pred[25:30, 25:30] = True  # a spurious blob ...
    void = np.zeros_like(gt)
    void[24:31, 24:31] = True  # ... inside a void region
    assert boundary_f(pred, gt) < 1.0
    assert boundary_f(pred, gt, void) == 1.0


def test_shape_mismatch_and_bad_ranks_are_refused():
    with pytest.raises(ValueError, match="different shapes"):
        j_and_f(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="different shapes"):
        region_similarity(np.zeros((1, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(F, H, W\)"):
        boundary_f(np.zeros((1, 1, 2, 3)), np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="void"):
        j_and_f(np.zeros((4, 4)), np.zeros((4, 4)), void=np.zeros((4, 5)))


# --- the kernels against the reference ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_random_and_structured_masks_match_reference(seed):
    rng = np.random.default_rng(seed)
    frames, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 90)), int(rng.integers(1, 150))
    pred, gt = random_pair(rng, frames, h, w)
    assert_matches_reference(pred, gt, bound_th=[0.008, 0.04, 0.1, 1, 5][seed % 5])


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 140),
    density=st.floats(0.0, 1.0),
    radius=st.sampled_from([0.008, 0.05, 0.2, 1, 2, 7]),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_masks_match_reference(h, w, density, radius, seed):
    rng = np.random.default_rng(seed)
    pred = rng.random((2, h, w)) < density
    gt = rng.random((2, h, w)) < rng.random()
    assert_matches_reference(pred, gt, bound_th=radius)


def test_one_pixel_and_border_frames_match_reference():
    rng = np.random.default_rng(7)
    for h, w in [(1, 1), (1, 9), (9, 1), (2, 2), (5, 64), (5, 65), (3, 127), (4, 128)]:
        pred = np.zeros((4, h, w), bool)
        gt = np.zeros((4, h, w), bool)
        pred[0, 0, 0] = gt[0, -1, -1] = True  # opposite corners
        pred[1, -1, :] = gt[1, :, -1] = True  # last row / last column
        pred[2] = rng.random((h, w)) > 0.5
        gt[3, h // 2, w // 2] = True  # one pixel against an empty prediction
        assert_matches_reference(pred, gt, bound_th=2)


def test_sparse_boundaries_near_the_frame_edges_match_reference():
    # Lone pixels a few pixels from the edges: dilation chains must not lose what they push past the border.
    rng = np.random.default_rng(9)
    for _ in range(6):
        pred = np.zeros((3, 50, 140), bool)
        gt = np.zeros((3, 50, 140), bool)
        for mask in (pred, gt):
            ys = rng.choice([0, 1, 2, 47, 48, 49], size=(3, 2))
            xs = rng.choice([0, 1, 3, 63, 64, 136, 139], size=(3, 2))
            for t in range(3):
                mask[t, ys[t], xs[t]] = True
        assert_matches_reference(pred, gt, bound_th=12)


def test_void_matches_reference():
    rng = np.random.default_rng(3)
    pred, gt = random_pair(rng, 3, 40, 70)
    void = rng.random(pred.shape) > 0.8
    assert_matches_reference(pred, gt, void=void)


def test_long_videos_cross_chunk_boundaries(monkeypatch):
    # Many frames (several packing chunks, each cropped differently) and tiny matching batches give the same
    # values as one frame at a time.
    rng = np.random.default_rng(11)
    pred, gt = random_pair(rng, 19, 60, 100)
    pred[5:9] = False
    gt[12:] = np.roll(gt[12:], 7, axis=2)
    expected = j_and_f(pred, gt)
    one_by_one = [j_and_f(p, g) for p, g in zip(pred, gt)]
    assert np.array_equal(expected[0], [j for j, _ in one_by_one])
    assert np.array_equal(expected[1], [f for _, f in one_by_one])
    monkeypatch.setattr(masks_module, "_CHUNK_WORDS", 1)
    monkeypatch.setattr(masks_module, "_PACK_FRAMES", 3)
    chunked = j_and_f(pred, gt)
    assert np.array_equal(chunked[0], expected[0]) and np.array_equal(chunked[1], expected[1])
    assert_matches_reference(pred, gt)


def test_larger_frame_with_the_720p_radius_matches_reference():
    rng = np.random.default_rng(5)
    gt = np.zeros((2, 240, 400), bool)
    yy, xx = np.mgrid[:240, :400]
    gt[0] = ((yy - 120) / 80) ** 2 + ((xx - 200) / 150) ** 2 < 1
    gt[1] = np.abs(np.sin(xx / 9.0) * np.cos(yy / 7.0)) < 0.1
    pred = np.roll(gt, (5, 9), axis=(1, 2)) ^ (rng.random(gt.shape) > 0.995)
    assert_matches_reference(pred, gt, bound_th=12)  # the 1280x720 radius, where the disk pass is needed


def test_radius_beyond_one_word_matches_reference():
    rng = np.random.default_rng(8)
    pred, gt = random_pair(rng, 2, 60, 200)
    pred &= rng.random(pred.shape) > 0.9  # sparse boundaries far apart
    gt &= rng.random(gt.shape) > 0.95
    assert_matches_reference(pred, gt, bound_th=70, dilate=edt_dilate)


def test_accepts_uint8_and_bool_alike():
    rng = np.random.default_rng(2)
    pred, gt = random_pair(rng, 2, 30, 50)
    as_bool = j_and_f(pred, gt)
    as_png = j_and_f(pred.astype(np.uint8) * 255, gt.astype(np.uint8))
    assert np.array_equal(as_bool[0], as_png[0]) and np.array_equal(as_bool[1], as_png[1])
