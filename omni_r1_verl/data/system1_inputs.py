"""System-1 inputs of a row: the chat messages for a sampled clip, and the media those messages reference.

:func:`build_system1_messages` turns a prepared row (``docs/architecture.md`` §1) and an epoch into the messages
verl's agent loop tokenizes, plus the clip record (§3). Media are referenced, never embedded: each media item of a
message carries absolute paths (confined to the dataset root when the row is read) and the budget to load it at, so
rows stay small in Ray and TransferQueue. :func:`load_item_media` decodes one item in the rollout worker.

Message items (``type`` is the only key the chat template reads):

* ``{"type": "video", "video": [frame files] | container file, "frame_indices": [...] (containers only),
  "min_pixels", "max_pixels", "fps", "audio_in_video": {"path", "start", "end"} (optional)}``
* ``{"type": "audio", "audio": file, "start": s | None, "end": s | None}``
* ``{"type": "image", "image": file, "min_pixels", "max_pixels"}``

Pure module: numpy and PIL only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omni_r1_verl.contracts.prompts import render_refavs_prompt, render_segzero_prompt, render_vos_prompt
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task, resolve_under_root
from omni_r1_verl.data.media import (
    AUDIO_SAMPLE_RATE,
    MediaError,
    audio_num_samples,
    load_audio,
    load_frames,
    load_image,
    load_video_frames,
)
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.sampling import sample_clip_indices, stable_seed
from omni_r1_verl.utils.vision import smart_resize

#: Key of a video item that carries the video's own audio track, interleaved (``use_audio_in_video``).
AUDIO_IN_VIDEO_KEY = "audio_in_video"
#: Temporal patch of the vision tower: odd frame counts are padded by repeating the last frame.
_FRAME_FACTOR = 2


class RowError(ValueError):
    """A prepared row is malformed (bad JSON, unsafe or missing media, unknown task); the message says why."""


@dataclass
class RowMedia:
    """The parsed, path-confined contents of one row.

    Attributes:
        sample_id: Unique key of the row.
        task: The task.
        gt: Ground-truth summary.
        media: Media reference (relative paths).
        root: Dataset root.
        expression: The referring expression.
        train: Whether clips are sampled (training split) or every frame is used.
    """

    sample_id: str
    task: Task
    gt: GroundTruth
    media: MediaRef
    root: Path
    expression: str
    train: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RowMedia:
        """Parse the row columns this module needs.

        Args:
            row: A row of the prepared parquet (``reward_model``, ``extra_info`` ...).

        Returns:
            The parsed row.

        Raises:
            RowError: When a field is missing or malformed.
        """
        try:
            extra = row["extra_info"]
            gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
            media = MediaRef.from_json(extra["media"])
            root = Path(extra["dataset_root"])
            return cls(
                sample_id=str(extra["sample_id"]),
                task=gt.task,
                gt=gt,
                media=media,
                root=root,
                expression=str(extra["expression"]),
                train=str(extra.get("split", "train")) == "train",
            )
        except (KeyError, TypeError, ValueError) as err:
            raise RowError(f"malformed row: {type(err).__name__}: {err}") from err

    def path(self, relative: str) -> Path:
        """Absolute path of a media file of this row, confined to the dataset root.

        Args:
            relative: A path stored in the row.

        Returns:
            The path.

        Raises:
            RowError: If it escapes the root.
        """
        try:
            return resolve_under_root(self.root, relative)
        except ValueError as err:
            raise RowError(str(err)) from err

    def audio_source(self) -> Path | None:
        """The file holding this row's audio (separate file, or the video container), or None."""
        if self.media.audio:
            return self.path(self.media.audio)
        if self.media.audio_in_video:
            return self.path(self.media.frames[0])
        return None


def _audio_span(row: RowMedia, indices: np.ndarray) -> tuple[float | None, float | None]:
    """Real-time span of a clip (seconds) when the native frame rate is known, else the whole track."""
    if row.media.fps <= 0:
        return None, None
    return float(indices[0]) / row.media.fps, float(indices[-1] + 1) / row.media.fps


def build_system1_messages(
    row: dict[str, Any], epoch: int, config: OmniDataConfig, use_audio_in_video: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The System-1 chat messages of a row for one epoch, and the clip they show.

    Args:
        row: A prepared row.
        epoch: Training epoch (selects the clip length and the prompt's example times).
        config: The ``data.omni_r1`` settings.
        use_audio_in_video: Interleave a video's audio track with its frames (else the track is a separate item).

    Returns:
        ``(messages, clip)``; ``clip = {"frame_indices": [...], "fps": fps}`` (frame 0 for image tasks).

    Raises:
        RowError: When the row is malformed.
    """
    parsed = RowMedia.from_row(row)
    rng = random.Random(stable_seed("prompt", config.seed, epoch, parsed.sample_id))
    content: list[dict[str, Any]] = []
    audio = parsed.audio_source()
    if parsed.task is Task.VOS:
        indices = sample_clip_indices(
            parsed.gt.num_frames,
            key=parsed.sample_id,
            epoch=epoch,
            seed=config.seed,
            min_frames=config.min_frames,
            max_frames=config.max_frames,
            train=parsed.train,
        )
        video: dict[str, Any] = {
            "type": "video",
            "min_pixels": config.video_min_pixels,
            "max_pixels": config.video_max_pixels,
            "fps": config.fps,
        }
        if parsed.media.audio_in_video:
            video["video"] = str(parsed.path(parsed.media.frames[0]))
            video["frame_indices"] = indices.tolist()
        else:
            if len(parsed.media.frames) != parsed.gt.num_frames:
                raise RowError(f"{len(parsed.media.frames)} frame files for {parsed.gt.num_frames} GT frames")
            video["video"] = [str(parsed.path(parsed.media.frames[k])) for k in indices]
        content.append(video)
        if audio is not None:
            start, end = _audio_span(parsed, indices)
            if use_audio_in_video:
                video[AUDIO_IN_VIDEO_KEY] = {"path": str(audio), "start": start, "end": end}
            else:
                content.append({"type": "audio", "audio": str(audio), "start": start, "end": end})
        text = render_vos_prompt(parsed.expression, len(indices), forced=config.prompt_forcing, rng=rng, fps=config.fps)
        frame_indices = indices.tolist()
    elif parsed.task in (Task.AVS, Task.IMAGE_GROUNDING):
        if parsed.media.audio_in_video or not parsed.media.frames:
            raise RowError(f"{parsed.task.value} rows need frame-0 image files, got {parsed.media}")
        if parsed.task is Task.AVS:
            if audio is None:
                raise RowError("avs rows need an audio file")
            content.append({"type": "audio", "audio": str(audio), "start": None, "end": None})
            text = render_refavs_prompt(parsed.expression)
        else:
            text = render_segzero_prompt(parsed.expression)
        content.append(
            {
                "type": "image",
                "image": str(parsed.path(parsed.media.frames[0])),
                "min_pixels": config.image_min_pixels,
                "max_pixels": config.image_max_pixels,
            }
        )
        frame_indices = [0]
    else:  # pragma: no cover - Task is a closed enum
        raise RowError(f"unknown task {parsed.task}")
    content.append({"type": "text", "text": text})
    messages = [m for m in (row.get("prompt") or []) if isinstance(m, dict) and m.get("role") == "system"]
    messages.append({"role": "user", "content": content})
    return messages, {"frame_indices": frame_indices, "fps": config.fps}


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    if len(frames) % _FRAME_FACTOR == 0:
        return frames
    return np.concatenate([frames, frames[-1:]], axis=0)


def load_segment(path: str, start: float | None, end: float | None, max_seconds: float) -> np.ndarray:
    """A 16 kHz mono waveform, optionally cut to ``[start, end)`` seconds, at most ``max_seconds`` long.

    The waveform never exceeds the length the file header declares (decoders may append a few padding samples, e.g.
    AAC priming), so the prompt-length guard, which reads headers only, is exact.

    Args:
        path: Audio file or video container.
        start: Segment start, or None for the beginning.
        end: Segment end, or None for the end.
        max_seconds: Longest waveform returned.

    Returns:
        ``float32`` samples.

    Raises:
        MediaError: If the file cannot be decoded or the segment is empty.
    """
    wave = load_audio(path, AUDIO_SAMPLE_RATE)
    declared = audio_num_samples(path, AUDIO_SAMPLE_RATE)
    lo = 0 if start is None else int(round(start * AUDIO_SAMPLE_RATE))
    hi = declared if end is None else min(declared, int(round(end * AUDIO_SAMPLE_RATE)))
    wave = wave[lo : min(hi, lo + int(max_seconds * AUDIO_SAMPLE_RATE))]
    if len(wave) == 0:
        raise MediaError(f"{path}: empty audio segment [{start}, {end}) s")
    return np.ascontiguousarray(wave)


def load_item_media(item: dict[str, Any], max_audio_seconds: float) -> dict[str, Any]:
    """Decode one media item of :func:`build_system1_messages`.

    Args:
        item: The message content item.
        max_audio_seconds: Longest audio kept.

    Returns:
        ``{"image": PIL.Image}``, ``{"audio": float32 array}`` or ``{"video": uint8 (T, H, W, 3) array with T even,
        "audio": float32 array (only with an interleaved track)}``.

    Raises:
        MediaError: If a file is missing or cannot be decoded (the message names it).
        ValueError: For an item of another type.
    """
    kind = item.get("type")
    if kind == "image":
        img = load_image(item["image"])
        h, w = smart_resize(img.height, img.width, min_pixels=item["min_pixels"], max_pixels=item["max_pixels"])
        return {"image": img if img.size == (w, h) else img.resize((w, h), Image.Resampling.BICUBIC)}
    if kind == "audio":
        return {"audio": load_segment(item["audio"], item.get("start"), item.get("end"), max_audio_seconds)}
    if kind == "video":
        source = item["video"]
        if isinstance(source, str):
            frames = load_video_frames(source, item["frame_indices"], item["min_pixels"], item["max_pixels"])
        else:
            frames = load_frames(source, item["min_pixels"], item["max_pixels"])
        out: dict[str, Any] = {"video": _pad_to_even(frames)}
        track = item.get(AUDIO_IN_VIDEO_KEY)
        if track:
            out["audio"] = load_segment(track["path"], track.get("start"), track.get("end"), max_audio_seconds)
        return out
    raise ValueError(f"not a media item: {item}")


def uses_audio_in_video(messages: list[dict[str, Any]]) -> bool:
    """Whether any video of these messages carries its audio track interleaved (processor ``use_audio_in_video``).

    Args:
        messages: Messages of :func:`build_system1_messages`.

    Returns:
        True when a video item has an ``audio_in_video`` track.
    """
    return any(
        isinstance(item, dict) and item.get("type") == "video" and item.get(AUDIO_IN_VIDEO_KEY)
        for message in messages
        if isinstance(message.get("content"), list)
        for item in message["content"]
    )
