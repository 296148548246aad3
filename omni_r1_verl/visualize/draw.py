"""Drawing primitives shared by the renderers: fonts, wrapped text, alpha patches, rectangles, PNG files.

Images are ``uint8`` RGB numpy arrays ``(H, W, 3)``. Text is rendered once with Pillow's built-in scalable font
(no font files, works offline) into an RGBA patch, then alpha-composited in numpy, so a caption drawn on every
frame of a video costs one blend per frame.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from omni_r1_verl.visualize.palette import Colour

#: Longest text the renderers lay out (model output can be arbitrarily long; the rest is cut with an ellipsis).
MAX_TEXT_CHARS = 4000
ELLIPSIS = "\u2026"


@functools.lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in scalable font at ``size`` pixels."""
    return ImageFont.load_default(size=max(6, int(size)))


def line_height(fnt: ImageFont.FreeTypeFont) -> int:
    """Distance between baselines of consecutive lines."""
    ascent, descent = fnt.getmetrics()
    return ascent + descent + max(1, int(fnt.size) // 6)


def clean_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> str:
    """``text`` as a printable string: non-strings via ``str``, control characters to spaces, cut at ``max_chars``."""
    text = text if isinstance(text, str) else str(text)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + ELLIPSIS
    return "".join(c if c.isprintable() or c == "\n" else " " for c in text)


def _fit(word: str, fnt: ImageFont.FreeTypeFont, width: float) -> int:
    """Longest prefix of ``word`` (at least one character) that fits ``width``."""
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fnt.getlength(word[:mid]) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def wrap_text(text: object, fnt: ImageFont.FreeTypeFont, width: float, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap to a pixel width; words wider than a line are broken; newlines start new lines.

    Args:
        text: The text (cleaned with :func:`clean_text`).
        fnt: Font it is drawn with.
        width: Line width in pixels.
        max_lines: Keep at most this many lines; the last kept line ends with an ellipsis when text was cut.

    Returns:
        The lines (empty for empty text).
    """
    limit = MAX_TEXT_CHARS if max_lines is None else max(1, int(max_lines))
    lines: list[str] = []
    space = fnt.getlength(" ")
    for paragraph in clean_text(text).split("\n"):
        line, line_w = "", 0.0
        for word in paragraph.split():
            if len(lines) > limit:
                break
            word_w = fnt.getlength(word)
            if line and line_w + space + word_w <= width:
                line, line_w = f"{line} {word}", line_w + space + word_w
                continue
            if line:
                lines.append(line)
            while word_w > width and len(word) > 1 and len(lines) <= limit:
                cut = _fit(word, fnt, width)
                lines.append(word[:cut])
                word = word[cut:]
                word_w = fnt.getlength(word)
            line, line_w = word, word_w
        lines.append(line)
        if len(lines) > limit:
            break
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > limit:
        lines = lines[:limit]
        last = lines[-1]
        while last and fnt.getlength(last + ELLIPSIS) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + ELLIPSIS
    return lines


def text_patch(
    lines: list[str],
    fnt: ImageFont.FreeTypeFont,
    *,
    colour: Colour = (255, 255, 255),
    background: Colour = (0, 0, 0),
    background_alpha: float = 0.6,
    pad: int = 4,
    width: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render lines of text on a translucent box.

    Args:
        lines: Lines, top to bottom.
        fnt: Font.
        colour: Text colour.
        background: Box colour.
        background_alpha: Box opacity in ``[0, 1]`` (0: text only).
        pad: Padding around the text in pixels.
        width: Box width (default: the widest line plus padding).

    Returns:
        ``rgb`` ``uint8 (h, w, 3)`` and ``alpha`` ``uint8 (h, w)`` of the patch.
    """
    step = line_height(fnt)
    text_w = max((fnt.getlength(line) for line in lines), default=0.0)
    w = int(width) if width is not None else int(np.ceil(text_w)) + 2 * pad
    h = step * len(lines) + 2 * pad
    coverage = Image.new("L", (max(w, 1), max(h, 1)), 0)
    draw = ImageDraw.Draw(coverage)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * step), line, font=fnt, fill=255)
    cov = np.asarray(coverage, dtype=np.float32)[:h, :w] / 255.0
    alpha = cov + background_alpha * (1.0 - cov)
    fg, bg = np.asarray(colour, np.float32), np.asarray(background, np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(alpha > 0, cov / alpha, 0.0)[..., None]
    rgb = fg * weight + bg * (1.0 - weight)
    return np.rint(rgb).astype(np.uint8), np.rint(alpha * 255).astype(np.uint8)


def composite(dst: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-composite a patch onto ``dst`` in place with its top-left corner at ``(x, y)`` (clipped to ``dst``)."""
    h, w = alpha.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(dst.shape[1], x + w), min(dst.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None].astype(np.uint16)
    src = rgb[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.uint16)
    region = dst[y0:y1, x0:x1]
    region[...] = ((src * a + region.astype(np.uint16) * (255 - a) + 127) // 255).astype(np.uint8)


def blend_rect(dst: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour: Colour, alpha: float) -> None:
    """Blend a filled rectangle ``[x0, x1) x [y0, y1)`` of ``colour`` at opacity ``alpha`` into ``dst`` in place."""
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(dst.shape[1], int(x1)), min(dst.shape[0], int(y1))
    if x1 <= x0 or y1 <= y0:
        return
    region = dst[y0:y1, x0:x1]
    region[...] = np.rint(region * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha).astype(np.uint8)


def border(dst: np.ndarray, thickness: int, colour: Colour, x0: int = 0, y0: int = 0, x1=None, y1=None) -> None:
    """Paint an opaque frame ``thickness`` pixels wide just inside the rectangle (default: the whole image)."""
    x1 = dst.shape[1] if x1 is None else x1
    y1 = dst.shape[0] if y1 is None else y1
    t = max(0, int(thickness))
    if t == 0:
        return
    c = np.asarray(colour, np.uint8)
    dst[y0 : y0 + t, x0:x1] = c
    dst[max(y0, y1 - t) : y1, x0:x1] = c
    dst[y0:y1, x0 : x0 + t] = c
    dst[y0:y1, max(x0, x1 - t) : x1] = c


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """``image`` if it is a ``uint8 (H, W, 3)`` array, else a ``ValueError`` naming ``what``."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"{what} must be a uint8 (H, W, 3) RGB array, got {dtype} {shape}")
    return image


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaged (downscale) / bilinear (upscale) resize to ``width x height``."""
    if image.shape[:2] == (height, width):
        return image
    method = Image.Resampling.BOX if width <= image.shape[1] else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((max(1, width), max(1, height)), method))


def draw_text(dst: np.ndarray, xy: tuple[int, int], text: str, fnt, colour: Colour) -> None:
    """Draw one line of opaque text onto ``dst`` in place (no box)."""
    rgb, alpha = text_patch([text], fnt, colour=colour, background_alpha=0.0, pad=0)
    composite(dst, rgb, alpha, int(xy[0]), int(xy[1]))


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB array as PNG (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(check_image(image)).save(path, format="PNG", optimize=False, compress_level=6)
    return path
