"""Recompute a run's figures from its saved masks with the metrics module (independently of the harness)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.rle import resize_nearest
from omni_r1_verl.metrics import (
    RefAVSAccumulator,
    VideoAccumulator,
    mevis_table,
    refavs_table,
    refcocog_table,
    revos_table,
    segzero_counts,
)
from omni_r1_verl.visualize.masks_io import MaskReader


def records(out: Path) -> dict[str, dict]:
    lines = (out / "samples.jsonl").read_text().splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def predicted(out: Path, record: dict, num_frames: int, hw: tuple[int, int]) -> np.ndarray:
    """The saved masks of one sample, ``(F, H, W)``."""
    reader = MaskReader(out / record["masks"])
    pred = np.zeros((num_frames, *hw), dtype=bool)
    for frame, masks in reader:
        for mask in masks.values():
            pred[frame] |= mask
    assert reader.frames == list(range(num_frames))
    return pred


def recompute(benchmark: str, out: Path, store_path: str, meta: dict[str, dict]) -> dict:
    """The benchmark table of every ``ok``/empty sample, from masks on disk and the store."""
    store = GroundTruthStore.open(store_path)
    rows = []
    for key, record in sorted(records(out).items()):
        entry = store.entry(key)
        gt = store.masks(key)
        pred = predicted(out, record, entry.num_frames, (entry.height, entry.width))
        if benchmark in ("revos", "mevis"):
            robust = benchmark == "revos" and entry.foreground >= 0
            acc = VideoAccumulator(robustness=robust)
            acc.update(pred, gt, store.foreground(key) if robust else None)
            rows.append({"key": key, **acc.result(), **meta[key]})
        elif benchmark == "refavs":
            acc = RefAVSAccumulator()
            union = gt.any(axis=0) if len(gt) else np.zeros_like(pred)
            acc.update(resize_nearest(pred, 256, 256), resize_nearest(union, 256, 256))
            rows.append({"key": key, **acc.result(), **meta[key]})
        else:
            rows.append({"key": key, **segzero_counts(pred[0], gt.any(axis=0)[0])})
    table = {"revos": revos_table, "mevis": mevis_table, "refavs": refavs_table, "refcocog": refcocog_table}
    return table[benchmark](rows)
