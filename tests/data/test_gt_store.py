"""The ground-truth store returns exactly what was written and refuses damaged or tampered files."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from omni_r1_verl.data import rle
from omni_r1_verl.data.gt_store import (
    GroundTruthStore,
    GroundTruthStoreError,
    GroundTruthWriter,
    decode_record,
    encode_record,
)


def _random_masks(rng, n_obj, frames, h, w):
    masks = rng.random((n_obj, frames, h, w)) < 0.3
    masks[0, 1] = False  # an absent frame
    return masks


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    a = _random_masks(rng, 2, 5, 12, 17)
    fg = a.any(axis=0)
    with GroundTruthWriter(tmp_path / "gt") as writer:
        objs = [writer.add_object(rle.encode(m), 12, 17) for m in a]
        fg_obj = writer.add_object(rle.encode(fg), 12, 17)
        writer.add_sample("v/0", objs, 5, 12, 17, foreground=fg_obj, meta={"video": "v"})
        writer.add_sample("v/1", objs[1:], 5, 12, 17)  # shares an object with v/0
        writer.add_sample("v/null", [], 5, 12, 17)
    return tmp_path / "gt", a, fg


def test_masks_round_trip_bit_for_bit(store):
    root, masks, fg = store
    gt = GroundTruthStore(root)
    assert len(gt) == 3 and "v/0" in gt and gt.keys() == ["v/0", "v/1", "v/null"]
    assert np.array_equal(gt.masks("v/0"), masks)
    assert np.array_equal(gt.masks("v/1"), masks[1:])
    subset = [4, 0, 2, 2]
    assert np.array_equal(gt.masks("v/0", subset), masks[:, subset])
    assert np.array_equal(gt.foreground("v/0", [1, 3]), fg[[1, 3]])
    assert gt.foreground("v/1") is None
    assert gt.entry("v/0").meta == {"video": "v"} and gt.entry("v/0").num_objects == 2


def test_boxes_and_areas_without_decoding(store):
    root, masks, _ = store
    gt = GroundTruthStore(root)
    assert gt.areas("v/0").tolist() == masks.sum(axis=(2, 3)).tolist()
    boxes = gt.boxes("v/0", [0, 1])
    assert boxes[0, 1].tolist() == [-1, -1, -1, -1]
    ys, xs = np.nonzero(masks[1, 0])
    assert boxes[1, 0].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]


def test_sample_without_objects(store):
    gt = GroundTruthStore(store[0])
    assert gt.masks("v/null").shape == (0, 5, 12, 17)
    assert gt.boxes("v/null").shape == (0, 5, 4) and gt.areas("v/null", [1]).shape == (0, 1)


def test_bad_keys_and_frames(store):
    gt = GroundTruthStore(store[0])
    with pytest.raises(KeyError, match="nope"):
        gt.masks("nope")
    with pytest.raises(IndexError):
        gt.masks("v/0", [5])
    with pytest.raises(IndexError):
        gt.boxes("v/0", [-1])


def test_writer_rejects_duplicates_and_size_mismatches(tmp_path):
    with GroundTruthWriter(tmp_path / "gt") as writer:
        obj = writer.add_object([b"", b""], 4, 4)
        writer.add_sample("a", [obj], 2, 4, 4)
        with pytest.raises(ValueError, match="duplicate"):
            writer.add_sample("a", [obj], 2, 4, 4)
        with pytest.raises(ValueError, match="2x4x4"):
            writer.add_sample("b", [obj], 3, 4, 4)


def test_records_built_elsewhere_read_back_like_added_objects(tmp_path):
    masks = _random_masks(np.random.default_rng(3), 1, 4, 9, 11)[0]
    frames = rle.encode(masks)
    record = encode_record(frames)
    assert decode_record(record, 4) == frames
    with pytest.raises(ValueError, match="offsets"):
        decode_record(record[:-1], 4)
    with pytest.raises(ValueError, match="cannot hold"):
        decode_record(record[:8], 4)
    with GroundTruthWriter(tmp_path / "gt") as writer:
        writer.add_sample("a", [writer.add_record(record, 4, 9, 11)], 4, 9, 11)
        with pytest.raises(ValueError, match="cannot hold"):
            writer.add_record(b"\0" * 8, 4, 9, 11)
    assert np.array_equal(GroundTruthStore(tmp_path / "gt").masks("a"), masks[None])


def test_concurrent_readers_agree(store):
    root, masks, _ = store
    gt = GroundTruthStore.open(root)
    assert GroundTruthStore.open(root) is gt  # one reader per process
    errors = []

    def read():
        for _ in range(30):
            if not np.array_equal(gt.masks("v/0", [3, 4]), masks[:, [3, 4]]):
                errors.append("mismatch")

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _checksum_in_child(root: str) -> int:
    store = GroundTruthStore.open(root)
    return int(sum(np.packbits(store.masks(k)).sum() for k in store.keys()))


def test_processes_share_one_store(store):
    """Ray workers are processes: each opens the store (memory-mapped) and reads the same masks."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    root = str(store[0])
    expected = _checksum_in_child(root)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        assert list(pool.map(_checksum_in_child, [root] * 4)) == [expected] * 4


def test_pickles_by_path(store):
    import pickle

    root, masks, _ = store
    clone = pickle.loads(pickle.dumps(GroundTruthStore(root)))
    assert np.array_equal(clone.masks("v/0"), masks) and clone is GroundTruthStore.open(root)


def test_flipped_byte_fails_the_checksum(store):
    root = store[0]
    data = bytearray((root / "objects.bin").read_bytes())
    data[len(data) // 2] ^= 0x01
    (root / "objects.bin").write_bytes(bytes(data))
    with pytest.raises(GroundTruthStoreError, match="checksum"):
        GroundTruthStore(root).masks("v/0")


def test_truncated_data_is_refused_at_open(store):
    root = store[0]
    (root / "objects.bin").write_bytes((root / "objects.bin").read_bytes()[:-10])
    with pytest.raises(GroundTruthStoreError, match="outside"):
        GroundTruthStore(root)


def test_tampered_record_with_matching_checksum_is_still_checked(store):
    """An attacker who also fixes the checksum cannot make the decoder overrun: the RLE is parsed first."""
    import zlib

    root = store[0]
    index = json.loads((root / "index.json").read_text())
    offset, nbytes, frames, h, w, _ = index["objects"][0]
    data = bytearray((root / "objects.bin").read_bytes())
    head = 4 * (frames + 1)
    offsets = np.frombuffer(bytes(data[offset : offset + head]), "<u4")
    data[offset + head + offsets[0]] = ord("o")  # first run of frame 0 becomes huge
    index["objects"][0][5] = zlib.crc32(bytes(data[offset : offset + nbytes]))
    (root / "objects.bin").write_bytes(bytes(data))
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(GroundTruthStoreError, match="object record 0"):
        GroundTruthStore(root).masks("v/0")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m, i: m.update(version=99), "version 99"),
        (lambda m, i: m.update(format="other"), "manifest"),
        (lambda m, i: i["samples"]["v/0"].update(objects=[7]), "missing object 7"),
        (lambda m, i: i["samples"]["v/0"].update(num_frames=6), "does not match"),
        (lambda m, i: i.update(objects="x"), "malformed"),
    ],
)
def test_inconsistent_index_or_manifest(store, change, match):
    root = store[0]
    manifest = json.loads((root / "manifest.json").read_text())
    index = json.loads((root / "index.json").read_text())
    change(manifest, index)
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(GroundTruthStoreError, match=match):
        GroundTruthStore(root)


def test_missing_store(tmp_path):
    with pytest.raises(GroundTruthStoreError, match="not found"):
        GroundTruthStore(tmp_path)
