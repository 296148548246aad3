"""Masks for the metric tests: random, structured and hand-made, small enough for the per-frame reference."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def random_pair(rng: np.random.Generator, frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A (pred, gt) pair of one of several structures: blobs, speckle, thin lines, empty frames, border contact."""
    kind = int(rng.integers(6))
    shape = (frames, height, width)
    if kind == 0:  # smooth blobs
        gt = ndimage.binary_opening(rng.random(shape) > 0.4, np.ones((1, 3, 3)))
        pred = ndimage.binary_dilation(gt, np.ones((1, 2, 2))) ^ (rng.random(shape) > 0.97)
    elif kind == 1:  # speckle
        gt, pred = rng.random(shape) > rng.random(), rng.random(shape) > rng.random()
    elif kind == 2:  # thin lines
        yy, xx = np.mgrid[:height, :width]
        gt = np.broadcast_to(np.abs(np.sin(xx / 3.0 + yy / 5.0)) < 0.2, shape).copy()
        pred = np.roll(gt, int(rng.integers(-3, 4)), axis=2)
    elif kind == 3:  # empty prediction or GT in some frames
        gt, pred = rng.random(shape) > 0.6, rng.random(shape) > 0.6
        pred[rng.random(frames) < 0.5] = False
        gt[rng.random(frames) < 0.5] = False
    elif kind == 4:  # touching the borders
        gt = np.zeros(shape, bool)
        gt[:, : height // 2 + 1, -(width // 3 + 1) :] = True
        pred = np.zeros(shape, bool)
        pred[:, height // 3 :, : width // 2 + 1] = True
        pred[:, -1, :] = True
    else:  # one pixel each
        gt, pred = np.zeros(shape, bool), np.zeros(shape, bool)
        gt[:, int(rng.integers(height)), int(rng.integers(width))] = True
        pred[:, int(rng.integers(height)), int(rng.integers(width))] = True
    return pred, gt
