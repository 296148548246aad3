"""RefAVS converter: the synthetic RefAVSBench layout, and the real metadata.csv with synthesised media."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef
from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.synthetic import write_refavs_media

REAL_METADATA = Path("/work/shared/data/refavs_metadata.csv")


def _metadata(root):
    with open(root / "metadata.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("split", ["train", "val", "test_s", "test_u", "test_n"])
def test_every_split_round_trip(synthetic, tmp_path, run_prepare, rows_of, split):
    root = synthetic["refavs"]
    expected = {r["uid"]: r for r in _metadata(root) if r["split"] == split}
    result = run_prepare("refavs", root, split, tmp_path / "out", verify_media="full")
    assert result.exit_code == 0 and not result.report.errors, result.report.summary()
    rows = rows_of(result.paths.parquet)
    assert sorted(r["extra_info"]["exp_id"] for r in rows) == sorted(expected)
    store = GroundTruthStore(result.paths.gt_store)
    for row in rows:
        info = row["extra_info"]
        rec = expected[info["exp_id"]]
        gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
        assert info["expression"] == rec["exp"].strip() and row["prompt"][0]["content"].startswith("<audio><image>")
        media = MediaRef.from_json(info["media"])
        assert media.audio == f"media/{rec['vid']}/audio.wav" and len(media.frames) == gt.num_frames == 10
        null = rec["uid"].startswith("null_")
        assert gt.null_target == info["null_target"] == null and gt.num_objects == (0 if null else 1)
        assert info["exp_type"] == ("null" if null else {"test_s": "seen", "test_u": "unseen"}.get(split, ""))
        if null:
            continue
        pngs = sorted((root / "gt_mask" / rec["vid"] / f"fid_{rec['fid']}").glob("*.png"))
        source = np.stack([np.asarray(Image.open(p).convert("L")) > 0 for p in pngs])
        assert np.array_equal(store.masks(gt.gt_key)[0], source)
        ys, xs = np.nonzero(source[0])
        assert gt.boxes == [[xs.min(), ys.min(), xs.max(), ys.max()]]
        assert gt.areas == [source.sum(axis=(1, 2)).tolist()]


def test_todo_rows_are_reported_not_converted(synthetic, tmp_path, run_prepare):
    result = run_prepare("refavs", synthetic["refavs"], "train", tmp_path / "out", on_error="fail")
    assert result.exit_code == 0  # rows outside every split do not fail a conversion of one split
    todo = [r["uid"] for r in _metadata(synthetic["refavs"]) if r["split"] == "TODO"]
    assert todo and result.report.excluded_samples() == [f"refavs/TODO/{u}" for u in todo]
    assert result.report.to_dict()["warnings"] == {"unknown_split": 1}


@pytest.fixture(scope="module")
def real_metadata_root(tmp_path_factory):
    if not REAL_METADATA.is_file():
        pytest.skip("the real RefAVS metadata is not available")
    with open(REAL_METADATA, newline="") as handle:
        records = list(csv.DictReader(handle))
    videos = []
    for split in ("train", "test_u", "test_n"):  # a few videos of each tested split (the first in file order)
        videos += list(dict.fromkeys(r["vid"] for r in records if r["split"] == split))[:4]
    root, chosen = write_refavs_media(tmp_path_factory.mktemp("refavs_real"), REAL_METADATA, videos=videos)
    return root, set(chosen)


@pytest.mark.parametrize("split", ["train", "test_u", "test_n"])
def test_real_metadata_with_synthesised_media(real_metadata_root, tmp_path, run_prepare, rows_of, split):
    root, with_media = real_metadata_root
    records = [r for r in _metadata(root) if r["split"] == split]
    result = run_prepare("refavs", root, split, tmp_path / "out", verify_media="exists")
    report = result.report.to_dict()
    assert result.exit_code == 0
    # The published file: 25 rows with split TODO, excluded from every split and listed.
    assert len(report["excluded_samples"]) == 25 and all("/TODO/" in s for s in report["excluded_samples"])
    # Repeated uids: each repeat reported (identical ones as duplicate_row, conflicting ones as duplicate_id).
    repeats = sum(n - 1 for n in Counter(r["uid"] for r in records).values())
    assert report["errors"].get("duplicate_id", 0) + report["warnings"].get("duplicate_row", 0) == repeats
    unique = len({r["uid"] for r in records})
    assert report["samples_total"] == unique
    # Rows of videos without media are skipped and listed; all others are written; nothing is unaccounted for.
    rows = rows_of(result.paths.parquet)
    assert {r["extra_info"]["video"] for r in rows} <= with_media
    expected = len({r["uid"] for r in records if r["vid"] in with_media})
    assert len(rows) == expected > 0
    assert report["samples_written"] + report["samples_skipped"] == unique
    assert set(report["errors"]) <= {"missing_frame", "duplicate_id"}
    # Null uids (null_<c>-<vid>_null_<n>) are mapped to their video, not to "null_<c>-<vid>".
    assert "vid_mismatch" not in report["warnings"]
    nulls = [r for r in rows if r["extra_info"]["exp_id"].startswith("null_")]
    assert all(r["extra_info"]["null_target"] for r in nulls)
    if split == "test_n":
        assert len(nulls) == len(rows)
