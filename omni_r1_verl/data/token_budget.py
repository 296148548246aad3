"""Exact Qwen2.5-Omni prompt lengths from media sizes alone, without decoding media or running the processor.

The over-long prompt filter must bound every clip a row can produce (16 to 24 frames, different each epoch) for
thousands of rows at start-up; decoding every video for that would take longer than the training step it protects.
These formulas are the processor's own arithmetic (``tests/data/test_token_budget.py`` checks them against
``Qwen2_5OmniProcessor``):

* a frame or image of ``h x w`` is resized by :func:`~omni_r1_verl.utils.vision.smart_resize` (our loaders do it; the
  processor runs with ``do_resize=False``) and gives ``(h'/28) * (w'/28)`` tokens (14-pixel patches merged 2 x 2);
* a video of ``T`` frames has ``ceil(T / 2)`` temporal grid steps (frames are paired);
* ``n`` audio samples at 16 kHz give ``L = ceil(min(n, 30 s) / 160)`` Whisper frames and
  ``((L - 1) // 2 + 1 - 2) // 2 + 1`` tokens;
* each media item adds its tokens in place of its one placeholder token; a video interleaved with its audio track
  also adds ``<|audio_bos|>`` and ``<|audio_eos|>`` inside the video's ``<|vision_bos|> ... <|vision_eos|>``.

Pure module: no numpy, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from omni_r1_verl.utils.vision import IMAGE_FACTOR, smart_resize

#: Frames per temporal patch of the Qwen vision tower.
TEMPORAL_PATCH_SIZE = 2
#: Whisper feature-extractor hop (samples per feature frame at 16 kHz).
WHISPER_HOP_LENGTH = 160
#: Whisper window: audio beyond 30 s is cut by the feature extractor.
WHISPER_MAX_SAMPLES = 30 * 16_000


def frame_tokens(height: int, width: int, min_pixels: int, max_pixels: int) -> int:
    """Tokens of one image, or of one frame pair of a video, at the given pixel budget.

    Args:
        height: Original height in pixels.
        width: Original width in pixels.
        min_pixels: Smallest area after resizing.
        max_pixels: Largest area after resizing.

    Returns:
        ``(h' / 28) * (w' / 28)``.
    """
    h, w = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // IMAGE_FACTOR) * (w // IMAGE_FACTOR)


def video_tokens(num_frames: int, height: int, width: int, min_pixels: int, max_pixels: int) -> int:
    """Tokens of a video of ``num_frames`` frames.

    Args:
        num_frames: Frames given to the processor (odd counts are padded by repeating the last frame).
        height: Original frame height.
        width: Original frame width.
        min_pixels: Smallest per-frame area after resizing.
        max_pixels: Largest per-frame area after resizing.

    Returns:
        ``ceil(num_frames / 2) * frame_tokens``.
    """
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    return math.ceil(num_frames / TEMPORAL_PATCH_SIZE) * frame_tokens(height, width, min_pixels, max_pixels)


def whisper_frames(num_samples: int) -> int:
    """Whisper feature frames the processor keeps for ``num_samples`` samples at 16 kHz (its attention mask length).

    Args:
        num_samples: Waveform length.

    Returns:
        ``ceil(min(num_samples, 480000) / 160)``.
    """
    return math.ceil(min(num_samples, WHISPER_MAX_SAMPLES) / WHISPER_HOP_LENGTH)


def audio_tokens(num_samples: int) -> int:
    """``<|AUDIO|>`` tokens of a waveform of ``num_samples`` samples at 16 kHz.

    Args:
        num_samples: Waveform length.

    Returns:
        The token count (0 for clips shorter than about 20 ms, which the model cannot represent).
    """
    frames = whisper_frames(num_samples)
    return max(0, ((frames - 1) // 2 + 1 - 2) // 2 + 1)


@dataclass
class MediaTokens:
    """The media of one prompt, as token counts.

    Attributes:
        images: Tokens of each image.
        videos: Tokens of each video (vision part only).
        audios: Tokens of each standalone audio item.
        audio_in_video: Tokens of each audio track interleaved with a video (one per interleaved video).
    """

    images: list[int] = field(default_factory=list)
    videos: list[int] = field(default_factory=list)
    audios: list[int] = field(default_factory=list)
    audio_in_video: list[int] = field(default_factory=list)

    @property
    def num_placeholders(self) -> int:
        """Placeholder tokens the chat template writes for these items (one per image, video, standalone audio)."""
        return len(self.images) + len(self.videos) + len(self.audios)


def prompt_tokens(template_tokens: int, media: MediaTokens) -> int:
    """Length of the expanded prompt.

    Args:
        template_tokens: Length of the chat-template rendering with one placeholder token per media item.
        media: Token counts of the media.

    Returns:
        The number of ids the processor produces.
    """
    interleave_markers = 2 * len(media.audio_in_video)
    media_total = sum(media.images) + sum(media.videos) + sum(media.audios) + sum(media.audio_in_video)
    return template_tokens - media.num_placeholders + media_total + interleave_markers


def worst_case_frames(num_frames: int, min_frames: int, max_frames: int, train: bool) -> int:
    """Most frames a clip of this video can have (see :func:`omni_r1_verl.data.sampling.sample_clip_indices`).

    Args:
        num_frames: Frames of the full video.
        min_frames: Smallest training clip; shorter videos are used whole.
        max_frames: Largest training clip.
        train: False means every frame (evaluation).

    Returns:
        The largest clip length.
    """
    if not train or num_frames <= min_frames:
        return num_frames
    return min(max_frames, num_frames)


def clip_lengths(num_frames: int, min_frames: int, max_frames: int, train: bool) -> Sequence[int]:
    """Every clip length a row can produce (the prompt text depends on it through ``[frames] seconds``).

    Args:
        num_frames: Frames of the full video.
        min_frames: Smallest training clip.
        max_frames: Largest training clip.
        train: False means every frame.

    Returns:
        The possible lengths, ascending.
    """
    if not train or num_frames <= min_frames:
        return [num_frames]
    return list(range(min_frames, min(max_frames, num_frames) + 1))
