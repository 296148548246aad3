"""Tiny synthetic ReVOS, MeViS, Ref-AVS and refCOCOg splits, prepared once per session, and eval settings on the
tiny checkpoints (the thinker as System 1 and grounding model, the tiny SAM2)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.data import synthetic
from omni_r1_verl.data.gt_store import GroundTruthWriter
from omni_r1_verl.data.prepare import OutputPaths, PrepareConfig, prepare
from omni_r1_verl.data.rle import encode
from omni_r1_verl.data.rows import ROW_SCHEMA
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.runner import EvalSettings

# One intra-op thread: the shared cores stay usable, and runs in different processes compute the same floats.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

#: Small videos keep SAM2 on CPU to a second or two per sample.
VOS_SIZES = {"train_videos": 0, "valid_videos": 2, "min_frames": 6, "max_frames": 8, "height": 48, "width": 80}
#: (dataset, split) -> writer arguments.
SPLITS = {
    ("revos", "valid"): VOS_SIZES,
    ("mevis", "valid_u"): VOS_SIZES,
    ("refavs", "test_s"): {"videos": 5, "frames": 4, "height": 48, "width": 80, "audio_seconds": 1.0},
    ("refavs", "test_n"): {"videos": 5, "frames": 4, "height": 48, "width": 80, "audio_seconds": 1.0},
    ("refcocog", "train"): {"images": 3, "size": 64},
}


def rewrite_rows(parquet: Path, out: Path, **extra: str) -> Path:
    """A copy of a prepared parquet with some ``extra_info`` fields replaced."""
    rows = pq.read_table(parquet).to_pylist()
    for row in rows:
        row["extra_info"] = {**row["extra_info"], **extra}
    pq.write_table(__import__("pyarrow").Table.from_pylist(rows, schema=ROW_SCHEMA), out)
    return out


def box_store(parquet: Path, out: Path) -> Path:
    """refCOCOg_2k_840 has no masks: a store whose mask of each image is its solution box, and rows pointing to it."""
    rows = pq.read_table(parquet).to_pylist()
    store = out.with_suffix(".gt")
    with GroundTruthWriter(store) as writer:
        for row in rows:
            gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
            mask = np.zeros((1, gt.height, gt.width), dtype=bool)
            x1, y1, x2, y2 = (int(round(v)) for v in gt.boxes[0])
            mask[0, y1:y2, x1:x2] = True
            obj = writer.add_object(encode(mask), gt.height, gt.width)
            key = row["extra_info"]["sample_id"]
            writer.add_sample(key, [obj], 1, gt.height, gt.width)
            gt.gt_key = key
            row["reward_model"] = {**row["reward_model"], "ground_truth": gt.to_json()}
            row["extra_info"] = {**row["extra_info"], "gt_store": str(store)}
    pq.write_table(__import__("pyarrow").Table.from_pylist(rows, schema=ROW_SCHEMA), out)
    return out


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory) -> dict[str, Path]:
    """Prepared splits: ``{"revos": parquet, "mevis": ..., "refavs": ..., "refavs_null": ..., "refcocog": ...}``."""
    root = tmp_path_factory.mktemp("eval_data")
    out: dict[str, Path] = {}
    for (name, split), sizes in SPLITS.items():
        raw = root / "raw" / name
        if not raw.is_dir():
            synthetic.SYNTHESIZERS[name](raw, seed=3, **sizes)
        result = prepare(
            PrepareConfig(dataset=name, root=raw, split=split, out=root / split / name, workers=1, progress=False)
        )
        parquet = OutputPaths(root / split / name, split).parquet
        assert result.exit_code == 0 and parquet.is_file(), result.report.summary()
        out["refavs_null" if split == "test_n" else name] = parquet
    out["refcocog"] = box_store(out["refcocog"], root / "refcocog_boxes.parquet")
    return out


def detail_config(tiny_assets, **grounding) -> DetailConfig:
    """System 2 on the tiny checkpoints, in this process / one logical CPU per Ray worker."""
    return DetailConfig.from_dict(
        {
            "placement": {"mode": "cpu", "cpus_per_worker": 1},
            "sam2": {"checkpoint": str(tiny_assets.sam2_checkpoint), "config": str(tiny_assets.sam2_config)},
            "grounding": {
                "backend": "transformers",
                "model_path": str(tiny_assets.thinker),
                "max_new_tokens": 8,
                **grounding,
            },
        }
    )


def settings(tiny_assets, data: Path, out: Path, benchmark: str, **kwargs) -> EvalSettings:
    """Eval settings on the tiny models (no progress bar, CPU)."""
    evaluation = kwargs.pop("evaluation", {})
    return EvalSettings(
        benchmark=benchmark,
        split="test",
        data=data,
        out=out,
        evaluation=EvalConfig.from_dict({"oracle_keyframes": 2, "system1": {"max_new_tokens": 8}, **evaluation}),
        system2=detail_config(tiny_assets),
        progress=False,
        device="cpu",
        **kwargs,
    )


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OMNI_R1_CACHE", str(tmp_path_factory.getbasetemp() / "omni_r1_cache"))
