"""A small synthetic clip with known masks: smooth content (so H.264 keeps it close) and two moving objects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from omni_r1_verl.visualize import Frame


@dataclass(frozen=True)
class Clip:
    """``pixels (T, H, W, 3)``, ``masks`` id -> ``(T, H, W)``, at ``fps``."""

    pixels: np.ndarray
    masks: dict[int, np.ndarray]
    fps: float

    def frame(self, t: int) -> Frame:
        return Frame(self.pixels[t], t / self.fps, {i: m[t] for i, m in self.masks.items()})

    def frames(self):
        return (self.frame(t) for t in range(len(self.pixels)))


def make_clip(num_frames: int = 12, height: int = 96, width: int = 128, fps: float = 6.0) -> Clip:
    """Grey gradient frames; object 0 a box moving right, object 1 a disc moving down."""
    ys, xs = np.mgrid[0:height, 0:width]
    grey = (70 + 100 * xs / width + 20 * ys / height).astype(np.uint8)
    pixels = np.repeat(np.repeat(grey[None, :, :, None], 3, axis=3), num_frames, axis=0)
    box = np.zeros((num_frames, height, width), bool)
    disc = np.zeros_like(box)
    for t in range(num_frames):
        x0 = 8 + 3 * t
        box[t, 20:60, x0 : x0 + 36] = True
        cy, cx = 30 + 2 * t, width - 34
        disc[t] = (ys - cy) ** 2 + (xs - cx) ** 2 <= 18**2
    return Clip(pixels, {0: box, 1: disc}, fps)


@pytest.fixture
def clip() -> Clip:
    return make_clip()
