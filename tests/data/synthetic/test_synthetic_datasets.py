"""Synthetic datasets: deterministic, and the ground truth they claim is true of the pixels and the audio."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import soundfile as sf
from pycocotools import mask as coco_mask

from omni_r1_verl.data.synthetic import write_refavs, write_refcocog, write_revos
from omni_r1_verl.data.synthetic.scene import COLOURS, RIDDLES, TONES, describe, random_scene


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    kwargs = dict(train_videos=1, valid_videos=1, min_frames=6, max_frames=8, height=32, width=48)
    a = write_revos(tmp_path / "a", seed=3, **kwargs)
    b = write_revos(tmp_path / "b", seed=3, **kwargs)
    c = write_revos(tmp_path / "c", seed=4, **kwargs)
    assert _digest(a) == _digest(b) != _digest(c)


@pytest.mark.parametrize("seed", range(6))
def test_scene_masks_are_visible_pixels(seed):
    scene = random_scene(np.random.default_rng(seed), 40, 64, 12, 4)
    frames, masks = scene.render()
    assert frames.shape == (12, 40, 64, 3) and masks.shape == (4, 12, 40, 64)
    assert masks.sum(axis=0).max() <= 1  # visible masks never overlap: nearer objects occlude
    for i, obj in enumerate(scene.objects):
        outside = [t for t in range(12) if not obj.enter <= t <= obj.leave]
        assert not masks[i, outside].any()
        visible = masks[i].any(axis=(1, 2))
        colour = np.asarray(COLOURS[obj.colour])
        for t in np.flatnonzero(visible):  # drawn in the object's colour (before JPEG)
            assert np.array_equal(frames[t][masks[i, t]][0], colour)


@pytest.mark.parametrize("seed", range(6))
def test_expressions_pick_out_exactly_their_objects(seed):
    scene = random_scene(np.random.default_rng(seed), 40, 64, 12, 4)
    vocabulary = {*COLOURS, *TONES, "left", "right", "up", "down"}
    for expr in describe(scene):
        words = [w[:-1] if w[:-1] in TONES else w for w in expr.text.split()]  # "squares" -> "square"
        named = [w for w in words if w in vocabulary]
        match = tuple(
            i for i, o in enumerate(scene.objects) if all(w in (o.colour, o.shape, o.direction) for w in named)
        )
        if expr.kind == "reasoning":  # names a property of the shape instead of the shape
            match = tuple(i for i, o in enumerate(scene.objects) if expr.text.endswith(RIDDLES[o.shape]))
        assert match == expr.objects, expr


def test_revos_files_use_null_for_absent_frames(tmp_path):
    root = write_revos(tmp_path / "r", train_videos=3, valid_videos=1, min_frames=20, max_frames=24, seed=1)
    masks = json.loads((root / "mask_dict.json").read_text())
    entries = [e for per_frame in masks.values() for e in per_frame]
    assert any(e is None for e in entries) and any(e is not None for e in entries)
    assert all(coco_mask.decode(e).shape == (96, 160) for e in entries if e is not None)
    meta = json.loads((root / "meta_expressions_train_.json").read_text())["videos"]
    assert any(len(e["anno_id"]) > 1 for v in meta.values() for e in v["expressions"].values())
    assert {e["type_id"] for v in meta.values() for e in v["expressions"].values()} == {0, 1}


def test_refavs_audio_identifies_the_sounding_objects(tmp_path):
    import csv

    root = write_refavs(tmp_path / "a", videos=5, audio_seconds=1.0, seed=2)
    with open(root / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["split"] for r in rows} == {"train", "val", "test_s", "test_u", "test_n", "TODO"}
    assert any(r["uid"].startswith("null_") and r["split"] == "train" for r in rows)
    for vid in {r["vid"] for r in rows}:
        wave, rate = sf.read(root / "media" / vid / "audio.wav")
        spectrum = np.abs(np.fft.rfft(wave))
        freqs = np.fft.rfftfreq(len(wave), 1 / rate)
        loud = {
            name for name, hz in TONES.items() if spectrum[np.argmin(np.abs(freqs - hz))] > 20 * np.median(spectrum)
        }
        sounding = {r["uid"].rsplit("_", 2)[-2] for r in rows if r["vid"] == vid and "sounding" in r["exp"]}
        if sounding:
            assert sounding <= loud
        silent = {r["uid"].rsplit("_", 2)[-2] for r in rows if r["vid"] == vid and "silent" in r["exp"]}
        assert not silent & loud


def test_refcocog_points_lie_inside_the_box(tmp_path):
    import pyarrow.parquet as pq

    from omni_r1_verl.data.converters.refcocog import parse_solution

    root = write_refcocog(tmp_path / "c", images=6, size=96)
    for rec in pq.read_table(root / "data" / "train-00000-of-00001.parquet").to_pylist():
        (x1, y1, x2, y2), points = parse_solution(rec["solution"])
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in points)
        assert rec["problem"] and rec["image"]["bytes"][:2] == b"\xff\xd8"
