"""Benchmark metrics: each official convention pinned by a hand-computed case, plus a brute-force check of the
DAVIS boundary F (explicit disk dilation) on random masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from omni_r1_verl.metrics import (
    boundary_f,
    boundary_map,
    boundary_radius,
    refavs_f,
    refavs_j,
    refavs_null_s,
    region_similarity,
    revos_robustness,
)


def test_j_per_frame_with_empty_frames_scoring_one():
    gt = np.zeros((3, 2, 4), bool)
    pred = np.zeros((3, 2, 4), bool)
    gt[0, 0, :3] = True
    pred[0, 0, 2:] = True  # overlap 1, union 4
    pred[1, 1, 1] = True  # prediction on an empty GT frame
    assert region_similarity(pred, gt).tolist() == [0.25, 0.0, 1.0]


def test_j_void_pixels_and_single_frames():
    gt = np.array([[1, 1, 0, 0]], bool)
    pred = np.array([[1, 0, 1, 0]], np.uint8) * 255
    assert region_similarity(pred, gt) == pytest.approx(1 / 3)
    assert region_similarity(pred, gt).shape == ()
    void = np.array([[0, 0, 1, 0]], bool)
    assert region_similarity(pred, gt, void) == pytest.approx(1 / 2)


def test_boundary_map_pins_seg2bmap():
    square = np.zeros((1, 4, 4), bool)
    square[0, 1:3, 1:3] = True
    # Boundary pixels sit on the background side towards the origin; the last row and column use one neighbour.
    assert boundary_map(square)[0].astype(int).tolist() == [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    edge = np.zeros((1, 3, 3), bool)
    edge[0, :, 2] = True
    assert np.argwhere(boundary_map(edge)[0]).tolist() == [[0, 1], [1, 1], [2, 1]]
    assert not boundary_map(np.ones((1, 5, 5), bool)).any()  # a full frame has no boundary


def test_boundary_radius():
    assert boundary_radius(100, 100) == 2.0  # ceil(0.008 * 141.4)
    assert boundary_radius(720, 1280) == 12.0
    assert boundary_radius(480, 854, bound_th=3) == 3.0
    with pytest.raises(ValueError):
        boundary_radius(10, 10, bound_th=2.5)


def _disk(r: int) -> np.ndarray:
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x**2 + y**2 <= r**2


def brute_force_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS F by explicit binary dilation of the boundary maps with a disk (independent of the KD-tree path)."""
    r = int(boundary_radius(*pred.shape, bound_th))
    fb, gb = boundary_map(pred[None])[0], boundary_map(gt[None])[0]
    fd, gd = ndimage.binary_dilation(fb, _disk(r)), ndimage.binary_dilation(gb, _disk(r))
    n_fg, n_gt = fb.sum(), gb.sum()
    if n_fg == 0 and n_gt == 0:
        return 1.0
    if n_fg == 0 or n_gt == 0:
        return 0.0
    p, rec = (fb & gd).sum() / n_fg, (gb & fd).sum() / n_gt
    return 0.0 if p + rec == 0 else 2 * p * rec / (p + rec)


def test_boundary_f_tolerance_is_inclusive_disk():
    gt = np.zeros((100, 100), bool)
    gt[30:60, 30:60] = True
    within = np.roll(gt, 2, axis=1)  # r = 2: every boundary pixel has a partner at distance <= 2
    beyond = np.roll(gt, 3, axis=1)
    assert boundary_f(within, gt) == 1.0
    assert boundary_f(beyond, gt) < 1.0
    diagonal = np.roll(np.roll(gt, 2, axis=0), 2, axis=1)  # distance 2*sqrt(2) > 2 for the shifted edges
    assert boundary_f(diagonal, gt) == pytest.approx(brute_force_f(diagonal, gt)) and boundary_f(diagonal, gt) < 1


def test_boundary_f_empty_conventions():
    gt = np.zeros((1, 20, 20), bool)
    gt[0, 5:10, 5:10] = True
    empty = np.zeros_like(gt)
    assert boundary_f(empty, gt).tolist() == [0.0]  # P = 1, R = 0
    assert boundary_f(gt, empty).tolist() == [0.0]  # P = 0, R = 1
    assert boundary_f(empty, empty).tolist() == [1.0]


@pytest.mark.parametrize("seed", range(12))
def test_boundary_f_matches_brute_force_dilation(seed):
    rng = np.random.default_rng(seed)
    f, h, w = 3, int(rng.integers(8, 90)), int(rng.integers(8, 90))
    gt = ndimage.binary_opening(rng.random((f, h, w)) > 0.55, np.ones((1, 2, 2)))
    pred = ndimage.binary_closing(rng.random((f, h, w)) > 0.6, np.ones((1, 3, 3)))
    pred[0] = False if seed % 4 == 0 else pred[0]
    bound_th = 0.008 if seed % 2 else 0.04
    expected = [brute_force_f(pred[i], gt[i], bound_th) for i in range(f)]
    assert boundary_f(pred, gt, bound_th=bound_th).tolist() == pytest.approx(expected, abs=1e-12)


def test_boundary_f_void_pixels_are_removed_before_boundaries():
    gt = np.zeros((40, 40), bool)
    gt[10:20, 10:20] = True
    pred = gt.copy()
    pred[25:30, 25:30] = True  # a spurious blob ...
    void = np.zeros_like(gt)
    void[24:31, 24:31] = True  # ... inside a void region
    assert boundary_f(pred, gt) < 1.0
    assert boundary_f(pred, gt, void) == 1.0


def test_revos_robustness():
    gt = np.zeros((2, 10, 10), bool)
    gt[:, :5] = True
    pred = gt.copy()
    pred[0, 5, :] = True  # 10 false-positive pixels
    fg = np.zeros((2, 10, 10), np.uint8)
    fg[:, :4] = 1  # foreground of 40 pixels per frame
    assert revos_robustness(pred, gt, fg).tolist() == pytest.approx([1 - 10 / 40, 1.0])
    assert revos_robustness(pred, gt, fg, pred_value=255).tolist() == pytest.approx([0.0, 1.0])
    assert revos_robustness(pred, gt, np.zeros_like(fg)).tolist() == pytest.approx([0.0, 1.0])
    assert revos_robustness(pred[0], gt[0], fg[0] * 2) == pytest.approx(1 - 10 / 80)  # summed as given


def test_refavs_j_threshold_and_empty_gt_frames():
    gt = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]], bool)
    pred = np.array([[[0.5, 0.4], [0.9, 0.1]], [[0.5, 0.1], [0.1, 0.4]]])
    # frame 0: predicted {0.5, 0.9} (strictly above 0.4) -> I = 1, U = 3; frame 1 (empty GT): 3 of 4 pixels unpredicted
    assert refavs_j(pred, gt).tolist() == pytest.approx([1 / 3, 3 / 4])


def test_refavs_f_hand_computed_single_frame():
    gt = np.array([[1, 0], [1, 0]], bool)
    pred = np.array([[0.9, 0.6], [0.3, 0.0]])
    # thresholds in (0.6, 0.9]: P = 1, R = 1/2 -> 1.3 * 0.5 / (0.3 + 0.5) = 0.8125 is the best point of the curve
    assert refavs_f(pred, gt) == pytest.approx(0.8125)


def test_refavs_f_averages_curves_before_the_max_and_skips_empty_gt():
    gt = np.array([[[1, 0], [1, 0]], [[1, 1], [0, 0]], [[0, 0], [0, 0]]], bool)
    pred = np.array([[[0.9, 0.6], [0.3, 0.0]], [[0.2, 0.2], [0.95, 0.95]], [[1.0, 1.0], [1.0, 1.0]]])
    # best mean point: thresholds in (0, 0.2]: frame 0 P = 2/3, R = 1; frame 1 P = 1/2, R = 1
    f0, f1 = 1.3 * (2 / 3) / (0.3 * (2 / 3) + 1), 1.3 * 0.5 / (0.3 * 0.5 + 1)
    assert refavs_f(pred, gt) == pytest.approx((f0 + f1) / 2)
    assert refavs_f(pred, gt) < (0.8125 + f1) / 2  # not the mean of per-frame maxima
    assert refavs_f(pred[2:], gt[2:]) == 0.0


def test_refavs_f_binary_masks():
    gt = np.zeros((1, 4, 4), bool)
    gt[0, :2] = True
    assert refavs_f(gt.astype(float), gt) == pytest.approx(1.0)


def test_refavs_null_s():
    pred = np.zeros((2, 2, 2))
    pred[0, 0, 0] = 0.9
    pred[1, 0, 0] = 0.5  # not strictly above 0.5
    assert refavs_null_s(pred) == pytest.approx(math.sqrt(1 / 8))
    assert refavs_null_s(np.zeros((3, 4, 4))) == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        region_similarity(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        boundary_f(np.zeros((1, 1, 2, 3)), np.zeros((1, 1, 2, 3)))
