"""Validation report: severities, actions, counts and the human summary."""

from __future__ import annotations

import json

import pytest

from omni_r1_verl.data.report import ISSUE_CODES, Issue, Severity, ValidationReport


def test_issue_severity_and_action_follow_the_code():
    assert Issue("missing_frame", "m").severity is Severity.ERROR and Issue("missing_frame", "m").action == "skipped"
    assert Issue("mask_size_mismatch", "m").action == "kept"
    assert Issue("unknown_split", "m").action == "excluded" and Issue("duplicate_row", "m").action == "dropped"
    with pytest.raises(ValueError, match="unknown issue code"):
        Issue("made_up", "m")


def test_every_code_is_documented_in_docs_data_md():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text()
    for code in ISSUE_CODES:
        assert f"`{code}`" in doc, code


def test_counts_lists_and_summary(tmp_path):
    report = ValidationReport("revos", "train", "/data", samples_total=5, samples_written=3)
    report.extend(
        [
            Issue("missing_frame", "frame not found", "v/00005.jpg", ["revos/train/v/0", "revos/train/v/1"]),
            Issue("mask_size_mismatch", "resized", "mask_dict.json['7']", ["revos/train/w/0"]),
            Issue("unknown_split", "1 rows", "metadata.csv", ["revos/TODO/x"]),
        ]
    )
    data = report.to_dict()
    assert data["samples_skipped"] == 2 and data["skipped_samples"] == ["revos/train/v/0", "revos/train/v/1"]
    assert data["excluded_samples"] == ["revos/TODO/x"]
    assert data["errors"] == {"missing_frame": 1} and data["warnings"] == {"mask_size_mismatch": 1, "unknown_split": 1}
    text = report.summary()
    assert "3 of 5 samples written, 2 skipped" in text and "v/00005.jpg: frame not found" in text
    report.write(tmp_path / "r.json", tmp_path / "r.txt")
    assert json.loads((tmp_path / "r.json").read_text())["issues"][0]["action"] == "skipped"
    assert "missing_frame" in (tmp_path / "r.txt").read_text()


def test_fatal_summary():
    report = ValidationReport("refavs", "train", "/x", fatal="/x/metadata.csv not found")
    assert report.summary() == "refavs/train: not converted: /x/metadata.csv not found"
