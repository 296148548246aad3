"""A sampled clip's frames at original resolution, read straight from the dataset (no temporary copies)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from omni_r1_verl.contracts.rows import resolve_under_root
from omni_r1_verl.data.media import MediaError, load_image


@dataclass
class ClipFrames:
    """Decoded frames of one clip.

    Attributes:
        frames: ``uint8`` arrays ``(H, W, 3)``, one per clip frame, all the same size.
    """

    frames: list[np.ndarray]

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return len(self.frames)

    @property
    def height(self) -> int:
        """Original frame height."""
        return int(self.frames[0].shape[0])

    @property
    def width(self) -> int:
        """Original frame width."""
        return int(self.frames[0].shape[1])

    def image(self, index: int) -> Image.Image:
        """Frame ``index`` as a PIL image."""
        return Image.fromarray(self.frames[index])


def load_clip(dataset_root: str, frame_paths: Sequence[str], num_threads: int = 4) -> ClipFrames:
    """Decode a clip's frames (paths confined to the dataset root).

    Args:
        dataset_root: Root the paths are relative to.
        frame_paths: Relative frame paths in clip order.
        num_threads: Decoder threads (PIL releases the GIL while decoding).

    Returns:
        The frames.

    Raises:
        omni_r1_verl.contracts.rows.UnsafePathError: If a path leaves the root.
        MediaError: If a frame is missing, corrupt, or differs in size from the first one.
    """
    if not frame_paths:
        raise MediaError("a clip needs at least one frame")
    paths = [resolve_under_root(dataset_root, p) for p in frame_paths]
    with ThreadPoolExecutor(max_workers=max(1, min(num_threads, len(paths)))) as pool:
        frames = [np.asarray(img) for img in pool.map(load_image, paths)]
    size = frames[0].shape
    for path, frame in zip(paths, frames):
        if frame.shape != size:
            raise MediaError(
                f"frame {path} is {frame.shape[1]}x{frame.shape[0]}, the clip's first frame is {size[1]}x{size[0]}"
            )
    return ClipFrames(frames)
