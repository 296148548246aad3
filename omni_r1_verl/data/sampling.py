"""Deterministic clip sampling: which frames of a video System 1 sees.

Training clips are 16 to 24 uniformly spaced frames (the count drawn per (seed, epoch, sample)), evaluation uses
every frame. The draw depends only on its inputs, never on process-global random state, so every rank, worker and
restart sees the same clip for the same (epoch, sample).
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Reference defaults (``min_frames`` / ``max_frames`` of the authors' VOS datasets).
MIN_FRAMES = 16
MAX_FRAMES = 24


def stable_seed(*parts: object) -> int:
    """A 64-bit seed derived from ``parts`` (stable across processes and Python versions, unlike ``hash``).

    Args:
        *parts: Values whose ``repr`` identifies the draw (e.g. seed, epoch, sample key).

    Returns:
        A non-negative integer seed.
    """
    digest = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def uniform_indices(num_frames: int, count: int) -> np.ndarray:
    """``count`` uniformly spaced frame indices over ``[0, num_frames - 1]`` (floored, as the reference did).

    Args:
        num_frames: Frames in the video.
        count: Frames to take; capped at ``num_frames`` so no frame is repeated.

    Returns:
        Sorted, unique int64 indices.
    """
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    count = max(1, min(count, num_frames))
    return np.linspace(0, num_frames - 1, count).astype(np.int64)


def sample_clip_indices(
    num_frames: int,
    *,
    key: str,
    epoch: int,
    seed: int = 0,
    min_frames: int = MIN_FRAMES,
    max_frames: int = MAX_FRAMES,
    train: bool = True,
) -> np.ndarray:
    """Frame indices of the clip System 1 sees for one sample.

    Args:
        num_frames: Frames in the full video.
        key: Stable identifier of the sample (e.g. ``extra_info.sample_id``).
        epoch: Training epoch (a new clip length every epoch).
        seed: Run-level seed.
        min_frames: Smallest clip; videos with at most this many frames are used whole.
        max_frames: Largest clip.
        train: ``False`` returns every frame (evaluation).

    Returns:
        Sorted, unique int64 indices into the video.
    """
    if min_frames < 1 or max_frames < min_frames:
        raise ValueError(f"need 1 <= min_frames <= max_frames, got {min_frames}, {max_frames}")
    if not train or num_frames <= min_frames:
        return np.arange(num_frames, dtype=np.int64)
    rng = np.random.default_rng(stable_seed(seed, epoch, key))
    count = int(rng.integers(min_frames, max_frames + 1))
    return uniform_indices(num_frames, count)
