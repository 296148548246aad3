"""MeViS converter on the synthetic layout (train and valid_u)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.data.converters.mevis import MeViSConverter
from omni_r1_verl.data.gt_store import GroundTruthStore


@pytest.mark.parametrize("split", ["train", "valid_u"])
def test_split_round_trip(synthetic, tmp_path, run_prepare, rows_of, split):
    root = synthetic["mevis"]
    meta = json.loads((root / split / "meta_expressions.json").read_text())["videos"]
    mask_dict = json.loads((root / split / "mask_dict.json").read_text())
    result = run_prepare("mevis", root, split, tmp_path / "out")
    assert result.exit_code == 0 and not result.report.issues, result.report.summary()
    rows = rows_of(result.paths.parquet)
    assert len(rows) == sum(len(v["expressions"]) for v in meta.values())
    store = GroundTruthStore(result.paths.gt_store)
    for row in rows:
        gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
        expr = meta[row["extra_info"]["video"]]["expressions"][row["extra_info"]["exp_id"]]
        for obj, anno in zip(store.masks(gt.gt_key), expr["anno_id"]):
            for frame, rle in zip(obj, mask_dict[str(anno)]):
                expected = coco_mask.decode(rle).astype(bool) if rle else np.zeros_like(frame)
                assert np.array_equal(frame, expected)
        assert row["extra_info"]["exp_type"] == "" and store.foreground(gt.gt_key) is None


def test_online_only_split_is_refused(synthetic):
    with pytest.raises(ValueError, match="valid_u"):
        MeViSConverter(synthetic["mevis"], "valid")
