"""Write and read MP4 files with PyAV: frames go in one at a time, so a long video is never held in memory.

Video is H.264 (``libx264``, ``yuv420p``, plays in every browser) when the installed PyAV wheel has the encoder,
else MPEG-4 part 2; constant frame rate, frame ``i`` at ``i / fps``. 4:2:0 chroma needs even sides, so an odd-sized
frame gets its last row / column repeated (:attr:`VideoInfo.padded`). An optional mono track is muxed as AAC.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from omni_r1_verl.data.media import MediaError
from omni_r1_verl.visualize.draw import check_image
from omni_r1_verl.visualize.types import Audio


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    Attributes:
        path: The file.
        num_frames: Frames written (writer) or recorded in the header (probe; 0 when unrecorded).
        fps: Frame rate.
        width: Encoded width.
        height: Encoded height.
        codec: Video codec name.
        has_audio: An audio track is present.
        padded: The writer repeated the last row / column to make the sides even.
    """

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    codec: str
    has_audio: bool = False
    padded: bool = False


@functools.lru_cache(maxsize=1)
def h264_encoder() -> str:
    """``"libx264"`` when the PyAV build can encode H.264, else ``"mpeg4"``."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # noqa: BLE001 - av raises UnknownCodecError (varies across versions)
        return "mpeg4"


def frame_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact rate (``29.97002997`` -> ``30000/1001``); a ``ValueError`` unless finite and > 0."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        value = float(fps)
        if not math.isfinite(value):
            raise ValueError(f"frame rate must be finite, got {fps!r}")
        rate = Fraction(value).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"frame rate must be > 0, got {fps!r}")
    return rate


class VideoWriter:
    """Encode RGB frames to an MP4 file, one :meth:`write` per frame.

    The file is opened on the first frame (its size fixes the video's size) and finished by :meth:`close`; used as
    a context manager, a failure inside the block removes the partial file.

    Args:
        path: Output file (parent folders are created).
        fps: Frame rate.
        codec: Encoder name; default :func:`h264_encoder`.
        crf: H.264 constant rate factor (lower = better; 18 looks lossless to most eyes).
        preset: x264 speed preset (``ultrafast`` encodes about 5x faster than ``veryfast`` into files about 1.5x
            larger).
        audio: Mono track muxed as AAC, trimmed to the video's length.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        *,
        codec: str | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        audio: Audio | None = None,
    ) -> None:
        self.path = Path(path)
        self.rate = frame_rate(fps)
        self.codec = codec or h264_encoder()
        self.crf = int(crf)
        self.preset = preset
        self.audio = audio
        self._container = None
        self._stream = None
        self._audio_stream = None
        self._size: tuple[int, int] | None = None
        self._count = 0
        self._info: VideoInfo | None = None

    def _open(self, height: int, width: int) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", options={"movflags": "+faststart"})
        stream = self._container.add_stream(self.codec, rate=self.rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        if self.codec in ("libx264", "h264"):
            stream.options = {"crf": str(self.crf), "preset": self.preset}
        else:
            stream.bit_rate = int(stream.width * stream.height * float(self.rate) * 0.3)
        self._stream = stream
        self._size = (height, width)
        if self.audio is not None and len(self.audio.samples):
            rate = int(self.audio.sample_rate)
            self._audio_stream = self._container.add_stream("aac", rate=rate, layout="mono")

    def write(self, image: np.ndarray) -> None:
        """Append one ``uint8 (H, W, 3)`` RGB frame (every frame the size of the first)."""
        import av

        check_image(image, f"frame {self._count}")
        if self._info is not None:
            raise RuntimeError(f"{self.path}: write after close")
        h, w = image.shape[:2]
        if self._container is None:
            self._open(h, w)
        elif (h, w) != self._size:
            raise ValueError(f"frame {self._count} is {h}x{w}, the video is {self._size[0]}x{self._size[1]}")
        if h % 2 or w % 2:
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self._count
        self._container.mux(self._stream.encode(frame))
        self._count += 1

    def _mux_audio(self) -> None:
        import av

        audio, stream = self.audio, self._audio_stream
        rate = int(audio.sample_rate)
        n = min(len(audio.samples), int(round(self._count / self.rate * rate)))
        samples = np.clip(np.asarray(audio.samples[:n], dtype=np.float32), -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate, frame_size=stream.frame_size or 1024)
        pts = 0
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            chunk.pts = pts
            pts += chunk.samples
            self._container.mux(stream.encode(chunk))
        self._container.mux(stream.encode(None))

    def close(self) -> VideoInfo:
        """Flush the encoder and finish the file.

        Returns:
            What was written.

        Raises:
            ValueError: If no frame was written (no file is left behind).
        """
        if self._info is not None:
            return self._info
        if self._container is None:
            raise ValueError(f"{self.path}: no frames to write")
        self._container.mux(self._stream.encode(None))
        has_audio = self._audio_stream is not None
        if has_audio:
            self._mux_audio()
        self._container.close()
        h, w = self._size
        self._info = VideoInfo(
            path=self.path,
            num_frames=self._count,
            fps=float(self.rate),
            width=self._stream.width,
            height=self._stream.height,
            codec=self.codec,
            has_audio=has_audio,
            padded=bool(h % 2 or w % 2),
        )
        return self._info

    def abort(self) -> None:
        """Stop without finishing the file and remove it."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is being discarded
                pass
        self._container = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def iter_video(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video's frames as ``uint8 (H, W, 3)`` RGB arrays, in order.

    Raises:
        MediaError: If the file is missing, has no video stream or cannot be decoded.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream")
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 - PyAV raises many error types
        raise MediaError(f"cannot decode video {path}: {err}") from err


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a (short) video and its frame rate.

    Returns:
        ``frames`` ``uint8 (T, H, W, 3)`` and ``fps``.
    """
    frames = list(iter_video(path))
    if not frames:
        raise MediaError(f"{path} has no frames")
    return np.stack(frames), probe_video(path).fps


def probe_video(path: str | Path) -> VideoInfo:
    """Header facts of a video file (cheap; nothing is decoded)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream")
            stream = container.streams.video[0]
            return VideoInfo(
                path=Path(path),
                num_frames=int(stream.frames or 0),
                fps=float(stream.average_rate or 0.0),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
                has_audio=bool(container.streams.audio),
            )
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001
        raise MediaError(f"cannot read video {path}: {err}") from err
