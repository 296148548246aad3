"""Gallery folders: the files, escaped text, counted images; the same entries as logger images."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from omni_r1_verl.visualize import (
    GalleryEntry,
    VideoWriter,
    gallery_dir,
    gallery_images,
    render_entry_card,
    write_gallery,
    write_gallery_index,
)
from omni_r1_verl.visualize.gallery import format_value

HOSTILE = "<script>alert(1)</script>"


def _entry(clip, tmp_path=None, **kwargs) -> GalleryEntry:
    args = dict(
        title=f"sample {HOSTILE}",
        query="find the box & the disc",
        answer='<think>hm</think><answer>[{"start_time": 1}]</answer></pre><img src=x onerror=alert(1)>',
        score=1.2345,
        terms={"r_k": 0.5, "r_a": float("nan"), "format": 1},
        timeline=np.full((120, 400, 3), 200, np.uint8),
        frames=[clip.pixels[0], clip.pixels[5]],
        frame_captions=["K1 \u00b7 0.00 s"],
        details={"sample_id": "vid/1", "status": "ok"},
    )
    args.update(kwargs)
    return GalleryEntry(**args)


def test_gallery_folder_files_and_counts(clip, tmp_path):
    directory = gallery_dir(tmp_path / "run", 40)
    assert directory == tmp_path / "run" / "rollout_gallery" / "step_40"
    entries = [_entry(clip), _entry(clip, title="second", timeline=None, frames=[], score=None)]
    page = write_gallery(directory, entries, "Rollouts at step 40", subtitle="run x")
    text = page.read_text()
    assert page == directory / "index.html"
    assert 'data-images="3"' in text and 'data-images-loaded="0"' in text
    assert text.count('onload="omniImage(true)"') == text.count('onerror="omniImage(false)"') == 3
    for name in re.findall(r'<img src="([^"]+)"', text):
        assert (directory / name).is_file()
    assert Image.open(directory / "images/000_timeline.png").size == (400, 120)
    assert Image.open(directory / "images/000_frame_1.jpg").size == clip.pixels.shape[2:0:-1]
    assert "K1 \u00b7 0.00 s" in text and "frame 2" in text  # given caption, then the default one
    assert 'id="entry-2"' in text and "Rollouts at step 40" in text and "run x" in text
    assert ">1.234<" in text or ">1.235<" in text
    assert "nan" in text and "\u2013" in text  # NaN term spelled out, missing score as a dash


def test_text_is_escaped(clip, tmp_path):
    text = write_gallery(tmp_path / "g", [_entry(clip)], f"heading {HOSTILE}").read_text()
    assert HOSTILE not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script>") == 1  # the image counter only


def test_large_frames_are_downscaled_and_videos_copied(clip, tmp_path):
    video = tmp_path / "overlay.mp4"
    with VideoWriter(video, clip.fps) as writer:
        for t in range(3):
            writer.write(clip.pixels[t])
    big = np.zeros((400, 1200, 3), np.uint8)
    directory = tmp_path / "g"
    text = write_gallery(directory, [_entry(clip, frames=[big], video=video)], "h", frame_width=300).read_text()
    assert Image.open(directory / "images/000_frame_0.jpg").size == (300, 100)
    assert (directory / "videos/000.mp4").read_bytes() == video.read_bytes()
    assert 'src="videos/000.mp4"' in text and 'poster="images/000_frame_0.jpg"' in text
    inside = directory / "overlay.mp4"
    inside.write_bytes(video.read_bytes())
    text = write_gallery(directory, [_entry(clip, video=inside)], "h").read_text()
    assert 'src="overlay.mp4"' in text


def test_empty_gallery_and_the_step_index(clip, tmp_path):
    root = tmp_path / "rollout_gallery"
    for step in (5, 100, 20):
        write_gallery(root / f"step_{step}", [], f"step {step}")
    (root / "step_7").mkdir()  # no page: not listed
    assert "No samples." in (root / "step_5" / "index.html").read_text()
    text = write_gallery_index(root).read_text()
    assert re.findall(r'href="(step_\d+)/index.html"', text) == ["step_100", "step_20", "step_5"]


def test_logger_images(clip):
    plain = render_entry_card(_entry(clip, timeline=None, frames=[]), width=600)
    full = render_entry_card(_entry(clip), width=600)
    assert plain.shape[1] == full.shape[1] == 600 and plain.dtype == np.uint8
    # The timeline (400 wide -> 572) and a row of two frames add their heights.
    assert full.shape[0] - plain.shape[0] >= round(120 * 572 / 400) + round(96 * 282 / 128)
    images = gallery_images([_entry(clip), _entry(clip, title="b", score=None)], width=500)
    assert [caption for caption, _ in images] == [f"sample {HOSTILE} (score 1.234)", "b (score \u2013)"]
    assert all(img.shape[1] == 500 and img.shape[2] == 3 for _, img in images)


def test_format_value():
    assert format_value(None) == "\u2013"
    assert format_value(0.5) == "0.500" and format_value(np.float32(0.25)) == "0.250"
    assert format_value(3) == "3" and format_value(np.int64(4)) == "4"
    assert format_value(float("inf")) == "inf" and format_value(True) == "True"
    assert format_value("ok") == "ok"
