"""MeViS offline table and the server submission: layout, completeness check, byte-identical re-packing."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from omni_r1_verl.metrics import MevisSubmission, mevis_table, read_mevis_submission


def test_table_hand_computed():
    rows = [{"key": "v_0", "J": 0.5, "F": 0.7}, {"key": "v_1", "J": 0.1, "F": 0.2}, {"key": "w_0", "J": 0.0, "F": 0.0}]
    table = mevis_table(rows)
    assert table["J"] == pytest.approx(20.0) and table["F"] == pytest.approx(30.0)
    assert table["JF"] == pytest.approx(25.0) and table["count"] == 3
    assert mevis_table(rows[::-1]) == table
    assert mevis_table([])["JF"] is None


def masks(rng, frames=3):
    return rng.random((frames, 6, 9)) > 0.5


def test_submission_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sub = MevisSubmission(tmp_path / "valid")
    a, b = masks(rng), masks(rng, 2)
    sub.add("0ab4afe7fb46", 0, ["00000", "00001"], a[:2])  # one expression fed in two chunks
    sub.add("0ab4afe7fb46", "0", ["00002"], a[2:])
    sub.add("0fea0cb75a25", 3, ["00000", "00005"], b)
    expected = {"0ab4afe7fb46": {"0": ["00000", "00001", "00002"]}, "0fea0cb75a25": {"3": ["00000", "00005"]}}
    path = sub.pack(tmp_path / "submission.zip", expected)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    # Video folders directly at the root of the archive, one folder per expression id, one PNG per frame.
    assert names == [
        "0ab4afe7fb46/0/00000.png",
        "0ab4afe7fb46/0/00001.png",
        "0ab4afe7fb46/0/00002.png",
        "0fea0cb75a25/3/00000.png",
        "0fea0cb75a25/3/00005.png",
    ]
    back = read_mevis_submission(path)
    assert np.array_equal(np.stack([back[("0ab4afe7fb46", "0")][f] for f in ("00000", "00001", "00002")]), a)
    assert np.array_equal(np.stack([back[("0fea0cb75a25", "3")][f] for f in ("00000", "00005")]), b)
    # Re-packing (e.g. after a resumed run rewrote some PNGs) gives the same bytes.
    first = path.read_bytes()
    sub.add("0fea0cb75a25", 3, ["00000", "00005"], b)
    assert sub.pack(tmp_path / "again.zip", expected).read_bytes() == first


def test_incomplete_or_unexpected_submission_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    sub = MevisSubmission(tmp_path / "valid")
    sub.add("vid", 1, ["00000"], masks(rng, 1))
    with pytest.raises(ValueError, match="1 missing PNGs"):
        sub.pack(tmp_path / "s.zip", {"vid": {"1": ["00000", "00001"]}})
    with pytest.raises(ValueError, match="1 unexpected"):
        sub.pack(tmp_path / "s.zip", {})
    assert not (tmp_path / "s.zip").exists()


def test_names_must_be_plain_file_names(tmp_path):
    sub = MevisSubmission(tmp_path)
    one = np.zeros((1, 2, 2), bool)
    for video, exp_id, frame in [("../x", 0, "00000"), ("v", "a/b", "00000"), ("v", 0, "/etc/passwd"), ("", 0, "f")]:
        with pytest.raises(ValueError, match="plain file name"):
            sub.add(video, exp_id, [frame], one)
    with pytest.raises(ValueError, match="frame names"):
        sub.add("v", 0, ["00000", "00001"], one)
    assert not any(tmp_path.rglob("*.png"))
