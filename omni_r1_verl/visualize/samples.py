"""One sample as a gallery entry: its timeline and a few annotated overlay frames, with the ground truth beside the
prediction and the scores written on the pictures.

Used by the training-time rollout gallery (:mod:`omni_r1_verl.visualize.rollout`) and ``omni-r1 eval --visualize``.
A :class:`SampleView` holds what is drawn: frames (with the predicted masks when there are any, filled in their
object colours), the ground truth's union mask per frame (outlined in white, never filled, so it never hides the
prediction), each keyframe's boxes (System 2's solid in the keyframe's moment colour, the ground truth's dashed
white) and a note per frame (e.g. its J). :func:`sample_entry` renders it: the timeline (keyframe cards included)
and up to ``stills`` overlay frames, keyframes first, each with the scores in its bottom-right corner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omni_r1_verl.visualize.draw import check_image, composite, font, text_patch
from omni_r1_verl.visualize.gallery import GalleryEntry, format_value
from omni_r1_verl.visualize.overlay import OverlayRenderer, OverlayStyle, format_time, inner_edge
from omni_r1_verl.visualize.palette import Colour, moment_colour
from omni_r1_verl.visualize.timeline import render_timeline
from omni_r1_verl.visualize.types import Audio, Frame, Keyframe, Moment

#: Colour of ground-truth outlines and boxes.
GT_COLOUR: Colour = (255, 255, 255)
Box = Sequence[float]


def outline(image: np.ndarray, mask: np.ndarray, colour: Colour = GT_COLOUR, width: int = 2) -> None:
    """Draw the inner outline of ``mask`` onto ``image`` in place (nothing else changes)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match the image {image.shape[:2]}")
    image[inner_edge(mask, width)] = colour


def draw_box(image: np.ndarray, box: Box, colour: Colour, width: int = 2, dash: int = 0) -> None:
    """Draw a box outline ``[x1, y1, x2, y2]`` (pixels, clipped to the image) in place; ``dash > 0`` dashes it.

    A box with a non-finite coordinate or no area inside the image draws nothing.
    """
    h, w = image.shape[:2]
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        return
    if len(values) != 4 or not all(np.isfinite(values)):
        return
    x0, y0 = max(0, int(round(values[0]))), max(0, int(round(values[1])))
    x1, y1 = min(w, int(round(values[2]))), min(h, int(round(values[3])))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    c = np.asarray(colour, np.uint8)
    t = max(1, min(width, (x1 - x0 + 1) // 2, (y1 - y0 + 1) // 2))
    on_x = np.ones(x1 - x0, bool) if dash <= 0 else (np.arange(x1 - x0) // dash) % 2 == 0
    on_y = np.ones(y1 - y0, bool) if dash <= 0 else (np.arange(y1 - y0) // dash) % 2 == 0
    for rows in (slice(y0, y0 + t), slice(y1 - t, y1)):
        image[rows, x0:x1][:, on_x] = c
    for cols in (slice(x0, x0 + t), slice(x1 - t, x1)):
        image[y0:y1, cols][on_y] = c


def stamp(image: np.ndarray, lines: Sequence[str], size: int | None = None) -> None:
    """Write ``lines`` on a translucent dark panel in the bottom-right corner of ``image``, in place."""
    lines = [line for line in lines if line]
    if not lines:
        return
    fnt = font(size or max(10, min(image.shape[:2]) // 24))
    rgb, alpha = text_patch(list(lines), fnt, background_alpha=0.6, pad=4)
    composite(image, rgb, alpha, image.shape[1] - rgb.shape[1], image.shape[0] - rgb.shape[0])


@dataclass
class SampleView:
    """What one sample's pictures show (times in video seconds; boxes in the frames' pixels).

    Attributes:
        query: The referring query.
        frames: The frames drawn (e.g. the clip System 1 saw), each with its predicted masks (may be none).
        fps: The video's frame rate (a keyframe marks the frame within half a frame of its time).
        moments: System 1's valid moments.
        keyframes: The keyframes (``Keyframe.moment`` indexes ``moments``).
        gt_masks: Per frame, the ground truth's union mask (``None`` entries or list: no ground truth).
        pred_boxes: Per keyframe, System 2's accepted boxes.
        gt_boxes: Per keyframe, the ground truth's boxes.
        notes: Per frame, a short note written on its still (e.g. ``"J 0.62"``).
        audio: The waveform for the timeline.
        duration_s: The timeline's length (default: from the frames).
    """

    query: str
    frames: Sequence[Frame]
    fps: float
    moments: Sequence[Moment] = ()
    keyframes: Sequence[Keyframe] = ()
    gt_masks: Sequence[np.ndarray | None] = ()
    pred_boxes: Sequence[Sequence[Box]] = ()
    gt_boxes: Sequence[Sequence[Box]] = ()
    notes: Sequence[str] = ()
    audio: Audio | None = None
    duration_s: float | None = None

    def keyframe_frames(self) -> list[int]:
        """Index into :attr:`frames` of each keyframe (the frame nearest its time)."""
        times = np.array([f.time_s for f in self.frames])
        return [int(np.argmin(np.abs(times - k.time_s))) for k in self.keyframes] if len(times) else []

    def with_ground_truth(self, i: int) -> np.ndarray:
        """Frame ``i``'s image with the ground truth outlined (a copy)."""
        image = check_image(self.frames[i].image, f"frame {i}").copy()
        gt = self.gt_masks[i] if i < len(self.gt_masks) else None
        if gt is not None and np.any(gt):
            outline(image, gt, GT_COLOUR, max(1, min(image.shape[:2]) // 180))
        return image


def _still_order(view: SampleView, count: int) -> list[int]:
    chosen: list[int] = []
    for i in view.keyframe_frames():
        if i not in chosen:
            chosen.append(i)
    n = len(view.frames)
    for i in np.linspace(0, n - 1, num=min(n, count + len(chosen))).round().astype(int).tolist():
        if len(chosen) >= count:
            break
        if i not in chosen:
            chosen.append(i)
    return chosen[:count]


def score_lines(score: float | None, terms: Mapping[str, float], per_line: int = 3) -> list[str]:
    """``["score 1.234", "a 0.1  b 0.2  c 0.3", ...]``: the scores as short lines for :func:`stamp`."""
    items = [f"{k} {format_value(v)}" for k, v in terms.items()]
    lines = [f"score {format_value(score)}"] if score is not None else []
    return lines + ["  ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]


def sample_entry(
    view: SampleView,
    *,
    title: str,
    answer: str = "",
    score: float | None = None,
    terms: Mapping[str, float] | None = None,
    details: Mapping[str, str] | None = None,
    stills: int = 4,
    video: str | Path | None = None,
) -> GalleryEntry:
    """Render a sample's timeline and stills as a gallery entry.

    Args:
        view: What to draw.
        title: The entry's heading.
        answer: System 1's response (shown as text).
        score: The total reward or the headline metric.
        terms: Reward terms or metrics (on the page and written on every still).
        details: Extra facts for the page.
        stills: Most overlay frames (keyframes first, then evenly spaced frames).
        video: An overlay video to embed.

    Returns:
        The entry.
    """
    terms = dict(terms or {})
    if not view.frames:
        return GalleryEntry(title, view.query, answer, score, terms, details=dict(details or {}), video=video)
    base = [view.with_ground_truth(i) for i in range(len(view.frames))]
    framed = [Frame(image, f.time_s, f.masks) for image, f in zip(base, view.frames)]
    timeline = render_timeline(
        framed,
        query=view.query,
        moments=view.moments,
        keyframes=view.keyframes,
        audio=view.audio,
        duration_s=view.duration_s,
    )
    renderer = OverlayRenderer(
        view.fps, keyframes=view.keyframes, query="", style=OverlayStyle(caption=False, keyframe_hold_s=0.0)
    )
    where = view.keyframe_frames()
    lines = score_lines(score, terms)
    images, captions = [], []
    for i in _still_order(view, stills):
        image = renderer.render(framed[i])
        width = max(2, min(image.shape[:2]) // 150)
        caption = format_time(view.frames[i].time_s)
        for k in (k for k, f in enumerate(where) if f == i):
            colour = moment_colour(view.keyframes[k].moment)
            for box in view.gt_boxes[k] if k < len(view.gt_boxes) else ():
                draw_box(image, box, GT_COLOUR, width, dash=3 * width)
            for box in view.pred_boxes[k] if k < len(view.pred_boxes) else ():
                draw_box(image, box, colour, width)
            n = len(view.pred_boxes[k]) if k < len(view.pred_boxes) else 0
            caption = f"K{k + 1} \u00b7 {caption} \u00b7 {n} box{'es' if n != 1 else ''}"
        note = view.notes[i] if i < len(view.notes) else ""
        stamp(image, [*lines, note])
        images.append(image)
        captions.append(f"{caption} \u00b7 {note}" if note else caption)
    return GalleryEntry(
        title=title,
        query=view.query,
        answer=answer,
        score=score,
        terms=terms,
        timeline=timeline,
        frames=images,
        frame_captions=captions,
        details=dict(details or {}),
        video=video,
    )
