"""Galleries of rendered samples: a static HTML page per folder, and the same entries as images for loggers.

A gallery folder (``rollout_gallery/step_N/`` during training, the K best and K worst samples of ``omni-r1 eval
--visualize K``)::

    index.html      one section per entry: title, score and reward terms, details, query, timeline, overlay
                    frames, optional overlay video, the answer text
    images/         NNN_timeline.png, NNN_frame_J.jpg
    videos/         NNN.mp4 (entries given a video)

The page is plain HTML and CSS: no framework, nothing fetched from the network, every text escaped (answers are
model output). Each ``<img>`` counts itself into ``data-images-loaded`` / ``data-images-failed`` on ``<body>``
(``data-images`` is the total), which lets a headless browser check the page. :func:`gallery_images` renders each
entry as one picture (``uint8 (H, W, 3)``) for wandb (``wandb.Image``) or tensorboard (``add_image(...,
dataformats="HWC")``).
"""

from __future__ import annotations

import html
import math
import re
import shutil
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from omni_r1_verl.visualize.draw import (
    check_image,
    clean_text,
    draw_text,
    font,
    line_height,
    resize,
    save_png,
    wrap_text,
)

#: Longest answer shown on a page (model output; the rest is cut with an ellipsis).
MAX_ANSWER_CHARS = 20_000
_STEP = re.compile(r"^step_(\d+)$")


@dataclass(frozen=True)
class GalleryEntry:
    """One sample of a gallery.

    Attributes:
        title: Heading (e.g. ``"#3 revos/vid042 (best)"``).
        query: The referring query.
        answer: System 1's response text.
        score: Total reward or metric (``None``: not scored).
        terms: Reward terms or metrics, shown in the given order.
        timeline: Timeline picture (:func:`~omni_r1_verl.visualize.timeline.render_timeline`).
        frames: A few overlay frames (:class:`~omni_r1_verl.visualize.overlay.OverlayRenderer` output).
        frame_captions: One caption per frame (e.g. ``"K1 · 0.50 s"``).
        details: Extra facts shown as a list (sample id, data source, detail status, ...).
        video: An overlay video to embed (copied into ``videos/`` unless already inside the gallery folder).
    """

    title: str
    query: str = ""
    answer: str = ""
    score: float | None = None
    terms: Mapping[str, float] = field(default_factory=dict)
    timeline: np.ndarray | None = None
    frames: Sequence[np.ndarray] = ()
    frame_captions: Sequence[str] = ()
    details: Mapping[str, str] = field(default_factory=dict)
    video: str | Path | None = None


def gallery_dir(run_dir: str | Path, step: int) -> Path:
    """``<run_dir>/rollout_gallery/step_<step>``: where a training step's gallery goes."""
    return Path(run_dir) / "rollout_gallery" / f"step_{int(step)}"


def format_value(value: object) -> str:
    """A score or term as shown: floats to 3 decimals (``nan`` / ``inf`` spelled out), ``None`` as a dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return clean_text(value, 200)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    return str(int(number)) if isinstance(value, (int, np.integer)) else f"{number:.3f}"


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1320px;padding:16px 24px;
color:#222;background:#f7f7f5}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:0 0 8px}.sub{color:#555;margin:0 0 16px}
nav table,table.terms{border-collapse:collapse;font-variant-numeric:tabular-nums}
nav td,nav th,table.terms td,table.terms th{border:1px solid #ddd;padding:3px 9px;text-align:left;background:#fff}
nav{margin:0 0 20px}th{background:#efefec!important;font-weight:600}
section.entry{background:#fff;border:1px solid #e2e2de;border-radius:8px;padding:16px 18px;margin:0 0 22px}
.score{font-weight:600;color:#1a5fb4;margin-left:10px}
dl.details{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0;color:#444}
dl.details dt{font-weight:600}dl.details dd{margin:0}
.query{margin:10px 0;font-size:16px}
img{max-width:100%;height:auto;display:block;border-radius:4px}
figure{margin:10px 0}figcaption{color:#555;font-size:13px;margin-top:3px}
.frames{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px}.frames figure{margin:0}
video{max-width:100%;width:640px;margin:10px 0;background:#000}
pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f0;padding:10px;border-radius:4px;font-size:13px;
max-height:420px;overflow:auto}
"""
_SCRIPT = (
    "function omniImage(ok){var b=document.body,k=ok?'data-images-loaded':'data-images-failed';"
    "b.setAttribute(k,String(Number(b.getAttribute(k))+1));}"
)


def _esc(text: object, limit: int = 2000) -> str:
    return html.escape(clean_text(text, limit), quote=True)


def _img(src: str, alt: str) -> str:
    return (
        f'<img src="{html.escape(src, quote=True)}" alt="{_esc(alt, 200)}" '
        'onload="omniImage(true)" onerror="omniImage(false)">'
    )


def _save_frame(path: Path, image: np.ndarray, max_width: int) -> None:
    check_image(image, str(path))
    h, w = image.shape[:2]
    if w > max_width:
        image = resize(image, max_width, max(1, round(h * max_width / w)))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="JPEG", quality=90)


def _entry_html(i: int, entry: GalleryEntry, directory: Path, frame_width: int) -> tuple[str, int]:
    """HTML of one entry and its number of images (writes the entry's files)."""
    parts = [f'<section class="entry" id="entry-{i + 1}">']
    parts.append(f'<h2>{i + 1}. {_esc(entry.title, 300)}<span class="score">{_esc(format_value(entry.score))}</span>')
    parts.append("</h2>")
    if entry.terms:
        heads = "".join(f"<th>{_esc(k, 100)}</th>" for k in entry.terms)
        cells = "".join(f"<td>{_esc(format_value(v))}</td>" for v in entry.terms.values())
        parts.append(f'<table class="terms"><tr>{heads}</tr><tr>{cells}</tr></table>')
    if entry.details:
        items = "".join(f"<dt>{_esc(k, 100)}</dt><dd>{_esc(v, 500)}</dd>" for k, v in entry.details.items())
        parts.append(f'<dl class="details">{items}</dl>')
    if entry.query:
        parts.append(f'<p class="query"><b>Query:</b> {_esc(entry.query)}</p>')
    images, poster = 0, ""
    if entry.timeline is not None:
        name = f"images/{i:03d}_timeline.png"
        save_png(directory / name, entry.timeline)
        parts.append(f"<figure>{_img(name, f'timeline of {entry.title}')}</figure>")
        images += 1
    if len(entry.frames):
        parts.append('<div class="frames">')
        for j, frame in enumerate(entry.frames):
            name = f"images/{i:03d}_frame_{j}.jpg"
            _save_frame(directory / name, frame, frame_width)
            poster = poster or name
            caption = entry.frame_captions[j] if j < len(entry.frame_captions) else f"frame {j + 1}"
            parts.append(f"<figure>{_img(name, caption)}<figcaption>{_esc(caption, 300)}</figcaption></figure>")
            images += 1
        parts.append("</div>")
    if entry.video is not None:
        source = Path(entry.video).resolve()
        if directory.resolve() in source.parents:
            name = source.relative_to(directory.resolve()).as_posix()
        else:
            name = f"videos/{i:03d}{source.suffix or '.mp4'}"
            (directory / "videos").mkdir(exist_ok=True)
            shutil.copyfile(source, directory / name)
        attrs = f' poster="{html.escape(poster, quote=True)}"' if poster else ""
        src = html.escape(urllib.parse.quote(name), quote=True)
        parts.append(f'<video controls preload="metadata"{attrs} src="{src}"></video>')
    if entry.answer:
        parts.append(f"<details open><summary>Answer</summary><pre>{_esc(entry.answer, MAX_ANSWER_CHARS)}</pre>")
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts), images


def write_gallery(
    directory: str | Path,
    entries: Sequence[GalleryEntry],
    heading: str,
    *,
    subtitle: str = "",
    frame_width: int = 640,
) -> Path:
    """Write a gallery folder (its ``index.html`` and image files; other files in it are left alone).

    Args:
        directory: The folder (created).
        entries: Samples, shown in the given order.
        heading: Page title (e.g. ``"Rollouts at step 200"``).
        subtitle: A line under the heading (run name, checkpoint, ...).
        frame_width: Overlay frames wider than this are downscaled.

    Returns:
        Path of ``index.html``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sections, total = [], 0
    for i, entry in enumerate(entries):
        section, images = _entry_html(i, entry, directory, frame_width)
        sections.append(section)
        total += images
    rows = "".join(
        f'<tr><td>{i + 1}</td><td><a href="#entry-{i + 1}">{_esc(e.title, 300)}</a></td>'
        f"<td>{_esc(format_value(e.score))}</td></tr>"
        for i, e in enumerate(entries)
    )
    page = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_esc(heading, 300)}</title>",
            f"<style>{_CSS}</style>",
            f"<script>{_SCRIPT}</script>",
            "</head>",
            f'<body data-images="{total}" data-images-loaded="0" data-images-failed="0">',
            f"<h1>{_esc(heading, 300)}</h1>",
            f'<p class="sub">{_esc(subtitle, 1000)}</p>' if subtitle else "",
            f"<nav><table><tr><th>#</th><th>sample</th><th>score</th></tr>{rows}</table></nav>" if entries else "",
            *sections,
            "<p class='sub'>No samples.</p>" if not entries else "",
            "</body></html>",
        ]
    )
    path = directory / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_gallery_index(root: str | Path, heading: str = "Rollout gallery") -> Path:
    """Write ``<root>/index.html`` linking every ``step_N/index.html`` under ``root``, newest step first."""
    root = Path(root)
    steps = sorted(
        (int(m.group(1)), p.name) for p in root.iterdir() if (m := _STEP.match(p.name)) and (p / "index.html").is_file()
    )
    items = "".join(f'<li><a href="{name}/index.html">step {step}</a></li>' for step, name in reversed(steps))
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(heading)}</title>'
        f"<style>{_CSS}</style></head>\n<body><h1>{_esc(heading)}</h1><ul>{items}</ul></body></html>"
    )
    path = root / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def render_entry_card(entry: GalleryEntry, width: int = 1024, max_frames: int = 4, answer_lines: int = 6) -> np.ndarray:
    """One picture of an entry: title, score and terms, query, timeline, overlay frames, the answer's start.

    Args:
        entry: The sample.
        width: Picture width.
        max_frames: Most overlay frames, side by side.
        answer_lines: Most lines of the answer.

    Returns:
        ``uint8 (H, width, 3)`` RGB.
    """
    m, gap = 14, 8
    inner = width - 2 * m
    title, body, small = font(20), font(15), font(13)
    scores = [f"score {format_value(entry.score)}"] + [f"{k} {format_value(v)}" for k, v in entry.terms.items()]
    pieces = [
        _text_block(wrap_text(entry.title, title, inner, 2), title, (20, 20, 20), inner),
        _text_block(wrap_text("   ".join(scores), body, inner, 3), body, (26, 95, 180), inner),
    ]
    if entry.query:
        pieces.append(_text_block(wrap_text(f"Query: {entry.query}", body, inner, 3), body, (40, 40, 40), inner))
    if entry.timeline is not None:
        tl = check_image(entry.timeline, "timeline")
        pieces.append(resize(tl, inner, max(1, round(tl.shape[0] * inner / tl.shape[1]))))
    frames = [check_image(f, "overlay frame") for f in list(entry.frames)[:max_frames]]
    if frames:
        fw = (inner - (len(frames) - 1) * gap) // len(frames)
        scaled = [resize(f, fw, max(1, round(f.shape[0] * fw / f.shape[1]))) for f in frames]
        row = np.full((max(f.shape[0] for f in scaled), inner, 3), 255, np.uint8)
        for j, f in enumerate(scaled):
            row[: f.shape[0], j * (fw + gap) : j * (fw + gap) + fw] = f
        pieces.append(row)
    if entry.answer and answer_lines > 0:
        pieces.append(_text_block(wrap_text(entry.answer, small, inner, answer_lines), small, (70, 70, 70), inner))
    canvas = np.full((2 * m + sum(p.shape[0] for p in pieces) + gap * (len(pieces) - 1), width, 3), 255, np.uint8)
    y = m
    for piece in pieces:
        canvas[y : y + piece.shape[0], m : m + piece.shape[1]] = piece
        y += piece.shape[0] + gap
    return canvas


def _text_block(lines: list[str], fnt, colour, width: int) -> np.ndarray:
    """Lines of text on white, ``width`` wide."""
    block = np.full((max(1, len(lines) * line_height(fnt)), width, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        draw_text(block, (0, k * line_height(fnt)), line, fnt, colour)
    return block


def gallery_images(entries: Sequence[GalleryEntry], width: int = 1024) -> list[tuple[str, np.ndarray]]:
    """Each entry as ``(caption, uint8 (H, W, 3) picture)`` for image-capable loggers (see the module doc).

    Args:
        entries: Samples.
        width: Picture width.

    Returns:
        One ``(caption, image)`` per entry, in order; the caption is the title and the score.
    """
    return [(f"{e.title} (score {format_value(e.score)})", render_entry_card(e, width)) for e in entries]
