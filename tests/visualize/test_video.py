"""The MP4 writer keeps frame count and rate, pads odd sizes, muxes audio, and leaves no partial files."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from omni_r1_verl.data.media import MediaError, load_audio
from omni_r1_verl.visualize import Audio, VideoWriter, h264_encoder, iter_video, probe_video, read_video
from omni_r1_verl.visualize.video import frame_rate


def _frames(n: int, h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    base = (60 + 120 * xs / w).astype(np.uint8)
    return np.stack([np.dstack([base, np.full_like(base, 20 * t), base[::-1]]) for t in range(n)])


def test_h264_is_available_in_the_locked_wheel():
    assert h264_encoder() == "libx264"


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_frame_count_rate_and_content_survive(codec, tmp_path):
    frames = _frames(9, 48, 64)
    with VideoWriter(tmp_path / "v.mp4", 30000 / 1001, codec=codec) as writer:
        for f in frames:
            writer.write(f)
    info = writer.close()
    decoded, fps = read_video(tmp_path / "v.mp4")
    assert info.num_frames == len(decoded) == 9 and not info.padded
    assert fps == pytest.approx(30000 / 1001) and info.fps == pytest.approx(30000 / 1001)
    assert probe_video(tmp_path / "v.mp4").codec == ("h264" if codec == "libx264" else "mpeg4")
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 6


def test_odd_sizes_are_padded_by_repeating_the_edge(tmp_path):
    frames = _frames(3, 33, 47)
    with VideoWriter(tmp_path / "odd.mp4", 5) as writer:
        for f in frames:
            writer.write(f)
    assert writer.close().padded
    decoded, _ = read_video(tmp_path / "odd.mp4")
    assert decoded.shape == (3, 34, 48, 3)
    assert np.abs(decoded[:, :33, :47].astype(int) - frames.astype(int)).mean() < 6


def test_audio_track_is_muxed_and_trimmed_to_the_video(tmp_path):
    rate = 16_000
    tone = (0.4 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
    with VideoWriter(tmp_path / "a.mp4", 10, audio=Audio(tone, rate)) as writer:
        for f in _frames(10, 32, 32):  # 1 s of video, 3 s of audio
            writer.write(f)
    assert writer.close().has_audio and probe_video(tmp_path / "a.mp4").has_audio
    decoded = load_audio(tmp_path / "a.mp4", rate)
    assert 0.9 * rate <= len(decoded) <= 1.15 * rate  # AAC rounds up to whole 1024-sample frames
    assert 0.3 < np.abs(decoded).max() < 0.5


def test_failures_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        VideoWriter(tmp_path / "empty.mp4", 5).close()
    assert not (tmp_path / "empty.mp4").exists()
    with pytest.raises(ValueError, match="the video is 32x32"):
        with VideoWriter(tmp_path / "broken.mp4", 5) as writer:
            writer.write(_frames(1, 32, 32)[0])
            writer.write(_frames(1, 32, 48)[0])
    assert not (tmp_path / "broken.mp4").exists()
    with pytest.raises(ValueError, match="uint8"):
        VideoWriter(tmp_path / "f.mp4", 5).write(np.zeros((8, 8, 3), np.float64))


def test_frame_rate_and_reader_errors(tmp_path):
    assert frame_rate(29.97002997) == Fraction(30000, 1001)
    assert frame_rate(Fraction(25, 1)) == 25 and frame_rate(2) == 2
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            frame_rate(bad)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(MediaError, match="junk.mp4"):
        list(iter_video(tmp_path / "junk.mp4"))
    with pytest.raises(MediaError, match="missing.mp4"):
        probe_video(tmp_path / "missing.mp4")
