"""Frame and audio loading for System 1 (low resolution) and System 2 (original resolution).

All paths are resolved under the dataset root by the caller (:func:`omni_r1_verl.data.schema.resolve_under_root`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from omni_r1_verl.utils.vision import VIDEO_FRAME_MAX_PIXELS, VIDEO_FRAME_MIN_PIXELS, smart_resize

#: Sample rate of Qwen2.5-Omni's audio encoder (Whisper features).
AUDIO_SAMPLE_RATE = 16_000


class MediaError(RuntimeError):
    """A frame or audio file is missing or cannot be decoded (the message names the file)."""


def load_image(path: str | Path) -> Image.Image:
    """Open an image as RGB (RGBA composited on white, as Qwen's utilities do).

    Args:
        path: Image file.

    Returns:
        The RGB image, fully loaded.

    Raises:
        MediaError: If the file is missing or not a decodable image.
    """
    return _open_rgb(path)


def _open_rgb(path: str | Path, target: tuple[int, int] | None = None) -> Image.Image:
    """Decode ``path`` as RGB; with ``target`` = (w, h), JPEGs decode at the smallest DCT scale still >= target."""
    try:
        with Image.open(path) as img:
            if target is not None and img.format == "JPEG":
                img.draft("RGB", target)  # 1/2, 1/4 or 1/8 scale decode: several times faster, never below target
            img.load()
            if img.mode == "RGBA":
                background = Image.new("RGB", img.size, (255, 255, 255))
                background.paste(img, mask=img.split()[3])
                return background
            return img if img.mode == "RGB" else img.convert("RGB")  # loaded: usable after the file closes
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot read image {path}: {err}") from err


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image from its header, without decoding pixels.

    Raises:
        MediaError: If the file is missing or not an image.
    """
    try:
        with Image.open(path) as img:
            return img.height, img.width
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot read image {path}: {err}") from err


def load_frames(
    paths: Sequence[str | Path],
    min_pixels: int = VIDEO_FRAME_MIN_PIXELS,
    max_pixels: int = VIDEO_FRAME_MAX_PIXELS,
) -> np.ndarray:
    """Decode frames and resize them all to the System-1 budget (size taken from the first frame).

    JPEGs are decoded directly at the smallest DCT scale (1/2, 1/4, 1/8) that is still at least the target size,
    then resized: for 720p sources this is several times faster than decoding at full size, with the same
    output size (``benchmarks/data_pipeline.py`` measures it).

    Args:
        paths: Frame image files in temporal order.
        min_pixels: Smallest per-frame area after resizing.
        max_pixels: Largest per-frame area after resizing.

    Returns:
        ``uint8`` array ``(T, H, W, 3)`` with ``H`` and ``W`` multiples of 28.

    Raises:
        MediaError: If a frame is missing or corrupt.
    """
    if not paths:
        raise MediaError("no frames to load")
    first_h, first_w = image_size(paths[0])
    h, w = smart_resize(first_h, first_w, min_pixels=min_pixels, max_pixels=max_pixels)
    out = np.empty((len(paths), h, w, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        img = _open_rgb(path, target=(w, h))
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        out[i] = np.asarray(img)
    return out


def load_audio(path: str | Path, sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """Load a mono waveform at ``sample_rate`` from an audio file or from a video container's audio track.

    Args:
        path: ``.wav``/``.flac``/... file, or a video file with an audio stream.
        sample_rate: Target rate in Hz.

    Returns:
        ``float32`` array in ``[-1, 1]``.

    Raises:
        MediaError: If the file is missing, has no audio stream, or cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"audio file not found: {path}")
    try:
        import soundfile as sf

        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        wave = data.mean(axis=1)
    except Exception:  # noqa: BLE001 - not a format libsndfile reads (e.g. mp4): decode with PyAV
        return _load_audio_av(path, sample_rate)
    if rate != sample_rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), int(sample_rate))
        wave = resample_poly(wave, sample_rate // g, int(rate) // g).astype(np.float32)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _load_audio_av(path: Path, sample_rate: int) -> np.ndarray:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path} has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 - PyAV raises many error types
        raise MediaError(f"cannot decode audio of {path}: {err}") from err
    if not chunks:
        raise MediaError(f"{path} has an empty audio stream")
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)
