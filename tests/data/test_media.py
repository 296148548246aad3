"""Frame and audio loading."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from omni_r1_verl.data.media import MediaError, load_audio, load_frames, load_image


def test_frames_are_resized_to_the_system1_budget(tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"{i}.jpg"
        Image.fromarray(np.full((720, 1280, 3), 50 * i, np.uint8)).save(p)
        paths.append(p)
    frames = load_frames(paths)
    assert frames.shape == (3, 196, 364, 3) and frames.dtype == np.uint8
    assert abs(int(frames[2].mean()) - 100) <= 2


def test_rgba_is_composited_on_white(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(p)  # fully transparent black
    assert np.asarray(load_image(p)).min() == 255


def test_missing_and_corrupt_frames_name_the_file(tmp_path):
    with pytest.raises(MediaError, match="missing.jpg"):
        load_frames([tmp_path / "missing.jpg"])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(MediaError, match="bad.jpg"):
        load_image(bad)


def test_wav_is_resampled_to_16k_mono(tmp_path):
    rate = 44_100
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1).astype(np.float32)
    sf.write(tmp_path / "a.wav", stereo, rate)
    wave = load_audio(tmp_path / "a.wav")
    assert wave.dtype == np.float32 and wave.shape == (16_000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(int(np.argmax(spectrum)) - 440) <= 2  # 1 s of audio: bin index = Hz


def test_audio_track_of_a_video_container(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    rate = 16_000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    wave = load_audio(path)
    assert 0.9 * rate <= len(wave) <= 1.2 * rate
    spectrum = np.abs(np.fft.rfft(wave[:rate]))
    assert abs(int(np.argmax(spectrum)) * rate / len(wave[:rate]) - 1000) < 20


def test_missing_audio(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        load_audio(tmp_path / "none.wav")


def test_reduced_scale_jpeg_decode_matches_full_decode(tmp_path):
    """load_frames decodes 720p JPEGs at 1/2 scale (DCT domain) before resizing: same size, near-identical pixels."""
    from omni_r1_verl.utils.vision import VIDEO_FRAME_MAX_PIXELS, smart_resize

    yy, xx = np.mgrid[0:720, 0:1280]
    image = np.stack([(xx // 5) % 256, (yy // 3) % 256, ((xx + yy) // 7) % 256], axis=-1).astype(np.uint8)
    path = tmp_path / "f.jpg"
    Image.fromarray(image).save(path, quality=95)
    h, w = smart_resize(720, 1280, max_pixels=VIDEO_FRAME_MAX_PIXELS, min_pixels=1)
    full = np.asarray(load_image(path).resize((w, h), Image.Resampling.BICUBIC)).astype(int)
    fast = load_frames([path])[0].astype(int)
    assert fast.shape == full.shape == (h, w, 3)
    assert np.abs(fast - full).mean() < 2.0


@pytest.mark.parametrize("size", [(360, 640), (100, 120)])  # down- and upscaling
def test_batched_resize_matches_pillow_bicubic(size):
    from omni_r1_verl.data.media import resize_frames

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    smooth = np.stack([(xx * 3) % 256, (yy * 2) % 256, (xx + yy) % 256], axis=-1)
    frames = np.stack([smooth, rng.integers(0, 256, (*size, 3))]).astype(np.uint8)
    out = resize_frames(frames, 196, 364)
    reference = np.stack([np.asarray(Image.fromarray(f).resize((364, 196), Image.Resampling.BICUBIC)) for f in frames])
    assert out.shape == reference.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - reference)
    assert diff.max() <= 2 and diff.mean() < 0.05  # rounding of bicubic overshoot on pure noise, nothing more


def test_frames_of_other_sizes_are_resized_to_the_first_frames_size(tmp_path):
    sizes = [(720, 1280), (360, 640), (720, 1280), (480, 640)]
    paths = []
    for i, (h, w) in enumerate(sizes):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((h, w, 3), 40 * (i + 1), np.uint8)).save(paths[-1])
    frames = load_frames(paths)
    assert frames.shape == (4, 196, 364, 3)
    assert [int(round(f.mean())) for f in frames] == [40, 80, 120, 160]  # each frame stays in its place
