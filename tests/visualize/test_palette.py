"""Object and moment colours are deterministic and tell neighbouring ids apart."""

from __future__ import annotations

import itertools

import numpy as np

from omni_r1_verl.visualize.palette import KEYFRAME_COLOUR, moment_colour, object_colour


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=float)))


def test_object_colours_are_stable_and_distinct():
    colours = [object_colour(i) for i in range(40)]
    assert colours == [object_colour(i) for i in range(40)]
    assert all(all(0 <= c <= 255 for c in rgb) for rgb in colours)
    # Every pair among the first 12 ids, and every neighbouring pair beyond, is clearly different.
    assert min(_distance(a, b) for a, b in itertools.combinations(colours[:12], 2)) > 60
    assert min(_distance(a, b) for a, b in zip(colours[11:], colours[12:])) > 60
    assert object_colour(np.int64(3)) == object_colour(3)
    assert len(set(colours)) == len(colours)


def test_moment_colours_and_the_keyframe_default():
    colours = [moment_colour(i) for i in range(10)]
    assert min(_distance(a, b) for a, b in itertools.combinations(colours[:6], 2)) > 60
    assert len(set(colours)) == 10
    assert moment_colour(None) == KEYFRAME_COLOUR
