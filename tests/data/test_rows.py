"""One Arrow schema for all four datasets; rows stay small; verl's own dataset class reads them."""

from __future__ import annotations

import json
import os

import datasets
import pytest

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef
from omni_r1_verl.data.rows import ROW_SCHEMA, make_row

SPLITS = {"revos": "train", "mevis": "train", "refavs": "train", "refcocog": "train"}


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory):
    from omni_r1_verl.data.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("prepared")
    files = {}
    for name, split in SPLITS.items():
        result = prepare(PrepareConfig(name, synthetic[name], split, out / name, workers=1, progress=False))
        assert result.exit_code == 0
        files[name] = result.paths.parquet
    return files


def test_rows_of_all_datasets_concatenate(prepared):
    parts = [datasets.load_dataset("parquet", data_files=str(f))["train"] for f in prepared.values()]
    assert len({json.dumps(p.features.to_dict(), sort_keys=True) for p in parts}) == 1
    merged = datasets.concatenate_datasets(parts)
    assert len(merged) == sum(len(p) for p in parts)
    assert set(merged["data_source"]) == set(SPLITS)
    assert {r["task"] for r in merged["extra_info"]} == {"vos", "avs", "image_grounding"}
    assert len({r["sample_id"] for r in merged["extra_info"]}) == len(merged)


def test_prepared_rows_are_small(prepared):
    for path in prepared.values():
        for row in datasets.load_dataset("parquet", data_files=str(path))["train"]:
            assert len(json.dumps(row)) < 10_000


def test_long_video_row_stays_under_10kb():
    """A 200-frame, 3-object 720p video (longer than most MeViS videos): areas and frame list dominate."""
    frames = [f"JPEGImages/0a1b2c3d4e5f/{i:05d}.jpg" for i in range(200)]
    gt = GroundTruth(
        task="vos",
        gt_key="mevis/train/0a1b2c3d4e5f/12",
        num_frames=200,
        height=720,
        width=1280,
        num_objects=3,
        areas=[[123_456 + i for i in range(200)] for _ in range(3)],
    )
    from omni_r1_verl.contracts.prompts import render_vos_prompt

    row = make_row(
        data_source="mevis",
        content="<video>" + render_vos_prompt("the man walking to the left", 200),
        ground_truth=gt,
        media=MediaRef(frames=frames),
        split="train",
        sample_id=gt.gt_key,
        expression="the man walking to the left",
    )
    row["extra_info"].update(index=0, dataset_root="/data/mevis", gt_store="/prepared/mevis/train.gt")
    assert len(json.dumps(row, separators=(",", ":"))) < 10_000
    assert MediaRef.from_json(row["extra_info"]["media"]).frames == frames
    assert [f.name for f in ROW_SCHEMA] == ["data_source", "agent_name", "prompt", "reward_model", "extra_info"]


def test_verl_rlhf_dataset_reads_the_rows(prepared, tiny_assets):
    """verl's own RLHFDataset loads, filters by length and indexes the rows (no custom code involved)."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    tokenizer = AutoTokenizer.from_pretrained(os.fspath(tiny_assets.thinker))
    config = OmegaConf.create({"max_prompt_length": 4096, "filter_overlong_prompts": True, "cache_dir": "/tmp"})
    dataset = RLHFDataset([os.fspath(p) for p in prepared.values()], tokenizer, config, processor=None)
    assert len(dataset) == sum(
        len(datasets.load_dataset("parquet", data_files=str(p))["train"]) for p in prepared.values()
    )
    item = dataset[0]
    assert item["data_source"] == "revos" and item["agent_name"] == "omni_r1_agent"
    assert item["raw_prompt"][0]["content"].startswith("<video>")
    assert item["index"] == 0 and GroundTruth.from_json(item["reward_model"]["ground_truth"]).task.value == "vos"
