"""The masks folder round-trips, is plain COCO RLE, and refuses malformed or escaping files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from omni_r1_verl.visualize import MaskFolderError, MaskReader, MaskWriter


def _write(clip, directory, frames=None):
    with MaskWriter(directory, {0: "the box", 1: "the disc"}) as writer:
        for t in frames if frames is not None else range(len(clip.pixels)):
            writer.add(t, clip.frame(t).masks, time_s=t / clip.fps)
    return directory


def test_round_trip(clip, tmp_path):
    reader = MaskReader(_write(clip, tmp_path / "masks"))
    assert reader.frames == list(range(len(clip.pixels)))
    assert reader.objects == {0: "the box", 1: "the disc"}
    assert (reader.height, reader.width) == clip.pixels.shape[1:3]
    for t, masks in reader:
        assert set(masks) == {0, 1}
        for obj_id, mask in masks.items():
            assert np.array_equal(mask, clip.masks[obj_id][t])
        assert reader.time_s(t) == pytest.approx(t / clip.fps)


def test_files_are_standard_coco_rle_and_empty_masks_are_left_out(clip, tmp_path):
    directory = tmp_path / "masks"
    with MaskWriter(directory) as writer:
        writer.add(7, {3: clip.masks[0][2], 4: np.zeros_like(clip.masks[0][2])})
        writer.add(2, {})
    record = json.loads((directory / "frame_000007.json").read_text())
    assert set(record["masks"]) == {"3"}
    assert np.array_equal(coco_mask.decode(record["masks"]["3"]).astype(bool), clip.masks[0][2])
    reader = MaskReader(directory)
    assert reader.frames == [2, 7] and reader.read(2) == {} and set(reader.read(7)) == {3}
    assert set(reader.objects) == {3, 4} and reader.time_s(7) is None
    index = json.loads((directory / "index.json").read_text())
    assert [f["objects"] for f in index["frames"]] == [[], [3]]


def test_writer_checks_its_input(clip, tmp_path):
    writer = MaskWriter(tmp_path / "m")
    writer.add(0, clip.frame(0).masks)
    with pytest.raises(ValueError, match="unique"):
        writer.add(0, clip.frame(1).masks)
    with pytest.raises(ValueError, match="the folder's are"):
        writer.add(1, {0: np.zeros((4, 4), bool)})
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        writer.add(2, {0: np.zeros((1, 4, 4), bool)})


def test_unfinished_and_malformed_folders_are_reported(clip, tmp_path):
    directory = tmp_path / "masks"
    with pytest.raises(MaskFolderError, match="index.json is missing"):
        writer = MaskWriter(directory)
        writer.add(0, clip.frame(0).masks)  # never closed
        MaskReader(directory)
    _write(clip, directory, frames=[0, 1])
    index_path = directory / "index.json"
    good = json.loads(index_path.read_text())

    def corrupt_index(change):
        index = json.loads(json.dumps(good))
        change(index)
        index_path.write_text(json.dumps(index))

    corrupt_index(lambda i: i["frames"][0].update(file="../../etc/passwd"))
    with pytest.raises(MaskFolderError, match="expected frame_NNNNNN.json"):
        MaskReader(directory)
    corrupt_index(lambda i: i.update(height=10**9))
    with pytest.raises(MaskFolderError, match="height"):
        MaskReader(directory)
    corrupt_index(lambda i: i.update(format="something else"))
    with pytest.raises(MaskFolderError, match="not an omni-r1-masks"):
        MaskReader(directory)
    index_path.write_text("{not json")
    with pytest.raises(MaskFolderError, match="not valid JSON"):
        MaskReader(directory)

    index_path.write_text(json.dumps(good))
    frame_path = directory / "frame_000001.json"
    record = json.loads(frame_path.read_text())
    record["masks"]["0"]["counts"] = record["masks"]["0"]["counts"][:-3] + "a0"  # runs no longer cover H x W
    frame_path.write_text(json.dumps(record))
    with pytest.raises(MaskFolderError, match="frame_000001.json"):
        MaskReader(directory).read(1)
    record["masks"]["0"]["size"] = [1, 1]
    frame_path.write_text(json.dumps(record))
    with pytest.raises(MaskFolderError, match="has size"):
        MaskReader(directory).read(1)
    assert set(MaskReader(directory).read(0)) == {0, 1}
