"""The gallery pages in a real headless browser (the synthetic gallery and one written by the training-time hook):
they render (screenshot not blank) and every image loads.

Needs a Chromium binary (Debian: ``apt-get install -y chromium``; or set ``OMNI_R1_CHROMIUM``); skipped without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from omni_r1_verl.visualize.synthetic import render_synthetic, synthetic_rollout

CHROMIUM = os.environ.get("OMNI_R1_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")


def _chromium(tmp_path, *args: str) -> str:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _image_counts(tmp_path, page) -> dict[str, int]:
    dom = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", page.as_uri())
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    return {k: int(v) for k, v in re.findall(r'data-images(-loaded|-failed)?="(\d+)"', body.group(0))}


def _rollout_gallery(out):
    """A step page written by the training-time hook's collector (omni_r1_verl.reward.gallery) from two rollouts."""
    from omni_r1_verl.reward.gallery import VALIDATION, GalleryCollector, selection_key

    run = {"root": str(out / "rollout_gallery"), "loggers": [], "project": "p", "experiment": "e"}
    collector = GalleryCollector({"samples": 2, "stills": 2, "width": 320}, run, {}, watch=False)
    for seed in (0, 1):
        r = synthetic_rollout(out / f"r{seed}", seed=seed, num_frames=8, height=72, width=96)
        key = selection_key(VALIDATION, 2, r["extra_info"]["sample_id"], r["text"])
        assert collector.offer({"kind": VALIDATION, "step": 2, "key": key, **r})
    return out / "rollout_gallery" / "step_2" / "index.html"


@pytest.fixture(scope="module", params=["synthetic", "rollouts"])
def gallery(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    if request.param == "rollouts":
        return _rollout_gallery(out)
    return render_synthetic(out, height=120, width=160, num_frames=20, fps=10.0, clip_frames=8)["gallery"]


def test_every_image_loads(gallery, tmp_path):
    counts = _image_counts(tmp_path, gallery)
    assert counts[""] >= 4
    assert counts["-loaded"] == counts[""] and counts["-failed"] == 0


def test_a_missing_image_is_counted_as_failed(gallery, tmp_path):
    copy = tmp_path / "gallery"
    shutil.copytree(gallery.parent, copy)
    next((copy / "images").glob("*_frame_0.jpg")).unlink()
    counts = _image_counts(tmp_path, copy / "index.html")
    assert counts["-failed"] == 1 and counts["-loaded"] == counts[""] - 1


def test_screenshot_is_not_blank(gallery, tmp_path):
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", gallery.as_uri())
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape == (1600, 1280, 3)
    assert image.std() > 20
    colours = np.unique(image.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 500  # photos and text, not a flat page
