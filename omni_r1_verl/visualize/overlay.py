"""Mask overlays: each object's mask blended in its own colour with an opaque outline, keyframes marked with a
border and a label (time and description), the query as a caption.

Blending is integer numpy on each mask's bounding box; outlines are the inner morphological edge (the mask minus
its erosion), so every changed pixel lies inside a mask except the caption, the keyframe border and its label.
:func:`write_overlay_video` streams: it renders and encodes one frame at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from omni_r1_verl.visualize.draw import border, check_image, composite, font, text_patch, wrap_text
from omni_r1_verl.visualize.palette import moment_colour, object_colour
from omni_r1_verl.visualize.types import Audio, Frame, Keyframe
from omni_r1_verl.visualize.video import VideoInfo, VideoWriter


@dataclass(frozen=True)
class OverlayStyle:
    """How an overlay frame looks. Sizes left ``None`` scale with the frame's shorter side ``S``.

    Attributes:
        mask_alpha: Opacity of a mask's fill in ``[0, 1]``.
        outline_px: Outline width (default ``max(2, S // 200)``, 3 px at 720p); 0 draws none.
        keyframe_border_px: Keyframe border width (default ``max(2, S // 90)``).
        keyframe_hold_s: How long a keyframe mark stays on screen after its frame, so it can be seen at playback
            speed (0: the keyframe's own frame only).
        caption: Draw the query at the bottom.
        font_px: Text size (default ``max(11, S // 28)``).
        caption_lines: Most lines of the caption.
        label_lines: Most lines of a keyframe's description in its label.
    """

    mask_alpha: float = 0.45
    outline_px: int | None = None
    keyframe_border_px: int | None = None
    keyframe_hold_s: float = 0.5
    caption: bool = True
    font_px: int | None = None
    caption_lines: int = 2
    label_lines: int = 2

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_alpha <= 1.0:
            raise ValueError(f"mask_alpha must be in [0, 1], got {self.mask_alpha}")
        if self.keyframe_hold_s < 0:
            raise ValueError(f"keyframe_hold_s must be >= 0, got {self.keyframe_hold_s}")
        for name in ("outline_px", "keyframe_border_px", "font_px"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.caption_lines < 1 or self.label_lines < 0:
            raise ValueError("caption_lines must be >= 1 and label_lines >= 0")

    def sizes(self, height: int, width: int) -> tuple[int, int, int]:
        """``(outline_px, keyframe_border_px, font_px)`` for a frame of this size."""
        side = min(height, width)
        outline = max(2, side // 200) if self.outline_px is None else self.outline_px
        border_px = max(2, side // 90) if self.keyframe_border_px is None else self.keyframe_border_px
        size = max(11, side // 28) if self.font_px is None else max(6, self.font_px)
        return outline, border_px, size


def inner_edge(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels of ``mask`` within ``width`` steps (4-neighbourhood) of the background or the array's border."""
    core = mask.copy()
    for _ in range(width):
        if not core.any():
            break
        shrunk = core.copy()
        shrunk[1:] &= core[:-1]
        shrunk[:-1] &= core[1:]
        shrunk[:, 1:] &= core[:, :-1]
        shrunk[:, :-1] &= core[:, 1:]
        shrunk[0] = shrunk[-1] = False
        shrunk[:, 0] = shrunk[:, -1] = False
        core = shrunk
    return mask & ~core


def blend_masks(
    image: np.ndarray,
    masks: Mapping[int, np.ndarray],
    *,
    alpha: float = 0.45,
    outline_px: int = 2,
) -> np.ndarray:
    """Draw masks on an image: fill blended at ``alpha`` in :func:`~omni_r1_verl.visualize.palette.object_colour`,
    inner outline opaque.

    A fill pixel becomes ``round(((256 - a) * pixel + a * colour) / 256)`` with ``a = round(256 * alpha)``.

    Args:
        image: ``uint8 (H, W, 3)`` RGB.
        masks: Object id -> ``bool (H, W)``; later objects are drawn over earlier ones.
        alpha: Fill opacity.
        outline_px: Outline width in pixels (0: none).

    Returns:
        A new array (``image`` is not modified).
    """
    out = check_image(image).copy()
    a = np.uint16(round(256 * alpha))
    for obj_id, mask in masks.items():
        mask = np.asarray(mask)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask of object {obj_id} is {mask.shape}, the image is {image.shape[:2]}")
        mask = mask.astype(bool, copy=False)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows) == 0:
            continue
        box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        sub, region = mask[box], out[box]
        colour = np.asarray(object_colour(obj_id), np.uint16)
        edge = inner_edge(sub, outline_px) if outline_px > 0 else None
        # Blending the whole box and copying where the mask is beats gathering / scattering the masked pixels.
        blended = region.astype(np.uint16)
        blended *= 256 - a
        blended += colour * a + 128
        blended >>= 8
        np.copyto(region, blended, where=(sub if edge is None else sub & ~edge)[..., None], casting="unsafe")
        if edge is not None:
            region[edge] = colour
    return out


def format_time(seconds: float) -> str:
    """``"3.50 s"`` below a minute, ``"1:05.25"`` from a minute on, ``"? s"`` for a non-finite time."""
    if not math.isfinite(seconds):
        return "? s"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


class OverlayRenderer:
    """Renders overlay frames of one video; text patches are built once per frame size and reused.

    Args:
        fps: Frame rate of the video (a keyframe marks the frames within half a frame of its time, then stays for
            ``style.keyframe_hold_s``).
        keyframes: Keyframes, numbered in the given order (``K1`` first).
        query: Caption text.
        style: Looks.
    """

    def __init__(
        self,
        fps: float,
        *,
        keyframes: Sequence[Keyframe] = (),
        query: str = "",
        style: OverlayStyle | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.keyframes = tuple(keyframes)
        self.query = query
        self.style = style or OverlayStyle()
        self._patches: dict[tuple[int, int], tuple] = {}

    def active_keyframe(self, time_s: float) -> int | None:
        """Index of the keyframe marked at ``time_s`` (the latest one when marks overlap), or ``None``."""
        tol = 0.5 / self.fps
        active = None
        for i, k in enumerate(self.keyframes):
            if k.time_s - tol <= time_s < k.time_s + tol + self.style.keyframe_hold_s:
                if active is None or k.time_s >= self.keyframes[active].time_s:
                    active = i
        return active

    def _text(self, height: int, width: int):
        key = (height, width)
        if key not in self._patches:
            _, border_px, size = self.style.sizes(height, width)
            fnt, pad = font(size), max(2, size // 4)
            caption = None
            if self.style.caption and self.query.strip():
                lines = wrap_text(self.query, fnt, width - 2 * (pad + border_px), self.style.caption_lines)
                caption = text_patch(lines, fnt, background_alpha=0.55, pad=pad + border_px, width=width)
            labels = []
            for i, k in enumerate(self.keyframes):
                lines = [f"K{i + 1} \u00b7 {format_time(k.time_s)}"]
                if self.style.label_lines and k.description.strip():
                    lines += wrap_text(k.description, fnt, width * 0.6, self.style.label_lines)
                labels.append(text_patch(lines, fnt, colour=moment_colour(k.moment), pad=pad))
            self._patches[key] = (caption, labels)
        return self._patches[key]

    def render(self, frame: Frame) -> np.ndarray:
        """One overlay frame.

        Args:
            frame: The frame, its time and its masks.

        Returns:
            A new ``uint8 (H, W, 3)`` array.
        """
        image = check_image(frame.image, f"frame at {frame.time_s} s")
        h, w = image.shape[:2]
        outline, border_px, _ = self.style.sizes(h, w)
        try:
            out = blend_masks(image, frame.masks, alpha=self.style.mask_alpha, outline_px=outline)
        except ValueError as err:
            raise ValueError(f"frame at {frame.time_s} s: {err}") from err
        caption, labels = self._text(h, w)
        if caption is not None:
            composite(out, *caption, 0, h - caption[1].shape[0])
        active = self.active_keyframe(frame.time_s)
        if active is not None:
            border(out, border_px, moment_colour(self.keyframes[active].moment))
            composite(out, *labels[active], border_px, border_px)
        return out


def write_overlay_video(
    path: str | Path,
    frames: Iterable[Frame],
    fps: float | Fraction,
    *,
    keyframes: Sequence[Keyframe] = (),
    query: str = "",
    style: OverlayStyle | None = None,
    audio: Audio | None = None,
    codec: str | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> VideoInfo:
    """Render and encode an overlay video, one frame at a time (wrap ``frames`` in ``tqdm`` for a progress bar).

    Args:
        path: Output ``.mp4``.
        frames: The input frames in order, each with its masks (an iterator: nothing is held).
        fps: The input's frame rate (the output has the same rate and one frame per input frame).
        keyframes: Keyframes to mark.
        query: Caption.
        style: Looks.
        audio: Mono track to mux (e.g. the input's own audio).
        codec: Video encoder (default :func:`~omni_r1_verl.visualize.video.h264_encoder`).
        crf: H.264 quality (see :class:`~omni_r1_verl.visualize.video.VideoWriter`).
        preset: x264 speed preset.

    Returns:
        What was written.
    """
    renderer = OverlayRenderer(float(fps), keyframes=keyframes, query=query, style=style)
    with VideoWriter(path, fps, codec=codec, crf=crf, preset=preset, audio=audio) as writer:
        for frame in frames:
            writer.write(renderer.render(frame))
    return writer.close()
