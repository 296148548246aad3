"""Typed knobs of the System-1 inputs (``data.omni_r1`` in the recipe), validated when the dataset starts.

Loaded through :func:`omni_r1_verl.utils.config.build` like every config section (unknown keys are errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from omni_r1_verl.contracts.clip import VIRTUAL_FPS
from omni_r1_verl.data.sampling import MAX_FRAMES, MIN_FRAMES
from omni_r1_verl.utils.config import ConfigError, build
from omni_r1_verl.utils.vision import (
    IMAGE_FACTOR,
    IMAGE_MAX_PIXELS,
    IMAGE_MIN_PIXELS,
    VIDEO_FRAME_MAX_PIXELS,
    VIDEO_FRAME_MIN_PIXELS,
)

#: Temporal patch of the Qwen vision tower: with fps = 2 one temporal grid step is one second.
_TEMPORAL_PATCH = 2


@dataclass(frozen=True)
class OmniDataConfig:
    """What System 1 is shown, and how it is prepared.

    Attributes:
        seed: Run-level seed of every per-sample draw (clip length, prompt example times).
        min_frames: Fewest frames of a training clip; videos with at most this many frames are used whole.
        max_frames: Most frames of a training clip.
        fps: Virtual frame rate System 1 is told: sampled frame k sits at ``k / fps`` seconds.
        video_min_pixels: Smallest per-frame area of video frames after resizing.
        video_max_pixels: Largest per-frame area of video frames after resizing (the paper's low resolution).
        image_min_pixels: Smallest area of images (RefAVS frame 0, refCOCOg) after resizing.
        image_max_pixels: Largest area of images after resizing.
        max_audio_seconds: Audio beyond this is cut (Whisper's window is 30 s).
        prompt_forcing: VOS prompt with the 4-moment JSON example (the released recipe).
        media_cache_size: Decoded samples kept per rollout worker, so the G rollouts of a prompt decode it once.
    """

    SECTION: ClassVar[str] = "data.omni_r1"

    seed: int = 0
    min_frames: int = MIN_FRAMES
    max_frames: int = MAX_FRAMES
    fps: float = VIRTUAL_FPS
    video_min_pixels: int = VIDEO_FRAME_MIN_PIXELS
    video_max_pixels: int = VIDEO_FRAME_MAX_PIXELS
    image_min_pixels: int = IMAGE_MIN_PIXELS
    image_max_pixels: int = IMAGE_MAX_PIXELS
    max_audio_seconds: float = 30.0
    prompt_forcing: bool = True
    media_cache_size: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.min_frames <= self.max_frames:
            raise ConfigError(
                f"min_frames={self.min_frames}, max_frames={self.max_frames}: need 1 <= min_frames <= max_frames"
            )
        if self.fps <= 0:
            raise ConfigError(f"fps={self.fps}: must be positive")
        for lo, hi in (("video_min_pixels", "video_max_pixels"), ("image_min_pixels", "image_max_pixels")):
            low, high = getattr(self, lo), getattr(self, hi)
            if not IMAGE_FACTOR * IMAGE_FACTOR <= low <= high:
                raise ConfigError(f"{lo}={low}, {hi}={high}: need {IMAGE_FACTOR}^2 <= {lo} <= {hi}")
        if not 0 < self.max_audio_seconds <= 30:
            raise ConfigError(f"max_audio_seconds={self.max_audio_seconds}: must be in (0, 30] (Whisper's window)")
        if self.media_cache_size < 0:
            raise ConfigError(f"media_cache_size={self.media_cache_size}: must be >= 0")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> OmniDataConfig:
        """Build from the ``data.omni_r1`` section (a dict or OmegaConf node); unknown keys are errors.

        Args:
            values: The section, or None for the defaults.

        Returns:
            The validated config.

        Raises:
            ConfigError: On unknown keys or invalid values.
        """
        return build(cls, values)

    def check_processor_kwargs(self, mm_processor_kwargs: Mapping[str, Any]) -> None:
        """Check ``data.mm_processor_kwargs`` agrees with these settings (both reach the processor and vLLM).

        Args:
            mm_processor_kwargs: verl's ``data.mm_processor_kwargs``.

        Raises:
            ConfigError: When frames would be resized twice, or the processor's fps differs from ours, or
                ``use_audio_in_video`` is combined with an fps vLLM 0.24 cannot interleave.
        """
        if mm_processor_kwargs.get("do_resize", True) is not False:
            raise ConfigError(
                "set data.mm_processor_kwargs.do_resize=false: frames and images are already resized to the "
                "data.omni_r1 pixel budget, and the processor would resize them again to its own"
            )
        proc_fps = float(mm_processor_kwargs.get("fps", 2.0))
        if proc_fps != self.fps:
            raise ConfigError(
                f"data.mm_processor_kwargs.fps={proc_fps} differs from data.omni_r1.fps={self.fps}; "
                "set both (the processor derives seconds per temporal grid step from it)"
            )
        if mm_processor_kwargs.get("use_audio_in_video") and _TEMPORAL_PATCH / self.fps != 1.0:
            raise ConfigError(
                "use_audio_in_video needs fps=2.0: vLLM 0.24 interleaves audio with one second per video grid step "
                f"unless told otherwise, and data.omni_r1.fps={self.fps} gives {_TEMPORAL_PATCH / self.fps} s"
            )
