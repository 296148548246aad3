"""Frame and audio loading for System 1 (low resolution) and System 2 (original resolution).

All paths are resolved under the dataset root by the caller (:func:`omni_r1_verl.contracts.rows.resolve_under_root`).
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
    then resized together in one antialiased bicubic ``uint8`` resize (torch's, which matches Pillow's within one
    grey level and is several times faster): for 720p sources this is over twice as fast as decoding at full size
    and resizing frame by frame, with the same output size (``benchmarks/data_pipeline.py`` measures it).

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
    pending: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}  # decoded size -> frames to resize
    for i, path in enumerate(paths):
        img = _open_rgb(path, target=(w, h))
        if img.size == (w, h):
            out[i] = np.asarray(img)
        else:
            pending.setdefault(img.size, []).append((i, np.asarray(img)))
    for group in pending.values():
        indices, arrays = zip(*group)
        out[list(indices)] = resize_frames(np.stack(arrays), h, w)
    return out


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``uint8 (T, H, W, 3)`` frames with antialiased bicubic interpolation (Pillow's ``BICUBIC``).

    Args:
        frames: Frames of one size.
        height: Output height.
        width: Output width.

    Returns:
        ``uint8 (T, height, width, 3)``.
    """
    import torch
    import torch.nn.functional as F

    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    resized = F.interpolate(video, size=(height, width), mode="bicubic", antialias=True)
    return resized.permute(0, 2, 3, 1).contiguous().numpy()


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


def load_video_frames(
    path: str | Path,
    indices: Sequence[int],
    min_pixels: int = VIDEO_FRAME_MIN_PIXELS,
    max_pixels: int = VIDEO_FRAME_MAX_PIXELS,
) -> np.ndarray:
    """Decode the frames at ``indices`` of a video container and resize them to the System-1 budget.

    Args:
        path: Video file (mp4, webm, ...).
        indices: Frame numbers in decoding order, ascending and unique.
        min_pixels: Smallest per-frame area after resizing.
        max_pixels: Largest per-frame area after resizing.

    Returns:
        ``uint8`` array ``(len(indices), H, W, 3)`` with ``H`` and ``W`` multiples of 28.

    Raises:
        MediaError: If the file is missing, has no video stream, or ends before the last index.
    """
    import av

    wanted = sorted(set(int(i) for i in indices))
    if not wanted or wanted[0] < 0 or len(wanted) != len(indices):
        raise MediaError(f"{path}: frame indices must be unique, non-negative and non-empty, got {list(indices)}")
    wanted_set = set(wanted)
    frames: dict[int, Image.Image] = {}
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream")
            for number, frame in enumerate(container.decode(video=0)):
                if number in wanted_set:
                    frames[number] = frame.to_image()
                if number >= wanted[-1]:
                    break
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 - PyAV raises many error types
        raise MediaError(f"cannot decode video {path}: {err}") from err
    missing = [i for i in wanted if i not in frames]
    if missing:
        raise MediaError(f"{path} has no frames {missing[:5]} (it ends after {len(frames)} decoded frames)")
    first = frames[int(indices[0])]
    h, w = smart_resize(first.height, first.width, min_pixels=min_pixels, max_pixels=max_pixels)
    out = np.empty((len(indices), h, w, 3), dtype=np.uint8)
    for k, i in enumerate(indices):
        img = frames[int(i)].convert("RGB")
        out[k] = np.asarray(img if img.size == (w, h) else img.resize((w, h), Image.Resampling.BICUBIC))
    return out


def video_stream_info(path: str | Path) -> tuple[int, float]:
    """Frame count and frame rate of a video container (from its header; cheap).

    Args:
        path: Video file.

    Returns:
        ``(num_frames, fps)``; ``num_frames`` is 0 when the header does not record it.

    Raises:
        MediaError: If the file is missing or has no video stream.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream")
            stream = container.streams.video[0]
            return int(stream.frames or 0), float(stream.average_rate or 0.0)
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001
        raise MediaError(f"cannot read video {path}: {err}") from err


def audio_num_samples(path: str | Path, sample_rate: int = AUDIO_SAMPLE_RATE) -> int:
    """Length in samples at ``sample_rate`` of an audio file or of a video container's audio track, from headers.

    Args:
        path: Audio file or video with an audio stream.
        sample_rate: Rate the waveform will be loaded at.

    Returns:
        The number of samples :func:`load_audio` returns (up to one sample of rounding).

    Raises:
        MediaError: If the file is missing or has no audio.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"audio file not found: {path}")
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return int(round(info.frames * sample_rate / info.samplerate))
    except Exception:  # noqa: BLE001 - not a libsndfile format: read the container header
        pass
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path} has no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                raise MediaError(f"{path}: the audio stream does not record its duration")
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001
        raise MediaError(f"cannot read audio of {path}: {err}") from err
    return int(round(seconds * sample_rate))
