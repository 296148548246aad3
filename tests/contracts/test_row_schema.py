"""Row payloads round-trip and media paths stay inside the dataset root."""

from __future__ import annotations

import os

import pytest

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task, UnsafePathError, resolve_under_root


def test_ground_truth_round_trip():
    gt = GroundTruth(
        task="vos", gt_key="revos/v1/e0", num_frames=3, height=4, width=5, num_objects=2, areas=[[0, 3, 4], [1, 0, 0]]
    )
    back = GroundTruth.from_json(gt.to_json())
    assert back == gt and back.task is Task.VOS
    assert GroundTruth.from_json({**vars(gt), "task": "vos"}) == gt


def test_ground_truth_rejects_inconsistent_areas():
    with pytest.raises(ValueError, match="areas"):
        GroundTruth(task="vos", gt_key="k", num_frames=3, height=4, width=5, num_objects=1, areas=[[1, 2]])
    with pytest.raises(ValueError):
        GroundTruth(task="nope", gt_key="k", num_frames=1, height=1, width=1, num_objects=0)


def test_media_ref_round_trip():
    media = MediaRef(frames=["a/00000.jpg", "a/00001.jpg"], audio="a/audio.wav", fps=5.0)
    assert MediaRef.from_json(media.to_json()) == media


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x.jpg", "a/../../x.jpg", ""])
def test_paths_escaping_the_root_are_rejected(tmp_path, bad):
    with pytest.raises(UnsafePathError):
        resolve_under_root(tmp_path, bad)


def test_symlink_out_of_the_root_is_rejected(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    with pytest.raises(UnsafePathError, match="outside"):
        resolve_under_root(root, "link.txt")
    (root / "ok.jpg").write_bytes(b"")
    assert resolve_under_root(root, "ok.jpg") == (root / "ok.jpg").resolve()
