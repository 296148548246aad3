"""Start-up checks of prepared rows: broken rows and over-long prompts are dropped and reported, never hit later.

verl's agent loop raises on a multimodal prompt longer than ``rollout.prompt_length`` (it cannot truncate media
tokens), in the middle of training. :class:`PromptGuard` computes, for every row, the longest prompt any of its clips
can produce (:mod:`~omni_r1_verl.data.token_budget`: media sizes from row metadata and file headers, text tokenized
once per possible clip length) and drops rows over the limit; rows whose media are missing, unsafe or unreadable are
dropped too. Both are counted and reported with the parquet file, the sample id and the reason.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from omni_r1_verl.contracts.prompts import render_refavs_prompt, render_segzero_prompt, render_vos_prompt
from omni_r1_verl.contracts.rows import Task
from omni_r1_verl.data.media import MediaError, audio_num_samples
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import RowError, RowMedia
from omni_r1_verl.data.token_budget import (
    MediaTokens,
    audio_tokens,
    clip_lengths,
    frame_tokens,
    prompt_tokens,
    video_tokens,
    worst_case_frames,
)

logger = logging.getLogger(__name__)

#: Examples of dropped rows printed per file.
MAX_REPORTED_EXAMPLES = 5


@dataclass
class GuardReport:
    """What :meth:`PromptGuard.check_rows` kept and dropped.

    Attributes:
        kept: Rows kept.
        overlong: Rows dropped because a clip can exceed the prompt limit.
        broken: Rows dropped because they are malformed or their media are missing / unsafe / unreadable.
        reasons: Count of dropped rows per short reason.
        examples: ``"file: sample_id: reason"`` lines (a few per file).
        longest: Longest worst-case prompt among kept rows.
    """

    kept: int = 0
    overlong: int = 0
    broken: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    longest: int = 0

    def merge(self, other: GuardReport) -> None:
        """Add another file's report to this one."""
        self.kept += other.kept
        self.overlong += other.overlong
        self.broken += other.broken
        self.reasons.update(other.reasons)
        self.examples.extend(other.examples)
        self.longest = max(self.longest, other.longest)


class _FileIndex:
    """Existence checks through one directory listing per directory (rows share video folders)."""

    def __init__(self) -> None:
        self._listings: dict[Path, frozenset[str]] = {}

    def exists(self, path: Path) -> bool:
        listing = self._listings.get(path.parent)
        if listing is None:
            try:
                listing = frozenset(os.listdir(path.parent))
            except OSError:
                listing = frozenset()
            self._listings[path.parent] = listing
        return path.name in listing


class PromptGuard:
    """Worst-case prompt length of prepared rows, and the row filter built on it.

    Args:
        processor: The Qwen2.5-Omni processor (its chat template renders the placeholders).
        config: ``data.omni_r1`` settings.
        max_prompt_length: The limit (verl's ``data.max_prompt_length``).
        use_audio_in_video: Whether video audio tracks are interleaved (else a separate audio item).
    """

    def __init__(self, processor: Any, config: OmniDataConfig, max_prompt_length: int, use_audio_in_video: bool):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.config = config
        self.max_prompt_length = max_prompt_length
        self.use_audio_in_video = use_audio_in_video
        self._files = _FileIndex()
        self._samples = lru_cache(maxsize=65536)(audio_num_samples)

    @lru_cache(maxsize=256)  # noqa: B019 - one guard per dataset, bounded
    def _template_tokens(self, system: str, kinds: tuple[str, ...]) -> int:
        """Tokens of the chat template around the prompt text, with one placeholder per media item."""
        content = [{"type": k, k: ""} for k in kinds] + [{"type": "text", "text": ""}]
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _text_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _audio_tokens(self, path: Path) -> int:
        samples = self._samples(path)
        return audio_tokens(min(samples, int(self.config.max_audio_seconds * 16_000)))

    def _require(self, row: RowMedia, relative: str) -> Path:
        path = row.path(relative)
        if not self._files.exists(path):
            raise RowError(f"missing media file {path}")
        return path

    def worst_case_tokens(self, row: dict[str, Any]) -> int:
        """Longest prompt (in tokens) any clip of this row can produce.

        Args:
            row: A prepared row.

        Returns:
            The token count.

        Raises:
            RowError: If the row is malformed or a media file is missing or outside the dataset root.
            MediaError: If an audio header cannot be read.
        """
        parsed = RowMedia.from_row(row)
        cfg = self.config
        system = next((m.get("content", "") for m in row.get("prompt") or [] if m.get("role") == "system"), "")
        gt, media = parsed.gt, parsed.media
        for relative in media.frames if not media.audio_in_video else media.frames[:1]:
            self._require(parsed, relative)
        audio = parsed.audio_source()
        if audio is not None and media.audio:
            self._require(parsed, media.audio)
        tokens = MediaTokens()
        if parsed.task is Task.VOS:
            frames = worst_case_frames(gt.num_frames, cfg.min_frames, cfg.max_frames, parsed.train)
            tokens.videos.append(video_tokens(frames, gt.height, gt.width, cfg.video_min_pixels, cfg.video_max_pixels))
            kinds: tuple[str, ...] = ("video",)
            if audio is not None:
                if self.use_audio_in_video:
                    tokens.audio_in_video.append(self._audio_tokens(audio))
                else:
                    tokens.audios.append(self._audio_tokens(audio))
                    kinds += ("audio",)
            lengths = clip_lengths(gt.num_frames, cfg.min_frames, cfg.max_frames, parsed.train)
            texts = [
                render_vos_prompt(parsed.expression, n, cfg.prompt_forcing, random.Random(0), fps=cfg.fps)
                for n in lengths
            ]
        else:
            image = frame_tokens(gt.height, gt.width, cfg.image_min_pixels, cfg.image_max_pixels)
            if parsed.task is Task.AVS:
                if audio is None:
                    raise RowError("avs rows need an audio file")
                tokens.audios.append(self._audio_tokens(audio))
                kinds, texts = ("audio", "image"), [render_refavs_prompt(parsed.expression)]
            else:
                kinds, texts = ("image",), [render_segzero_prompt(parsed.expression)]
            tokens.images.append(image)
        if any(n == 0 for n in tokens.audios + tokens.audio_in_video):
            raise RowError(f"audio of {audio} is too short to give the model a single token")
        template = self._template_tokens(system, kinds)
        return max(prompt_tokens(template + t, tokens) for t in self._text_tokens(texts))

    def check_rows(self, rows: list[dict[str, Any]], source: str) -> tuple[list[int], GuardReport]:
        """Indices of the rows to keep, and the report of the others.

        Args:
            rows: The rows of one parquet file.
            source: The file, for the report.

        Returns:
            ``(kept_indices, report)``.
        """
        report = GuardReport()
        keep: list[int] = []
        for i, row in enumerate(rows):
            sample = (row.get("extra_info") or {}).get("sample_id", f"row {i}")
            try:
                length = self.worst_case_tokens(row)
            except (RowError, MediaError) as err:
                report.broken += 1
                report.reasons[type(err).__name__] += 1
                reason = str(err)
            else:
                if length <= self.max_prompt_length:
                    keep.append(i)
                    report.kept += 1
                    report.longest = max(report.longest, length)
                    continue
                report.overlong += 1
                report.reasons["overlong"] += 1
                reason = f"prompt of up to {length} tokens > max_prompt_length={self.max_prompt_length}"
            if sum(1 for e in report.examples if e.startswith(source)) < MAX_REPORTED_EXAMPLES:
                report.examples.append(f"{source}: {sample}: {reason}")
        if report.overlong or report.broken:
            logger.warning(
                "%s: dropped %d over-long and %d broken of %d rows (%s); e.g.\n  %s",
                source,
                report.overlong,
                report.broken,
                len(rows),
                dict(report.reasons),
                "\n  ".join(report.examples),
            )
        return keep, report
