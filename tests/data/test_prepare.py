"""The prepare driver: identical output for any worker count, seeded subsets, atomic publication."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from omni_r1_verl.data.converters.base import Unit
from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.prepare import select_subset


def _portable(rows):
    """Rows without the fields that name the output directory."""
    for row in rows:
        row["extra_info"] = {k: v for k, v in row["extra_info"].items() if k not in ("gt_store", "dataset_root")}
    return rows


def test_worker_count_does_not_change_the_output(synthetic, tmp_path, run_prepare):
    one = run_prepare("revos", synthetic["revos"], "train", tmp_path / "one", workers=1)
    two = run_prepare("revos", synthetic["revos"], "train", tmp_path / "two", workers=2, progress=True)
    assert one.exit_code == two.exit_code == 0
    rows_one = _portable(pq.read_table(one.paths.parquet).to_pylist())
    assert rows_one == _portable(pq.read_table(two.paths.parquet).to_pylist())
    assert (one.paths.gt_store / "objects.bin").read_bytes() == (two.paths.gt_store / "objects.bin").read_bytes()
    assert [r["extra_info"]["index"] for r in rows_one] == list(range(len(rows_one)))


def test_objects_shared_by_expressions_are_stored_once(synthetic, tmp_path, run_prepare):
    result = run_prepare("revos", synthetic["revos"], "train", tmp_path / "out")
    store = GroundTruthStore(result.paths.gt_store)
    used = [o for key in store.keys() for o in store.entry(key).objects]
    assert len(set(used)) < len(used)  # several expressions point at the same object record


def test_subset_is_seeded_and_stable(synthetic, tmp_path, run_prepare, rows_of):
    def ids(out, seed):
        result = run_prepare("refavs", synthetic["refavs"], "train", tmp_path / out, max_samples=4, seed=seed)
        assert result.report.stats["subset"]["selected"] == 4
        return [r["extra_info"]["sample_id"] for r in rows_of(result.paths.parquet)]

    first = ids("a", 0)
    assert len(first) == 4 and ids("b", 0) == first
    assert any(ids(f"c{s}", s) != first for s in range(1, 4))


def test_select_subset_keeps_order_and_drops_empty_units():
    units = [Unit("a", ("a/1", "a/2")), Unit("b", ("b/1",)), Unit("c", ("c/1", "c/2", "c/3"))]
    chosen = select_subset(units, 3, seed=5)
    flat = [s for u in chosen for s in u.samples]
    assert len(flat) == 3 and all(u.samples for u in chosen)
    order = [s for u in units for s in u.samples]
    assert flat == sorted(flat, key=order.index)


def test_rerun_replaces_outputs_and_leaves_no_staging(synthetic, tmp_path, run_prepare):
    out = tmp_path / "out"
    first = run_prepare("refavs", synthetic["refavs"], "val", out)
    second = run_prepare("refavs", synthetic["refavs"], "val", out)
    assert first.exit_code == second.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["val.gt", "val.parquet", "val.report.json", "val.report.txt"]
    store = GroundTruthStore(second.paths.gt_store)
    assert all(store.masks(k).dtype == np.bool_ for k in store.keys())


def test_staging_left_by_a_killed_run_is_removed(synthetic, tmp_path, run_prepare):
    out = tmp_path / "out"
    stale = out / ".val.staging-999999999"  # no such process
    stale.mkdir(parents=True)
    (stale / "rows.parquet").write_bytes(b"partial")
    assert run_prepare("refavs", synthetic["refavs"], "val", out).exit_code == 0
    assert not stale.exists()


def test_nothing_convertible_exits_1(dataset_copy, tmp_path, run_prepare):
    root = dataset_copy("refavs")
    for wav in root.glob("media/*/audio.wav"):
        wav.unlink()
    result = run_prepare("refavs", root, "train", tmp_path / "out")
    assert result.exit_code == 1 and result.report.samples_written == 0
    assert not result.paths.parquet.exists() and result.paths.report_json.is_file()


def test_objects_cross_the_worker_pipe_as_one_checked_record():
    import pickle
    import zlib

    from omni_r1_verl.data import rle
    from omni_r1_verl.data.converters.base import GTObject
    from omni_r1_verl.data.gt_store import encode_record

    masks = np.zeros((3, 64, 64), dtype=bool)
    masks[0, 5:40, 3:50] = masks[2, 10:12, 10:60] = True
    obj = GTObject(rle.encode(masks), 64, 64)
    fresh = pickle.dumps(obj)
    assert obj.areas == [35 * 47, 0, 2 * 50]  # computes and caches the runs
    assert pickle.dumps(obj) == fresh  # the cached runs stay behind
    copy = pickle.loads(fresh)
    assert copy.num_frames == 3 and "frames" not in vars(copy)  # the main process only appends the record
    assert copy == obj and copy.frames == obj.frames and "runs" not in vars(copy)
    assert copy.record == encode_record(obj.frames) and copy.crc32 == zlib.crc32(copy.record)
    assert copy.areas == obj.areas
