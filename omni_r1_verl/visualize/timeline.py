"""The keyframe timeline: one picture of what System 1 chose and why.

Top to bottom: the query; a lane of moment bars (``M1``, ``M2``, ... in their colours, with the description); a strip
of frames sampled evenly in time (one thumbnail per equal slice of the video, faded outside the moments);
the audio waveform with the moments tinted over it; a time axis; then one card per keyframe (the frame with its
masks, its time, and the rewritten description, wrapped). Keyframes are also vertical lines through the strip and
the waveform, tagged ``K1``, ``K2``, ... in their moment's colour.

:func:`timeline_layout` returns where everything goes (tests and callers can find the marks), and
:func:`render_timeline` draws it; both are pure functions of their arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omni_r1_verl.visualize.draw import (
    blend_rect,
    border,
    check_image,
    composite,
    draw_text,
    font,
    line_height,
    resize,
    text_patch,
    wrap_text,
)
from omni_r1_verl.visualize.overlay import blend_masks, format_time
from omni_r1_verl.visualize.palette import Colour, moment_colour
from omni_r1_verl.visualize.types import Audio, Frame, Keyframe, Moment

#: ``(x0, y0, x1, y1)``, half-open, in pixels.
Rect = tuple[int, int, int, int]
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True)
class TimelineStyle:
    """Sizes and colours of a timeline.

    Attributes:
        width: Picture width in pixels (the height follows from the content).
        margin: Outer margin.
        max_thumbnails: Most frames in the strip.
        max_thumbnail_height: Thumbnails taller than this are cropped to it (portrait videos).
        waveform_height: Height of the waveform band (a thin "no audio" band without audio).
        font_px: Body text size.
        title_px: Query text size.
        cards_per_row: Keyframe cards per row (their width is the row's width over this).
        query_lines: Most lines of the query.
        description_lines: Most lines of a keyframe's description.
        mask_alpha: Mask opacity on the keyframe cards.
        washout: How far the strip outside every moment is faded towards the background, in ``[0, 1]``.
        background: Page colour.
        text_colour: Body text colour.
    """

    width: int = 1280
    margin: int = 16
    max_thumbnails: int = 10
    max_thumbnail_height: int = 200
    waveform_height: int = 80
    font_px: int = 15
    title_px: int = 19
    cards_per_row: int = 4
    query_lines: int = 3
    description_lines: int = 5
    mask_alpha: float = 0.45
    washout: float = 0.6
    background: Colour = (248, 248, 246)
    text_colour: Colour = (33, 33, 33)

    def __post_init__(self) -> None:
        if self.width < 200 or self.margin < 0 or self.max_thumbnails < 1 or self.cards_per_row < 1:
            raise ValueError("need width >= 200, margin >= 0, max_thumbnails >= 1, cards_per_row >= 1")
        if not (0 <= self.washout <= 1 and 0 <= self.mask_alpha <= 1):
            raise ValueError("washout and mask_alpha must be in [0, 1]")


@dataclass(frozen=True)
class TimelineLayout:
    """Where a timeline draws what (all rectangles ``(x0, y0, x1, y1)``, half-open).

    Attributes:
        width: Picture width.
        height: Picture height.
        duration_s: Time the axis spans (``0 .. duration_s``).
        query_lines: The wrapped query.
        query: Query text box.
        lane: Moment bars.
        strip: Thumbnail strip (its x range is the time axis).
        thumbnails: One rectangle per thumbnail.
        thumbnail_frames: Index into ``frames`` shown by each thumbnail.
        wave: Waveform band.
        axis: Tick marks and labels.
        cards: Image rectangle of each keyframe card.
        card_frames: Index into ``frames`` shown by each card (the frame nearest the keyframe).
        card_lines: Wrapped description of each card.
    """

    width: int
    height: int
    duration_s: float
    query_lines: tuple[str, ...]
    query: Rect
    lane: Rect
    strip: Rect
    thumbnails: tuple[Rect, ...]
    thumbnail_frames: tuple[int, ...]
    wave: Rect
    axis: Rect
    cards: tuple[Rect, ...]
    card_frames: tuple[int, ...]
    card_lines: tuple[tuple[str, ...], ...]

    def x_of(self, time_s: float) -> int:
        """Column of ``time_s`` on the time axis (clamped to the strip; a non-finite time maps to 0)."""
        x0, _, x1, _ = self.strip
        frac = time_s / self.duration_s if math.isfinite(time_s) else 0.0
        frac = min(max(frac, 0.0), 1.0)
        return min(x0 + int(round(frac * (x1 - x0))), x1 - 1)


def _nearest(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the entry of sorted ``times`` nearest each ``t``."""
    right = np.clip(np.searchsorted(times, t), 1, max(len(times) - 1, 1))
    left = right - 1
    if len(times) == 1:
        return np.zeros(len(t), dtype=np.int64)
    return np.where(np.abs(times[left] - t) <= np.abs(times[right] - t), left, right)


def default_duration(frames: Sequence[Frame], audio: Audio | None = None, moments: Sequence[Moment] = ()) -> float:
    """The axis length: the last frame's time plus one frame step, stretched to the audio and the moments."""
    times = np.array([f.time_s for f in frames], dtype=np.float64)
    step = float(np.median(np.diff(np.sort(times)))) if len(times) > 1 else 1.0
    end = float(times.max()) + step if len(times) else 0.0
    if audio is not None:
        end = max(end, audio.duration_s)
    end = max([end, *(m.end_s for m in moments)])
    return end if end > 0 else 1.0


def timeline_layout(
    frames: Sequence[Frame],
    *,
    query: str = "",
    moments: Sequence[Moment] = (),
    keyframes: Sequence[Keyframe] = (),
    audio: Audio | None = None,
    duration_s: float | None = None,
    style: TimelineStyle | None = None,
) -> TimelineLayout:
    """Lay out a timeline (same arguments as :func:`render_timeline`)."""
    style = style or TimelineStyle()
    if not frames:
        raise ValueError("a timeline needs at least one frame")
    fh, fw = check_image(frames[0].image, "frame 0").shape[:2]
    duration = float(duration_s) if duration_s is not None else default_duration(frames, audio, moments)
    if not duration > 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    body, title = font(style.font_px), font(style.title_px)
    lh, th = line_height(body), line_height(title)
    m, w = style.margin, style.width
    inner = w - 2 * m
    order = np.argsort([f.time_s for f in frames], kind="stable")
    times = np.array([frames[i].time_s for i in order], dtype=np.float64)

    y = m
    query_lines = tuple(wrap_text(f"Query: {query}", title, inner, style.query_lines)) if query.strip() else ()
    query_box = (m, y, w - m, y + th * len(query_lines))
    y = query_box[3] + (8 if query_lines else 0)
    lane = (m, y, w - m, y + lh + 6)
    y = lane[3] + 2

    n = min(style.max_thumbnails, len(frames))
    edges = [m + round(i * inner / n) for i in range(n + 1)]
    thumb_h = max(8, min(style.max_thumbnail_height, round(inner / n * fh / fw)))
    strip = (m, y, w - m, y + thumb_h)
    thumbnails = tuple((edges[i], y, edges[i + 1], y + thumb_h) for i in range(n))
    centres = (np.arange(n) + 0.5) * duration / n
    thumbnail_frames = tuple(int(order[j]) for j in _nearest(times, centres))
    y = strip[3]
    wave = (m, y, w - m, y + (style.waveform_height if audio is not None else lh + 6))
    axis = (m, wave[3], w - m, wave[3] + 6 + line_height(font(max(6, style.font_px - 3))))
    gap = 12
    y = axis[3] + gap

    cards: list[Rect] = []
    card_lines: list[tuple[str, ...]] = []
    card_frames = tuple(int(order[j]) for j in _nearest(times, np.array([k.time_s for k in keyframes])))
    per_row = style.cards_per_row
    card_w = (inner - (per_row - 1) * gap) // per_row
    card_h = min(round(card_w * fh / fw), round(card_w * 1.5))
    for row_start in range(0, len(keyframes), per_row):
        row = keyframes[row_start : row_start + per_row]
        texts = [tuple(wrap_text(k.description, body, card_w, style.description_lines)) for k in row]
        for j, text in enumerate(texts):
            x = m + j * (card_w + gap)
            cards.append((x, y, x + card_w, y + card_h))
            card_lines.append(text)
        y += card_h + 4 + lh * (1 + max(len(t) for t in texts)) + gap
    height = y - gap + m
    return TimelineLayout(
        width=w,
        height=height,
        duration_s=duration,
        query_lines=query_lines,
        query=query_box,
        lane=lane,
        strip=strip,
        thumbnails=thumbnails,
        thumbnail_frames=thumbnail_frames,
        wave=wave,
        axis=axis,
        cards=tuple(cards),
        card_frames=card_frames,
        card_lines=tuple(card_lines),
    )


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to cover ``width x height`` and crop the centre."""
    ih, iw = image.shape[:2]
    scale = max(width / iw, height / ih)
    sw, sh = max(width, round(iw * scale)), max(height, round(ih * scale))
    scaled = resize(image, sw, sh)
    x, y = (sw - width) // 2, (sh - height) // 2
    return scaled[y : y + height, x : x + width]


def _span(layout: TimelineLayout, moment: Moment) -> tuple[int, int]:
    """Columns ``[x0, x1)`` a moment covers (at least 3 px wide)."""
    x0, x1 = layout.x_of(max(0.0, moment.start_s)), layout.x_of(max(moment.start_s, moment.end_s))
    if x1 - x0 < 3:
        x0 = max(layout.strip[0], min(x0, layout.strip[2] - 3))
        x1 = x0 + 3
    return x0, x1


def _waveform(canvas: np.ndarray, rect: Rect, audio: Audio, duration: float, colour: Colour) -> None:
    x0, y0, x1, y1 = rect
    cols, rows = x1 - x0, y1 - y0
    samples = np.asarray(audio.samples, dtype=np.float32).reshape(-1)
    bounds = (np.arange(cols + 1) * duration / cols * audio.sample_rate).astype(np.int64)
    samples = samples[: bounds[-1]]
    starts = bounds[:-1]
    keep = starts < len(samples)
    if not keep.any():
        return
    peak = float(np.abs(samples).max()) or 1.0
    hi = np.maximum.reduceat(samples, starts[keep]) / peak
    lo = np.minimum.reduceat(samples, starts[keep]) / peak
    half = (rows - 6) / 2
    centre = y0 + rows / 2
    top = np.floor(centre - hi * half).astype(np.int64)
    bottom = np.maximum(np.ceil(centre - lo * half).astype(np.int64), top + 1)
    ys = np.arange(y0, y1)[:, None]
    ink = (ys >= top[None]) & (ys < bottom[None])
    band = canvas[y0:y1, x0 : x0 + len(top)]
    band[ink] = colour


def _ticks(duration: float, width: int) -> np.ndarray:
    step = next((s for s in _TICK_STEPS if duration / s <= max(1, width // 90)), _TICK_STEPS[-1])
    return np.arange(0.0, duration + 1e-9, step)


def render_timeline(
    frames: Sequence[Frame],
    *,
    query: str = "",
    moments: Sequence[Moment] = (),
    keyframes: Sequence[Keyframe] = (),
    audio: Audio | None = None,
    duration_s: float | None = None,
    style: TimelineStyle | None = None,
) -> np.ndarray:
    """Draw the keyframe timeline of one answer.

    Args:
        frames: Sampled frames (e.g. the clip System 1 saw), each with its time and optional masks (shown on the
            keyframe cards); every frame the same size.
        query: The referring query.
        moments: Chosen moments (``M1`` = the first).
        keyframes: Keyframes (``K1`` = the first); ``Keyframe.moment`` picks the colour.
        audio: Waveform to draw under the strip.
        duration_s: Axis length (default :func:`default_duration`).
        style: Looks.

    Returns:
        ``uint8 (layout.height, style.width, 3)`` RGB.
    """
    style = style or TimelineStyle()
    layout = timeline_layout(
        frames, query=query, moments=moments, keyframes=keyframes, audio=audio, duration_s=duration_s, style=style
    )
    body, title, small = font(style.font_px), font(style.title_px), font(max(6, style.font_px - 3))
    lh = line_height(body)
    ink, grey = style.text_colour, (120, 120, 120)
    canvas = np.empty((layout.height, layout.width, 3), dtype=np.uint8)
    canvas[...] = style.background

    for i, line in enumerate(layout.query_lines):
        draw_text(canvas, (layout.query[0], layout.query[1] + i * line_height(title)), line, title, ink)

    # Strip: thumbnails, faded outside every moment.
    sx0, sy0, sx1, sy1 = layout.strip
    for rect, idx in zip(layout.thumbnails, layout.thumbnail_frames):
        x0, y0, x1, y1 = rect
        canvas[y0:y1, x0:x1] = _cover(check_image(frames[idx].image, f"frame {idx}"), x1 - x0, y1 - y0)
    spans = [_span(layout, mo) for mo in moments]
    inside = np.zeros(sx1 - sx0, dtype=bool)
    for x0, x1 in spans:
        inside[x0 - sx0 : x1 - sx0] = True
    strip = canvas[sy0:sy1, sx0:sx1]
    faded = ~inside if moments else inside  # nothing chosen: nothing to set apart
    bg = np.asarray(style.background, np.float32)
    strip[:, faded] = np.rint(strip[:, faded] * (1 - style.washout) + bg * style.washout).astype(np.uint8)

    # Waveform band with the moments tinted over it.
    wx0, wy0, wx1, wy1 = layout.wave
    canvas[wy0:wy1, wx0:wx1] = (232, 232, 228)
    if audio is not None:
        _waveform(canvas, layout.wave, audio, layout.duration_s, (84, 96, 120))
    else:
        draw_text(canvas, (wx0 + 6, wy0 + 3), "no audio", small, grey)
    for i, (x0, x1) in enumerate(spans):
        blend_rect(canvas, x0, wy0, x1, wy1, moment_colour(i), 0.45)

    # Moment lane.
    lx0, ly0, lx1, ly1 = layout.lane
    if not moments:
        draw_text(canvas, (lx0, ly0 + 3), "no valid moment", body, grey)
    for i, (mo, (x0, x1)) in enumerate(zip(moments, spans)):
        colour = moment_colour(i)
        canvas[ly0:ly1, x0:x1] = colour
        label = f"M{i + 1} {mo.description}".strip()
        lines = wrap_text(label, body, max(1, x1 - x0 - 8), 1)
        rgb, alpha = text_patch(lines[:1], body, colour=(20, 20, 20), background_alpha=0.0, pad=3)
        composite(canvas, rgb[:, : x1 - x0], alpha[:, : x1 - x0], x0 + 1, ly0)

    # Axis.
    ax0, ay0, ax1, _ = layout.axis
    for t in _ticks(layout.duration_s, ax1 - ax0):
        x = layout.x_of(float(t))
        canvas[ay0 : ay0 + 5, x] = grey
        label = format_time(float(t)).replace(".00 s", " s")
        draw_text(canvas, (max(ax0, min(x - int(small.getlength(label)) // 2, ax1 - 40)), ay0 + 6), label, small, grey)

    # Keyframe lines and tags.
    for i, k in enumerate(keyframes):
        colour = moment_colour(k.moment)
        x = layout.x_of(k.time_s)
        canvas[ly1:wy1, max(sx0, x - 1) : min(sx1, x + 1)] = colour
        rgb, alpha = text_patch([f"K{i + 1}"], small, colour=(255, 255, 255), background=(20, 20, 20), pad=2)
        composite(canvas, rgb, alpha, min(x + 2, sx1 - rgb.shape[1]), sy1 - rgb.shape[0] - 2)

    # Keyframe cards.
    for i, (k, rect, idx, lines) in enumerate(zip(keyframes, layout.cards, layout.card_frames, layout.card_lines)):
        x0, y0, x1, y1 = rect
        frame = frames[idx]
        outline = int(np.ceil(2 * frame.image.shape[1] / (x1 - x0)))  # 2 px after scaling to the card
        image = check_image(frame.image, f"frame {idx}")
        image = blend_masks(image, frame.masks, alpha=style.mask_alpha, outline_px=outline)
        canvas[y0:y1, x0:x1] = _cover(image, x1 - x0, y1 - y0)
        colour = moment_colour(k.moment)
        border(canvas, 3, colour, x0, y0, x1, y1)
        ty = y1 + 4
        canvas[ty + 3 : ty + lh - 3, x0 : x0 + lh - 6] = colour
        moment = f" \u00b7 M{k.moment + 1}" if k.moment is not None else ""
        draw_text(canvas, (x0 + lh - 2, ty), f"K{i + 1} \u00b7 {format_time(k.time_s)}{moment}", body, ink)
        for j, line in enumerate(lines):
            draw_text(canvas, (x0, ty + lh * (j + 1)), line, body, ink)
    return canvas
