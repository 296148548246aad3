"""refCOCOg_2k_840 converter on the synthetic hub layout."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, resolve_under_root
from omni_r1_verl.data.converters.refcocog import parse_solution


def test_rows_images_and_solutions(synthetic, tmp_path, run_prepare, rows_of):
    root = synthetic["refcocog"]
    source = pq.read_table(root / "data" / "train-00000-of-00001.parquet").to_pylist()
    result = run_prepare("refcocog", root, "train", tmp_path / "out", verify_media="full")
    assert result.exit_code == 0 and not result.report.issues, result.report.summary()
    assert not result.paths.gt_store.exists()
    rows = rows_of(result.paths.parquet)
    assert len(rows) == len(source)
    for row, rec in zip(rows, source):
        info = row["extra_info"]
        gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
        box, points = parse_solution(rec["solution"])
        assert gt.boxes == [box] and gt.points == [points] and gt.gt_key == "" and info["gt_store"] == ""
        assert (gt.height, gt.width) == (rec["img_height"], rec["img_width"])
        assert info["dataset_root"] == str(result.paths.media.resolve())
        image = resolve_under_root(info["dataset_root"], MediaRef.from_json(info["media"]).frames[0])
        assert image.read_bytes() == rec["image"]["bytes"]
        assert row["prompt"][0]["content"].startswith(f"<image>Please find '{rec['problem'].lower()}'")


def test_parse_solution_forms():
    assert parse_solution("<box>(1,2),(30,40)</box><points>(5,6),(7,8)</points>") == (
        [1.0, 2.0, 30.0, 40.0],
        [[5.0, 6.0], [7.0, 8.0]],
    )
    assert parse_solution("<box>(1.5, 2),(3,4)</box> <points>(1,2),(3,4)</points>")[0] == [1.5, 2.0, 3.0, 4.0]
    for bad in ("", "<box>(1,2)</box>", "<box>(a,2),(3,4)</box><points>(1,2),(3,4)</points>"):
        with pytest.raises(ValueError):
            parse_solution(bad)
