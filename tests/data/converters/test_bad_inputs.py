"""Every kind of broken input gives its documented report entry and exit status; nothing is lost silently.

Each case corrupts a copy of a synthetic dataset, converts it with ``--on-error skip`` (exit 0, affected samples
skipped and listed, the rest written) and with ``--on-error fail`` (exit 1 for errors, nothing written).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.report import ISSUE_CODES, Severity


def _first_video(root: Path) -> tuple[str, dict]:
    meta = json.loads((root / "meta_expressions_train_.json").read_text())["videos"]
    name = sorted(meta)[0]
    return name, meta[name]


def _edit_meta(root: Path, edit) -> None:
    path = root / "meta_expressions_train_.json"
    meta = json.loads(path.read_text())
    edit(meta["videos"])
    path.write_text(json.dumps(meta))


def _edit_masks(root: Path, edit) -> None:
    path = root / "mask_dict.json"
    masks = json.loads(path.read_text())
    edit(masks)
    path.write_text(json.dumps(masks))


def _first_anno(root: Path) -> str:
    return str(_first_video(root)[1]["expressions"]["0"]["anno_id"][0])


def _revos_missing_frame(root):
    name, video = _first_video(root)
    (root / name / f"{video['frames'][3]}.jpg").unlink()


def _revos_corrupt_frame(root):
    name, video = _first_video(root)
    (root / name / f"{video['frames'][0]}.jpg").write_bytes(b"definitely not a jpeg")


def _revos_missing_mask(root):
    anno = _first_anno(root)
    _edit_masks(root, lambda m: m.pop(anno))


def _revos_corrupt_mask(root):
    anno = _first_anno(root)

    def edit(masks):
        entry = next(e for e in masks[anno] if e is not None)
        entry["counts"] = "ooooooooo"

    _edit_masks(root, edit)


def _revos_frame_count(root):
    anno = _first_anno(root)
    _edit_masks(root, lambda m: m[anno].pop())


def _revos_empty_expression(root):
    _edit_meta(root, lambda v: v[sorted(v)[0]]["expressions"]["0"].update(exp="  "))


def _revos_unsafe_video(root):
    def edit(videos):
        name = sorted(videos)[0]
        videos["../" + name] = videos.pop(name)

    _edit_meta(root, edit)


def _revos_symlink_out(root):
    name, video = _first_video(root)
    frame = root / name / f"{video['frames'][1]}.jpg"
    outside = root.parent / "outside.jpg"
    outside.write_bytes(frame.read_bytes())
    frame.unlink()
    os.symlink(outside, frame)


def _revos_bad_record(root):
    _edit_meta(root, lambda v: v[sorted(v)[0]]["expressions"]["0"].update(anno_id="7"))


def _revos_no_frames(root):
    _edit_meta(root, lambda v: v[sorted(v)[0]].update(frames=[]))


def _revos_duplicate_expression(root):
    path = root / "meta_expressions_train_.json"
    text = path.read_text()
    # JSON with a repeated key: json.load would silently keep the last one.
    needle = '"expressions": {'
    at = text.index(needle) + len(needle)
    path.write_text(text[:at] + '"0": {"exp": "something else", "anno_id": [], "type_id": 0},' + text[at:])


def _refavs_rows(root) -> list[dict]:
    with open(root / "metadata.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _refavs_write(root, rows) -> None:
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["vid", "uid", "split", "fid", "exp"])
        writer.writeheader()
        writer.writerows(rows)


def _refavs_first_train(root) -> dict:
    return next(r for r in _refavs_rows(root) if r["split"] == "train" and not r["uid"].startswith("null"))


def _refavs_missing_audio(root):
    (root / "media" / _refavs_first_train(root)["vid"] / "audio.wav").unlink()


def _refavs_corrupt_audio(root):
    (root / "media" / _refavs_first_train(root)["vid"] / "audio.wav").write_bytes(b"RIFF....garbage")


def _refavs_missing_mask(root):
    rec = _refavs_first_train(root)
    for png in (root / "gt_mask" / rec["vid"] / f"fid_{rec['fid']}").glob("*.png"):
        png.unlink()
    (root / "gt_mask" / rec["vid"] / f"fid_{rec['fid']}").rmdir()


def _refavs_corrupt_mask(root):
    rec = _refavs_first_train(root)
    (root / "gt_mask" / rec["vid"] / f"fid_{rec['fid']}" / "00004.png").write_bytes(b"\x89PNG broken")


def _refavs_frame_count(root):
    rec = _refavs_first_train(root)
    (root / "gt_mask" / rec["vid"] / f"fid_{rec['fid']}" / "00009.png").unlink()


def _refavs_empty_expression(root):
    rows = _refavs_rows(root)
    next(r for r in rows if r["split"] == "train")["exp"] = " "
    _refavs_write(root, rows)


def _refavs_duplicate_uid(root):
    rows = _refavs_rows(root)
    first = next(r for r in rows if r["split"] == "train")
    rows.append({**first, "exp": "a different expression"})
    _refavs_write(root, rows)


def _refavs_bad_fid(root):
    rows = _refavs_rows(root)
    next(r for r in rows if r["split"] == "train")["fid"] = "x"
    _refavs_write(root, rows)


def _refavs_unsafe_vid(root):
    rows = _refavs_rows(root)
    for r in rows:
        if r["split"] == "train":
            r["vid"] = "../../etc"
            break
    _refavs_write(root, rows)


ERROR_CASES = [
    ("revos", _revos_missing_frame, "missing_frame"),
    ("revos", _revos_corrupt_frame, "corrupt_frame"),
    ("revos", _revos_missing_mask, "missing_mask"),
    ("revos", _revos_corrupt_mask, "corrupt_mask"),
    ("revos", _revos_frame_count, "frame_count_mismatch"),
    ("revos", _revos_empty_expression, "empty_expression"),
    ("revos", _revos_unsafe_video, "unsafe_path"),
    ("revos", _revos_symlink_out, "unsafe_path"),
    ("revos", _revos_bad_record, "bad_record"),
    ("revos", _revos_no_frames, "no_frames"),
    ("revos", _revos_duplicate_expression, "duplicate_id"),
    ("refavs", _refavs_missing_audio, "missing_audio"),
    ("refavs", _refavs_corrupt_audio, "corrupt_audio"),
    ("refavs", _refavs_missing_mask, "missing_mask"),
    ("refavs", _refavs_corrupt_mask, "corrupt_mask"),
    ("refavs", _refavs_frame_count, "frame_count_mismatch"),
    ("refavs", _refavs_empty_expression, "empty_expression"),
    ("refavs", _refavs_duplicate_uid, "duplicate_id"),
    ("refavs", _refavs_bad_fid, "bad_record"),
    ("refavs", _refavs_unsafe_vid, "unsafe_path"),
]


@pytest.mark.parametrize(("dataset", "corrupt", "code"), ERROR_CASES, ids=[c[1].__name__[1:] for c in ERROR_CASES])
def test_error_is_reported_and_skipped(
    dataset_copy, synthetic, tmp_path, run_prepare, codes_of, dataset, corrupt, code
):
    clean = run_prepare(dataset, synthetic[dataset], "train", tmp_path / "clean")
    root = dataset_copy(dataset)
    corrupt(root)
    result = run_prepare(dataset, root, "train", tmp_path / "skip")
    assert result.exit_code == 0
    errors = [i for i in result.report.issues if i.severity is Severity.ERROR]
    assert {i.code for i in errors} == {code}, result.report.summary()
    entry = next(i for i in result.report.to_dict()["issues"] if i["code"] == code)
    assert entry["severity"] == "error" and entry["action"] == "skipped" and entry["message"]
    assert entry["file"] or code == "duplicate_id"
    report = result.report.to_dict()
    # Nothing silently lost: every sample is either written or listed as skipped (repeats are reported).
    assert report["samples_written"] + report["samples_skipped"] == report["samples_total"]
    assert report["samples_written"] < clean.report.samples_written or code == "duplicate_id"
    summary = (tmp_path / "skip" / "train.report.txt").read_text()
    assert code in summary
    strict = run_prepare(dataset, root, "train", tmp_path / "fail", on_error="fail")
    assert strict.exit_code == 1 and not strict.paths.parquet.exists() and not strict.paths.gt_store.exists()
    assert json.loads(strict.paths.report_json.read_text())["errors"][code] >= 1


def _revos_rle_size(root):
    anno = _first_anno(root)

    def edit(masks):
        for f, entry in enumerate(masks[anno]):
            if entry is not None:
                h, w = entry["size"]
                small = coco_mask.decode(entry)[::2, ::2]
                masks[anno][f] = {**coco_mask.encode(np.asfortranarray(small)), "size": [h // 2, w // 2]}
                masks[anno][f]["counts"] = masks[anno][f]["counts"].decode()

    _edit_masks(root, edit)


def _revos_meta_size(root):
    _edit_meta(root, lambda v: v[sorted(v)[0]].update(height=1, width=2))


def _revos_unsorted(root):
    def edit(videos):
        video = videos[sorted(videos)[0]]
        video["frames"] = video["frames"][::-1]

    _edit_meta(root, edit)
    anno = _first_anno(root)
    name, video = _first_video(root)
    annos = {str(a) for e in video["expressions"].values() for a in e["anno_id"]}

    def reverse(masks):
        for a in annos | {anno}:
            masks[a] = masks[a][::-1]

    _edit_masks(root, reverse)


def _revos_no_foreground(root):
    (root / "mask_dict_foreground.json").unlink()


def _revos_unknown_type(root):
    _edit_meta(root, lambda v: v[sorted(v)[0]]["expressions"]["0"].update(type_id=7))


def _revos_identical_repeat(root):
    path = root / "meta_expressions_train_.json"
    meta = json.loads(path.read_text())
    name = sorted(meta["videos"])[0]
    expr = json.dumps(meta["videos"][name]["expressions"]["0"])
    text = path.read_text()
    needle = '"expressions": {'
    at = text.index(needle) + len(needle)
    path.write_text(text[:at] + f'"0": {expr},' + text[at:])


WARNING_CASES = [
    ("revos", _revos_rle_size, "mask_size_mismatch"),
    ("revos", _revos_meta_size, "frame_size_mismatch"),
    ("revos", _revos_unsorted, "unsorted_frames"),
    ("revos", _revos_no_foreground, "missing_foreground"),
    ("revos", _revos_unknown_type, "unknown_type"),
    ("revos", _revos_identical_repeat, "duplicate_row"),
]


@pytest.mark.parametrize(("dataset", "corrupt", "code"), WARNING_CASES, ids=[c[1].__name__[1:] for c in WARNING_CASES])
def test_warning_keeps_samples(dataset_copy, synthetic, tmp_path, run_prepare, codes_of, dataset, corrupt, code):
    clean = run_prepare(dataset, synthetic[dataset], "train", tmp_path / "clean")
    root = dataset_copy(dataset)
    corrupt(root)
    result = run_prepare(dataset, root, "train", tmp_path / "out", on_error="fail")
    assert result.exit_code == 0 and not result.report.errors, result.report.summary()
    assert codes_of(result) == {code}
    assert result.report.samples_written == clean.report.samples_written
    assert ISSUE_CODES[code][0] is Severity.WARNING


def test_mask_size_mismatch_is_resized_nearest(dataset_copy, tmp_path, run_prepare):
    root = dataset_copy("revos")
    anno = _first_anno(root)
    original = json.loads((root / "mask_dict.json").read_text())[anno]
    _revos_rle_size(root)
    result = run_prepare("revos", root, "train", tmp_path / "out")
    name, video = _first_video(root)
    store = GroundTruthStore(result.paths.gt_store)
    stored = store.masks(f"revos/train/{name}/0")[0]
    for frame, entry in zip(stored, original):
        if entry is not None:  # half-size mask, upsampled by nearest neighbour: 2x2 blocks of the even pixels
            small = coco_mask.decode(entry)[::2, ::2].astype(bool)
            assert np.array_equal(frame[::2, ::2][: small.shape[0], : small.shape[1]], small)


def test_truncated_frame_is_caught_only_by_full_verification(dataset_copy, tmp_path, run_prepare, codes_of):
    root = dataset_copy("revos")
    name, video = _first_video(root)
    frame = root / name / f"{video['frames'][2]}.jpg"
    frame.write_bytes(frame.read_bytes()[: len(frame.read_bytes()) // 3])
    assert "corrupt_frame" not in codes_of(run_prepare("revos", root, "train", tmp_path / "a"))
    assert "corrupt_frame" in codes_of(run_prepare("revos", root, "train", tmp_path / "b", verify_media="full"))


@pytest.mark.parametrize(
    ("dataset", "damage", "match"),
    [
        ("revos", lambda r: (r / "meta_expressions_train_.json").unlink(), "not found"),
        ("revos", lambda r: (r / "mask_dict.json").write_text("{not json"), "not valid JSON"),
        ("revos", lambda r: (r / "meta_expressions_train_.json").write_text("[]"), "videos"),
        ("refavs", lambda r: (r / "metadata.csv").write_text("vid,uid\n1,2\n"), "lacks columns"),
        ("refcocog", lambda r: (r / "data" / "train-00000-of-00001.parquet").unlink(), "no parquet"),
    ],
)
def test_unreadable_dataset_exits_2(dataset_copy, tmp_path, run_prepare, dataset, damage, match):
    root = dataset_copy(dataset)
    damage(root)
    result = run_prepare(dataset, root, "train", tmp_path / "out")
    assert result.exit_code == 2 and match in result.report.fatal
    assert json.loads(result.paths.report_json.read_text())["fatal"] == result.report.fatal
    assert not result.paths.parquet.exists()


def test_refcocog_bad_solution_and_image(dataset_copy, tmp_path, run_prepare):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = dataset_copy("refcocog")
    path = root / "data" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    rows[0]["solution"] = "<box>(1,2),(3,4)</box>"
    rows[1]["solution"] = "<box>(50,2),(3,4)</box><points>(1,2),(3,4)</points>"  # inverted box
    rows[2]["image"] = {"bytes": b"garbage", "path": None}
    rows[3]["img_height"] = 999
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    result = run_prepare("refcocog", root, "train", tmp_path / "out")
    report = result.report.to_dict()
    assert result.exit_code == 0
    assert report["errors"] == {"bad_solution": 2, "corrupt_frame": 1} and report["warnings"] == {"size_mismatch": 1}
    assert report["samples_written"] == len(rows) - 3


def test_converter_crash_is_an_internal_error(synthetic, tmp_path, run_prepare, monkeypatch):
    from omni_r1_verl.data.converters.revos import ReVOSConverter

    original = ReVOSConverter.convert

    def flaky(self, unit):
        if unit.key.endswith("vid001"):
            raise RuntimeError("boom")
        return original(self, unit)

    monkeypatch.setattr(ReVOSConverter, "convert", flaky)
    result = run_prepare("revos", synthetic["revos"], "train", tmp_path / "out")
    report = result.report.to_dict()
    assert result.exit_code == 0 and report["errors"] == {"internal_error": 1}
    assert "boom" in report["issues"][0]["message"]
    assert report["samples_skipped"] > 0 and all("vid001" in s for s in report["skipped_samples"])


def test_a_worker_killed_on_a_unit_is_replaced_and_the_unit_reported(synthetic, tmp_path, run_prepare, monkeypatch):
    import signal

    from omni_r1_verl.data.converters.revos import ReVOSConverter

    original = ReVOSConverter.convert
    marker = tmp_path / "killed-once"

    def deadly(self, unit):
        if unit.key.endswith("vid001"):  # every time: as a decoder that segfaults on this video's frames would
            os.kill(os.getpid(), signal.SIGKILL)
        if unit.key.endswith("vid002") and not marker.exists():  # once: the retry converts it
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, unit)

    clean = run_prepare("revos", synthetic["revos"], "train", tmp_path / "clean")
    monkeypatch.setattr(ReVOSConverter, "convert", deadly)
    result = run_prepare("revos", synthetic["revos"], "train", tmp_path / "out", workers=2)
    report = result.report.to_dict()
    assert result.exit_code == 0 and report["errors"] == {"worker_died": 1}, result.report.summary()
    assert "killed by SIGKILL" in report["issues"][0]["message"]
    assert report["stats"]["worker_deaths"] == 3  # vid001 twice, vid002 once
    assert "worker processes that died and were replaced: 3" in result.report.summary()
    assert clean.report.stats["worker_deaths"] == 0 and "died" not in clean.report.summary()
    skipped = report["skipped_samples"]
    assert skipped and all("vid001" in s for s in skipped)
    assert report["samples_written"] == clean.report.samples_written - len(skipped)


def test_a_unit_that_hangs_its_worker_is_skipped_after_the_timeout(synthetic, tmp_path, run_prepare, monkeypatch):
    import time

    from omni_r1_verl.data.converters.revos import ReVOSConverter

    original = ReVOSConverter.convert

    def hanging(self, unit):
        if unit.key.endswith("vid000"):
            time.sleep(120)  # a decoder stuck on a broken file
        return original(self, unit)

    monkeypatch.setattr(ReVOSConverter, "convert", hanging)
    start = time.monotonic()
    result = run_prepare("revos", synthetic["revos"], "train", tmp_path / "out", workers=2, unit_timeout_s=2)
    assert time.monotonic() - start < 60
    report = result.report.to_dict()
    assert result.exit_code == 0 and report["errors"] == {"worker_died": 1}
    assert "no result in 2 s" in report["issues"][0]["message"]
    assert report["skipped_samples"] and all("vid000" in s for s in report["skipped_samples"])
    assert report["samples_written"] > 0 and report["stats"]["worker_deaths"] == 2
