"""COCO run-length encoding, parsed and checked in numpy before anything trusts it.

Mask annotations (ReVOS / MeViS ``mask_dict.json``, the ground-truth store) are COCO "compressed RLE" strings:
column-major run lengths, alternating background / foreground and starting with background, each run written as a
LEB128-like group of 6-bit characters (offset 48) and, from the fourth run on, as the difference to the run two
places earlier. ``pycocotools`` decodes them in C **without bounds checks**: a string whose runs sum to more than
``H * W`` overflows its output buffer, and one that ends inside a number reads past the string. Files are
untrusted, so this module parses every string in numpy, checks it, and only then decodes. It also computes areas
and boxes straight from the runs, without decoding a pixel.

Pure module: numpy only (``pycocotools`` is used for encoding our own arrays, whose output is trusted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Largest mask side accepted from a file (bounds memory before anything is allocated).
MAX_SIDE = 16_384
#: A run fits in 31 bits, so one number takes at most 7 characters of 5 payload bits.
_MAX_CHARS_PER_NUMBER = 7


class RLEError(ValueError):
    """A run-length string is malformed or does not describe an ``H x W`` mask."""


@dataclass(frozen=True)
class Runs:
    """Run lengths of a batch of masks of one size, concatenated.

    Attributes:
        height: Mask height.
        width: Mask width.
        counts: All run lengths, mask after mask (each mask starts with a background run, possibly 0).
        bounds: ``bounds[i]:bounds[i + 1]`` slices mask ``i``'s runs out of ``counts``; an empty slice is an
            all-background mask.
    """

    height: int
    width: int
    counts: np.ndarray
    bounds: np.ndarray

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def _fg_runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Foreground runs as (mask index, first pixel, length), pixels numbered column-major."""
        n = len(self.counts)
        owner = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.bounds))
        local = np.arange(n, dtype=np.int64) - self.bounds[owner]
        ends = np.cumsum(self.counts)
        starts_global = ends - self.counts
        base = np.zeros(len(self), dtype=np.int64)
        nonempty = np.diff(self.bounds) > 0
        base[nonempty] = starts_global[self.bounds[:-1][nonempty]]
        fg = (local % 2 == 1) & (self.counts > 0)
        return owner[fg], (starts_global - base[owner])[fg], self.counts[fg]

    def areas(self) -> np.ndarray:
        """Foreground pixel count of every mask (``int64``)."""
        owner, _, length = self._fg_runs()
        return np.bincount(owner, weights=length, minlength=len(self)).astype(np.int64)

    def boxes(self) -> np.ndarray:
        """Inclusive pixel extents ``[x1, y1, x2, y2]`` of every mask, ``-1`` everywhere for an empty mask.

        Returns:
            ``int64`` array ``(len(self), 4)``: min column, min row, max column, max row of the foreground.
        """
        h = self.height
        out = np.full((len(self), 4), -1, dtype=np.int64)
        owner, start, length = self._fg_runs()
        if len(owner) == 0:
            return out
        last = start + length - 1
        x1, x2 = start // h, last // h
        spans = x2 > x1  # a run crossing a column boundary covers the bottom of one column and the top of the next
        y1 = np.where(spans, 0, start % h)
        y2 = np.where(spans, h - 1, last % h)
        lowest = np.full((len(self), 2), np.iinfo(np.int64).max, dtype=np.int64)
        highest = np.full((len(self), 2), -1, dtype=np.int64)
        np.minimum.at(lowest, owner, np.stack([x1, y1], axis=1))
        np.maximum.at(highest, owner, np.stack([x2, y2], axis=1))
        present = highest[:, 0] >= 0
        out[present, :2] = lowest[present]
        out[present, 2:] = highest[present]
        return out

    def decode(self, out: np.ndarray | None = None) -> np.ndarray:
        """Decode every mask.

        Args:
            out: Optional ``bool`` array ``(len(self), H, W)`` to fill (e.g. a slice of a larger batch).

        Returns:
            ``bool`` array ``(len(self), H, W)``, C-contiguous when allocated here.
        """
        h, w = self.height, self.width
        if out is None:
            out = np.empty((len(self), h, w), dtype=bool)
        column_major = np.empty((len(self), w * h), dtype=bool)
        for i in range(len(self)):
            lo, hi = self.bounds[i], self.bounds[i + 1]
            if lo == hi:
                column_major[i] = False
                continue
            values = np.zeros(hi - lo, dtype=bool)
            values[1::2] = True
            column_major[i] = np.repeat(values, self.counts[lo:hi])
        out[...] = column_major.reshape(len(self), w, h).transpose(0, 2, 1)
        return out


def _check_size(height: int, width: int) -> None:
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise RLEError(f"mask size {height}x{width} outside 1..{MAX_SIDE}")


def parse(strings: Sequence[bytes | str | None], height: int, width: int) -> Runs:
    """Parse and check compressed COCO RLE strings of ``height x width`` masks.

    Args:
        strings: One string per mask; ``None`` or empty means an all-background mask.
        height: Mask height every string must describe.
        width: Mask width.

    Returns:
        The runs of all masks.

    Raises:
        RLEError: On a character outside the alphabet, a number cut short, a negative run, or runs that do not sum
            to ``height * width``.
    """
    _check_size(height, width)
    raw = [s.encode() if isinstance(s, str) else (s or b"") for s in strings]  # non-ASCII fails the alphabet check
    lengths = np.fromiter((len(s) for s in raw), dtype=np.int64, count=len(raw))
    chars = np.frombuffer(b"".join(raw), dtype=np.uint8).astype(np.int64) - 48
    if len(chars) == 0:
        return Runs(height, width, np.zeros(0, np.int64), np.zeros(len(raw) + 1, np.int64))
    if chars.min() < 0 or chars.max() > 63:
        raise RLEError("character outside the COCO RLE alphabet")
    char_ends = np.cumsum(lengths)
    terminal = (chars & 0x20) == 0
    nonempty = lengths > 0
    if not terminal[char_ends[nonempty] - 1].all():
        raise RLEError("string ends inside a number")
    number_ends = np.flatnonzero(terminal)
    number_starts = np.empty_like(number_ends)
    number_starts[0] = 0
    number_starts[1:] = number_ends[:-1] + 1
    chunks = number_ends - number_starts + 1
    if chunks.max() > _MAX_CHARS_PER_NUMBER:
        raise RLEError("run length too large")
    # Value of each number: sum of 5-bit chunks, little-endian, sign-extended from the last chunk's bit 4.
    shift = 5 * (np.arange(len(chars), dtype=np.int64) - np.repeat(number_starts, chunks))
    values = np.add.reduceat((chars & 0x1F) << shift, number_starts)
    negative = (chars[number_ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * chunks[negative])
    # Which string each number belongs to, and its position in that string.
    bounds = np.zeros(len(raw) + 1, dtype=np.int64)
    bounds[1:] = np.searchsorted(number_ends, char_ends - 1, side="right")
    owner = np.repeat(np.arange(len(raw), dtype=np.int64), np.diff(bounds))
    position = np.arange(len(values), dtype=np.int64) - bounds[owner]
    counts = values.copy()
    # Runs from the fourth on are stored as differences to the run two places earlier: undo with segmented sums.
    for parity, first in ((1, 1), (0, 2)):
        idx = np.flatnonzero((position % 2 == parity) & (position >= first))
        if len(idx) == 0:
            continue
        sums = np.cumsum(values[idx])
        seg_owner = owner[idx]
        starts = np.ones(len(idx), dtype=bool)
        starts[1:] = seg_owner[1:] != seg_owner[:-1]
        before = (sums - values[idx])[starts]
        counts[idx] = sums - before[np.cumsum(starts) - 1]
    if len(counts) and counts.min() < 0:
        raise RLEError("negative run length")
    totals = np.add.reduceat(counts, bounds[:-1][nonempty]) if nonempty.any() else np.zeros(0, np.int64)
    wrong = np.flatnonzero(totals != height * width)
    if len(wrong):
        bad = int(np.flatnonzero(nonempty)[wrong[0]])
        raise RLEError(f"runs of mask {bad} cover {int(totals[wrong[0]])} pixels, not {height}x{width}")
    return Runs(height, width, counts, bounds)


def encode(masks: np.ndarray) -> list[bytes]:
    """Encode masks as compressed COCO RLE strings.

    Args:
        masks: ``(N, H, W)`` or ``(H, W)`` array, non-zero = foreground.

    Returns:
        One string per mask (``b""`` for an empty mask, as the store writes absent frames).
    """
    from pycocotools import mask as coco_mask

    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3:
        raise ValueError(f"expected (N, H, W) masks, got shape {masks.shape}")
    binary = masks.astype(bool)
    present = binary.any(axis=(1, 2))
    out = [b""] * len(masks)
    if present.any():
        fortran = np.asfortranarray(binary[present].transpose(1, 2, 0).astype(np.uint8))
        for i, rle in zip(np.flatnonzero(present), coco_mask.encode(fortran)):
            out[int(i)] = rle["counts"]
    return out


def resize_nearest(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes (pixel centres map to pixel centres; no interpolation).

    Args:
        masks: ``(..., H, W)`` array.
        height: Output height.
        width: Output width.

    Returns:
        ``(..., height, width)`` array of the same dtype.
    """
    src_h, src_w = masks.shape[-2:]
    if (src_h, src_w) == (height, width):
        return masks
    rows = np.minimum(((np.arange(height) + 0.5) * src_h / height).astype(np.int64), src_h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * src_w / width).astype(np.int64), src_w - 1)
    return masks[..., rows[:, None], cols[None, :]]
