"""ReVOS converter on the synthetic Sa2VA layout: rows, ground truth bit for bit, every object kept."""

from __future__ import annotations

import json
import shutil

import numpy as np
from pycocotools import mask as coco_mask

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, resolve_under_root
from omni_r1_verl.data.gt_store import GroundTruthStore


def _source_masks(mask_dict, anno_ids, frames, h, w):
    out = np.zeros((0, frames, h, w), bool)
    for anno in anno_ids:
        frames = [
            coco_mask.decode(r).astype(bool) if r is not None else np.zeros((h, w), bool) for r in mask_dict[str(anno)]
        ]
        out = np.concatenate([out, np.stack(frames)[None]])
    return out


def test_train_and_valid_round_trip(synthetic, tmp_path, run_prepare, rows_of):
    root = synthetic["revos"]
    mask_dict = json.loads((root / "mask_dict.json").read_text())
    foreground = json.loads((root / "mask_dict_foreground.json").read_text())
    for split in ("train", "valid"):
        meta = json.loads((root / f"meta_expressions_{split}_.json").read_text())["videos"]
        result = run_prepare("revos", root, split, tmp_path / "out")
        assert result.exit_code == 0 and not result.report.errors, result.report.summary()
        rows = rows_of(result.paths.parquet)
        assert len(rows) == sum(len(v["expressions"]) for v in meta.values()) == result.report.samples_written
        store = GroundTruthStore(result.paths.gt_store)
        for row in rows:
            info = row["extra_info"]
            video = meta[info["video"]]
            expr = video["expressions"][info["exp_id"]]
            gt = GroundTruth.from_json(row["reward_model"]["ground_truth"])
            assert gt.gt_key == info["sample_id"] and info["gt_store"] == str(result.paths.gt_store.resolve())
            assert (gt.num_frames, gt.height, gt.width) == (len(video["frames"]), video["height"], video["width"])
            source = _source_masks(mask_dict, expr["anno_id"], gt.num_frames, gt.height, gt.width)
            stored = store.masks(gt.gt_key)
            assert stored.shape[0] == len(expr["anno_id"]) == gt.num_objects
            assert np.array_equal(stored, source)
            assert gt.areas == source.sum(axis=(2, 3)).tolist()
            assert gt.null_target == (not expr["anno_id"])
            assert info["multi_object"] == (len(expr["anno_id"]) > 1)
            assert info["exp_type"] == ("referring", "reasoning")[expr["type_id"]]
            assert row["prompt"][0]["content"].startswith("<video>Given a ")
            assert f"[{expr['exp']}]" in row["prompt"][0]["content"]
            media = MediaRef.from_json(info["media"])
            assert [p.rsplit("/", 1)[-1][:-4] for p in media.frames] == video["frames"]
            assert resolve_under_root(info["dataset_root"], media.frames[-1]).is_file()
            fg = [coco_mask.decode(r) for r in _union_entries(foreground[info["video"]]["masks_rle"])]
            assert np.array_equal(store.foreground(gt.gt_key), np.stack(fg).astype(bool))
        if split == "valid":
            assert any(r["extra_info"]["null_target"] for r in rows)


def _union_entries(entries):
    """Foreground entries may be one RLE or a list of per-object RLEs per frame: return one RLE per frame."""
    out = []
    for entry in entries:
        if isinstance(entry, list):
            masks = [coco_mask.decode(r) for r in entry]
            out.append(coco_mask.encode(np.asfortranarray(np.any(masks, axis=0).astype(np.uint8))))
        else:
            out.append(entry)
    return out


def test_every_object_of_a_many_object_expression_is_kept(dataset_copy, tmp_path, run_prepare):
    """The reference kept at most 3 random objects; we keep all (here 5)."""
    root = dataset_copy("revos")
    meta_path = root / "meta_expressions_train_.json"
    meta = json.loads(meta_path.read_text())
    masks = json.loads((root / "mask_dict.json").read_text())
    name, video = next(iter(meta["videos"].items()))
    annos = list(dict.fromkeys(a for e in video["expressions"].values() for a in e["anno_id"]))
    while len(annos) < 5:  # more objects: copies of existing ones under new ids
        new = str(900_000 + len(annos))
        masks[new] = masks[str(annos[0])]
        annos.append(int(new))
    video["expressions"]["99"] = {"exp": "every object", "obj_id": list(range(5)), "anno_id": annos, "type_id": 0}
    meta_path.write_text(json.dumps(meta))
    (root / "mask_dict.json").write_text(json.dumps(masks))
    result = run_prepare("revos", root, "train", tmp_path / "out")
    store = GroundTruthStore(result.paths.gt_store)
    assert store.entry(f"revos/train/{name}/99").num_objects == 5
    assert store.masks(f"revos/train/{name}/99").shape[0] == 5


def test_visa_layout_with_jpegimages_folder(dataset_copy, tmp_path, run_prepare, rows_of):
    root = dataset_copy("revos")
    (root / "JPEGImages").mkdir()
    shutil.move(str(root / "synth"), str(root / "JPEGImages" / "synth"))
    result = run_prepare("revos", root, "train", tmp_path / "out")
    assert result.exit_code == 0 and not result.report.errors
    media = MediaRef.from_json(rows_of(result.paths.parquet)[0]["extra_info"]["media"])
    assert media.frames[0].startswith("JPEGImages/synth/")
