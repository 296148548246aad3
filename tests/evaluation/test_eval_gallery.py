"""``omni-r1 eval --visualize K``: the K best and K worst samples of a run, from its records and saved masks, or
re-segmented from the recorded boxes when the masks were not saved."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
from conftest import settings
from PIL import Image

from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.evaluation.gallery import VisualizeError, rank, visualize_run
from omni_r1_verl.evaluation.records import load_records
from omni_r1_verl.evaluation.runner import run_eval
from omni_r1_verl.evaluation.samples import EvalSample, read_samples
from omni_r1_verl.evaluation.scorers import headline
from omni_r1_verl.visualize import read_video


@pytest.fixture(scope="module")
def run(tiny_assets, eval_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("revos_gallery")
    s = settings(tiny_assets, eval_data["revos"], out, "revos", baseline="oracle-box", save_masks=True, limit=4)
    run_eval(s)
    return s


def figures(out) -> dict[str, float]:
    records, _ = load_records(out / "samples.jsonl")
    return {k: headline("revos", {"key": k, **r["metrics"]}) for k, r in records.items()}


def titles(page) -> list[str]:
    return re.findall(r'<h2>\d+\. (.*?)<span class="score">', page.read_text())


def test_ranking_takes_each_end_once():
    records = {k: {"metrics": {"J": j, "F": j}} for k, j in (("a", 0.9), ("b", 0.1), ("c", 0.5), ("d", 0.5))}
    records["e"] = {"metrics": None}  # failed without a score: never drawn
    assert rank("revos", records, 1) == (["a"], ["b"])
    assert rank("revos", records, 2) == (["a", "c"], ["b", "d"])  # ties: by key at both ends
    assert rank("revos", records, 9) == (["a", "c", "d", "b"], [])


def test_gallery_of_the_best_and_worst_with_saved_masks(run):
    page = visualize_run(run, 1, progress=False)
    value = figures(run.out)
    best = min(value, key=lambda k: (-value[k], k))
    worst = min((k for k in value if k != best), key=lambda k: (value[k], k))
    assert titles(page) == [f"{best} (best)", f"{worst} (worst)"]
    html = page.read_text()
    assert html.count("saved") == 2 and "re-segmented" not in html
    images = sorted((page.parent / "images").glob("*"))
    assert len(images) == 2 * (1 + 4)  # a timeline and four stills each
    assert all(Image.open(p).size[0] in (640, 1280) for p in images)
    overlay, _ = read_video(page.parent / "videos" / "000.mp4")
    assert overlay.shape[0] == num_frames(run, best) and overlay.shape[2] == 640


def num_frames(s, key) -> int:
    for n, (k, row, _) in enumerate(read_samples(s.data)):
        if k == key:
            return EvalSample.from_row(row, n).num_frames
    raise KeyError(key)


def test_missing_masks_are_resegmented_from_the_recorded_boxes(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run.out, copy, ignore=shutil.ignore_patterns("masks", "gallery"))
    s = dataclasses.replace(run, out=copy)
    page = visualize_run(s, 1, progress=False)
    assert page.read_text().count("re-segmented from the recorded boxes") == 2
    names = sorted(p.name for p in (copy / "masks").iterdir())
    assert len(names) == 2 and all((copy / "masks" / n / "index.json").is_file() for n in names)
    # The same boxes through the same SAM2 give the masks the run saved.
    for name in names:
        for saved in (run.out / "masks" / name).iterdir():
            assert (copy / "masks" / name / saved.name).read_bytes() == saved.read_bytes()

    bare = tmp_path / "bare"
    shutil.copytree(copy, bare, ignore=shutil.ignore_patterns("masks", "gallery"))
    no_sam2 = dataclasses.replace(run, out=bare, system2=DetailConfig())
    with pytest.raises(VisualizeError, match="have no saved masks .* rerun with --save-masks"):
        visualize_run(no_sam2, 1, progress=False)
