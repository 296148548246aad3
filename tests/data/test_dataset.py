"""``OmniR1Dataset`` (verl's ``data.custom_cls``): rows -> System-1 samples, media decoding, over-long prompts."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from omegaconf import OmegaConf
from omni_rows import build_dataset, write_parquet

from omni_r1_verl.data.dataset import OmniR1Dataset
from omni_r1_verl.data.system1_inputs import uses_audio_in_video
from omni_r1_verl.doctor import compose_config
from omni_r1_verl.utils.config import ConfigError


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("omni_rows")
    rows = build_dataset(root)
    return write_parquet(list(rows.values()), root / "train.parquet"), rows


@pytest.fixture(scope="module")
def processor(tiny_assets):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_assets.thinker)


def _data_config(tiny_assets, *overrides: str):
    cfg = compose_config(["+recipe=omni_r1", f"actor_rollout_ref.model.path={tiny_assets.thinker}", *overrides])
    OmegaConf.resolve(cfg)
    return cfg.data


def _dataset(rows_file, processor, tiny_assets, *overrides: str) -> OmniR1Dataset:
    path, _ = rows_file
    return OmniR1Dataset([str(path)], processor.tokenizer, _data_config(tiny_assets, *overrides), processor)


def test_rows_become_system1_samples_with_their_clip(rows_file, processor, tiny_assets):
    dataset = _dataset(rows_file, processor, tiny_assets)
    _, rows = rows_file
    assert len(dataset) == len(rows)
    by_id = {}
    for i in range(len(dataset)):
        sample = dataset[i]
        by_id[sample["extra_info"]["sample_id"]] = sample
        clip = sample["extra_info"]["clip"]
        num_frames = len(clip["frame_indices"])
        assert num_frames >= 1 and clip["fps"] > 0
        assert clip["frame_indices"] == sorted(clip["frame_indices"])
    # Videos get a sampled clip within the recipe's frame budget; images are frame 0.
    omni = _data_config(tiny_assets).omni_r1
    assert omni.min_frames <= len(by_id["vos_wav"]["extra_info"]["clip"]["frame_indices"]) <= omni.max_frames
    assert by_id["image"]["extra_info"]["clip"]["frame_indices"] == [0]
    # With the recipe's use_audio_in_video, a video with a soundtrack (in its container or a separate file) is
    # interleaved with it; a silent video is not (the processor would run out of audio).
    assert uses_audio_in_video(by_id["vos_mp4"]["raw_prompt"])
    assert uses_audio_in_video(by_id["vos_wav"]["raw_prompt"])
    assert not uses_audio_in_video(by_id["vos_silent"]["raw_prompt"])


def test_media_are_decoded_at_16khz_from_files_and_containers(rows_file, processor, tiny_assets):
    dataset = _dataset(rows_file, processor, tiny_assets)
    config = _data_config(tiny_assets)
    by_id = {dataset[i]["extra_info"]["sample_id"]: dataset[i] for i in range(len(dataset))}

    images, videos, audios = OmniR1Dataset._process_multi_modal_info(by_id["vos_mp4"]["raw_prompt"], 14, config)
    assert images is None and len(videos) == 1 and len(audios) == 1
    audio = np.asarray(audios[0])
    assert audio.ndim == 1 and 0 < audio.size <= 16_000 * config.omni_r1.max_audio_seconds

    images, videos, audios = OmniR1Dataset._process_multi_modal_info(by_id["vos_silent"]["raw_prompt"], 14, config)
    assert len(videos) == 1 and audios is None

    images, videos, audios = OmniR1Dataset._process_multi_modal_info(by_id["avs"]["raw_prompt"], 14, config)
    assert len(images) == 1 and videos is None and len(audios) == 1
    # The 10 s wav at 16 kHz (within rounding of the decoder).
    assert abs(np.asarray(audios[0]).size - 160_000) <= 16


def test_overlong_prompts_are_dropped_with_a_counted_warning(rows_file, processor, tiny_assets, caplog):
    path, rows = rows_file
    full = _dataset(rows_file, processor, tiny_assets)
    longest = full.guard_report.longest
    with caplog.at_level(logging.WARNING):
        dataset = _dataset(rows_file, processor, tiny_assets, f"data.max_prompt_length={longest - 1}")
    assert dataset.guard_report.overlong >= 1
    assert len(dataset) == len(rows) - dataset.guard_report.overlong - dataset.guard_report.broken
    assert str(path) in caplog.text and "over-long" in caplog.text

    with pytest.raises(ConfigError, match="no usable rows"):
        _dataset(rows_file, processor, tiny_assets, "data.max_prompt_length=8")
