"""``OmniR1Dataset``: the verl dataset class of the recipe (``data.custom_cls``), Qwen2.5-Omni System-1 inputs.

* Rows (``docs/architecture.md`` §1) are checked once at start-up (:mod:`~omni_r1_verl.data.prompt_guard`): broken
  rows and rows whose longest possible prompt exceeds ``data.max_prompt_length`` are dropped with a counted warning
  naming the file, the sample and the reason.
* ``__getitem__`` samples the clip of (epoch, sample) (:mod:`~omni_r1_verl.data.sampling`), renders the System-1
  prompt for it (:mod:`~omni_r1_verl.contracts.prompts`) and records ``extra_info["clip"]``. The epoch arrives through
  :class:`~omni_r1_verl.data.epoch_sampler.EpochSampler` (``build_sampler``), which survives checkpoint resume.
* ``process_multi_modal_info`` (called by verl's agent loop in the rollout worker) decodes the referenced media at the
  System-1 budget: frames (16 to 100 merged patches each, even count), images, and 16 kHz mono audio from a file or
  from the video container. The G rollouts of a prompt share one decode (:class:`~omni_r1_verl.data.media_cache.
  MediaCache`). Videos come out as ``(uint8 TCHW tensor, metadata)`` like ``qwen_vl_utils`` makes them, so verl's
  processor calls and vLLM receive the same inputs.

Config: ``data.omni_r1`` (:class:`~omni_r1_verl.data.omni_data_config.OmniDataConfig`) and
``data.mm_processor_kwargs`` (``use_audio_in_video``, ``do_resize: false``, ``fps``).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import datasets
import torch
from omegaconf import DictConfig
from verl.utils.dataset.rl_dataset import RLHFDataset

from omni_r1_verl.data.epoch_sampler import EpochSampler, split_epoch_index
from omni_r1_verl.data.media_cache import MediaCache
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.prompt_guard import GuardReport, PromptGuard
from omni_r1_verl.data.system1_inputs import AUDIO_IN_VIDEO_KEY, build_system1_messages, load_item_media
from omni_r1_verl.utils.config import ConfigError

logger = logging.getLogger(__name__)

#: Vision patch size the pixel budgets assume (28-pixel resize factor = 14-pixel patches merged 2 x 2).
PATCH_SIZE = 14
#: Message content types that reference media.
MEDIA_TYPES = ("image", "video", "audio")

_CACHE_LOCK = threading.Lock()
_CACHE: MediaCache | None = None


def media_cache(capacity: int) -> MediaCache:
    """The process-wide decoded-media cache (created on first use, resized if the capacity changes).

    Args:
        capacity: Entries to keep.

    Returns:
        The cache.
    """
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None or _CACHE.capacity != capacity:
            _CACHE = MediaCache(capacity)
        return _CACHE


def _model_inputs(item: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    """Convert decoded arrays to what verl's processor calls and vLLM take (shared, treat as read-only)."""
    out = dict(loaded)
    if "video" in loaded:
        frames = torch.from_numpy(loaded["video"]).permute(0, 3, 1, 2).contiguous()
        count = frames.shape[0]
        out["video"] = (
            frames,
            {"fps": float(item["fps"]), "frames_indices": list(range(count)), "total_num_frames": count},
        )
    return out


class OmniR1Dataset(RLHFDataset):
    """verl dataset of Omni-R1 rows (see the module docstring).

    Args:
        data_files: Parquet file(s) of prepared rows.
        tokenizer: The policy tokenizer.
        config: verl's ``data`` config.
        processor: The Qwen2.5-Omni processor (required).
        max_samples: Keep at most this many rows (-1: all).
    """

    def __init__(
        self,
        data_files: str | list[str],
        tokenizer: Any,
        config: DictConfig,
        processor: Any = None,
        max_samples: int = -1,
    ) -> None:
        if processor is None:
            raise ConfigError(
                "OmniR1Dataset needs the Qwen2.5-Omni processor; the policy checkpoint has none (or verl could not "
                "load it: check that omni-r1-verl's verl plugin is loaded, `omni-r1 doctor`)"
            )
        self.omni = OmniDataConfig.from_dict(config.get("omni_r1"))
        mm_kwargs = dict(config.get("mm_processor_kwargs") or {})
        self.omni.check_processor_kwargs(mm_kwargs)
        image_patch_size = config.get("image_patch_size") or PATCH_SIZE
        if image_patch_size != PATCH_SIZE:
            raise ConfigError(f"data.image_patch_size must be {PATCH_SIZE} for Qwen2.5-Omni: {image_patch_size}")
        self.use_audio_in_video = bool(mm_kwargs.get("use_audio_in_video", False))
        self.guard_report = GuardReport()
        super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)

    # ------------------------------------------------------------------------------------------------------------
    # Reading rows (runs in the TaskRunner at start-up and after checkpoint resume)
    # ------------------------------------------------------------------------------------------------------------

    def _read_files_and_tokenize(self) -> None:
        guard = PromptGuard(self.processor, self.omni, self.max_prompt_length, self.use_audio_in_video)
        self.guard_report = GuardReport()
        frames = []
        for path in self.data_files:
            if not str(path).endswith(".parquet"):
                raise ConfigError(f"{path}: OmniR1Dataset reads parquet files written by `omni-r1 prepare`")
            table = datasets.load_dataset("parquet", data_files=path)["train"]
            keep, report = guard.check_rows(table.to_list(), source=str(path))
            self.guard_report.merge(report)
            frames.append(table.select(keep))
        self.dataframe = datasets.concatenate_datasets(frames)
        if 0 < self.max_samples < len(self.dataframe):
            self.dataframe = self.dataframe.select(range(self.max_samples))
        report = self.guard_report
        logger.info(
            "OmniR1Dataset: %d rows kept from %d file(s), longest prompt %d tokens; dropped %d over-long, %d broken",
            len(self.dataframe),
            len(self.data_files),
            report.longest,
            report.overlong,
            report.broken,
        )
        if len(self.dataframe) == 0:
            raise ConfigError(f"no usable rows in {self.data_files}: {dict(report.reasons)}; {report.examples}")

    def maybe_filter_out_long_prompts(self, dataframe: datasets.Dataset = None) -> datasets.Dataset:
        """Rows are already filtered (with exact worst-case lengths) in :meth:`_read_files_and_tokenize`."""
        return dataframe

    # ------------------------------------------------------------------------------------------------------------
    # Samples
    # ------------------------------------------------------------------------------------------------------------

    def build_sampler(self, data_config: DictConfig) -> EpochSampler:
        """The training sampler: it passes the epoch to :meth:`__getitem__` (installed by our verl binding).

        Args:
            data_config: verl's ``data`` config (``shuffle``, ``seed``).

        Returns:
            An :class:`EpochSampler` over this dataset.
        """
        seed = data_config.get("seed")
        return EpochSampler(
            len(self), shuffle=bool(data_config.get("shuffle", True)), seed=self.omni.seed if seed is None else seed
        )

    def __getitem__(self, item: int) -> dict[str, Any]:
        epoch, index = split_epoch_index(item, len(self.dataframe))
        row: dict[str, Any] = self.dataframe[index]
        messages, clip = build_system1_messages(row, epoch, self.omni, self.use_audio_in_video)
        for key in (self.image_key, self.video_key, self.audio_key):
            row.pop(key, None)
        extra_info = dict(row.get("extra_info") or {})
        extra_info["clip"] = clip
        row["extra_info"] = extra_info
        row["raw_prompt"] = messages
        row["dummy_tensor"] = torch.tensor([0], dtype=torch.uint8)
        row["index"] = extra_info.get("index", index)
        row["tools_kwargs"] = extra_info.get("tools_kwargs", {})
        row["interaction_kwargs"] = extra_info.get("interaction_kwargs", {})
        return row

    # ------------------------------------------------------------------------------------------------------------
    # Media (runs in the agent-loop worker, once per rollout)
    # ------------------------------------------------------------------------------------------------------------

    @classmethod
    def _process_multi_modal_info(
        cls, messages: list[dict[str, Any]], image_patch_size: int, config: DictConfig
    ) -> tuple[list | None, list | None, list | None]:
        """Decode the media referenced by ``messages`` (verl runs this in an executor thread).

        Args:
            messages: ``raw_prompt`` of a sample.
            image_patch_size: The processor's patch size (must be 14).
            config: verl's ``data`` config.

        Returns:
            ``(images, videos, audios)`` in placeholder order, each None when empty. A video interleaved with its
            audio track contributes its waveform to ``audios`` at its position.
        """
        omni = OmniDataConfig.from_dict(config.get("omni_r1"))
        cache = media_cache(omni.media_cache_size)
        images: list[Any] = []
        videos: list[Any] = []
        audios: list[Any] = []
        for message in messages:
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for item in content:
                if not isinstance(item, dict) or item.get("type") not in MEDIA_TYPES:
                    continue
                key = json.dumps(item, sort_keys=True)
                loaded = cache.get(
                    key, lambda item=item: _model_inputs(item, load_item_media(item, omni.max_audio_seconds))
                )
                if item["type"] == "image":
                    images.append(loaded["image"])
                elif item["type"] == "video":
                    videos.append(loaded["video"])
                    if item.get(AUDIO_IN_VIDEO_KEY):
                        audios.append(loaded["audio"])
                else:
                    audios.append(loaded["audio"])
        return images or None, videos or None, audios or None
