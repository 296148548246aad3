"""``omni-r1 synth`` and ``omni-r1 prepare``: help, exit statuses, outputs."""

from __future__ import annotations

import json

import pytest

from omni_r1_verl.cli import main
from omni_r1_verl.cli.prepare import DATASETS
from omni_r1_verl.data.converters import CONVERTERS


def test_prepare_lists_exactly_the_registered_converters():
    assert {name: cls.splits for name, cls in CONVERTERS.items()} == DATASETS


def test_synth_then_prepare(tmp_path, capsys):
    assert main(["synth", "refavs", str(tmp_path / "refavs"), "--videos", "5", "--audio-seconds", "1"]) == 0
    code = main(
        [
            "prepare",
            "refavs",
            "--root",
            str(tmp_path / "refavs"),
            "--split",
            "train",
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "2",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "refavs/train:" in out and "unknown_split" in out
    assert (tmp_path / "out" / "train.parquet").is_file() and (
        tmp_path / "out" / "train.gt" / "manifest.json"
    ).is_file()
    report = json.loads((tmp_path / "out" / "train.report.json").read_text())
    assert report["samples_written"] == report["samples_total"] > 0


def test_prepare_exit_statuses(tmp_path, capsys):
    assert (
        main(["synth", "revos", str(tmp_path / "revos"), "--videos", "1", "--frames", "4", "6", "--size", "32", "48"])
        == 0
    )
    args = ["prepare", "revos", "--root", str(tmp_path / "revos"), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*args, "--split", "valid", "--workers", "1"]) == 0
    assert main([*args, "--split", "test"]) == 2  # not a ReVOS split
    assert main([*args, "--split", "valid", "--workers", "2", "--unit-timeout", "0"]) == 0  # 0: no limit
    assert main([*args, "--split", "valid", "--unit-timeout", "-5"]) == 2
    assert "unit_timeout_s must be > 0" in capsys.readouterr().err
    (tmp_path / "revos" / "mask_dict.json").unlink()
    assert main([*args, "--split", "train"]) == 2  # unreadable dataset
    assert "mask_dict.json not found" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "nope", "--root", "x", "--split", "train", "--out", "y"])
    assert exc.value.code == 2


def test_synth_all_and_real_metadata(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                "all",
                str(tmp_path / "s"),
                "--videos",
                "1",
                "--frames",
                "3",
                "4",
                "--images",
                "2",
                "--size",
                "32",
                "48",
                "--audio-seconds",
                "0.5",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["mevis", "refavs", "refcocog", "revos"]
    meta = tmp_path / "m.csv"
    meta.write_text("vid,uid,split,fid,exp\nv1,v1_cat_1,train,1,The cat.\nv2,v2_dog_1,val,0,The dog.\n")
    assert (
        main(
            ["synth", "refavs", str(tmp_path / "r"), "--metadata", str(meta), "--max-videos", "1", "--size", "32", "48"]
        )
        == 0
    )
    assert (tmp_path / "r" / "gt_mask" / "v1" / "fid_1").is_dir() and not (tmp_path / "r" / "media" / "v2").exists()
    assert "media synthesised for 1 videos" in capsys.readouterr().out
