"""The training-time rollout gallery without a trainer: which step and kind a trajectory belongs to, the uniform
sample of a step, the pages, the loggers, and the manager's hook (off: nothing at all)."""

from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pytest
from reward_helpers import make_batch
from test_manager import make_manager
from transformers import AutoTokenizer

from omni_r1_verl.reward.gallery import (
    TRAIN,
    VALIDATION,
    GalleryCollector,
    GalleryConfig,
    RolloutGallery,
    collector_actor_name,
    rollout_step,
    selection_key,
)
from omni_r1_verl.utils.config import ConfigError
from omni_r1_verl.visualize.synthetic import synthetic_rollout


@pytest.fixture(scope="module")
def tokenizer(tiny_assets):
    return AutoTokenizer.from_pretrained(tiny_assets.thinker)


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory):
    """Four synthetic rollouts (different videos) as the reward sees them."""
    root = tmp_path_factory.mktemp("rollouts")
    return [synthetic_rollout(root / f"r{i}", seed=i, num_frames=8, height=48, width=64) for i in range(4)]


def payload(rollout, kind=VALIDATION, step=3, text=None):
    text = rollout["text"] if text is None else text
    sample = rollout["extra_info"]["sample_id"]
    return {
        "kind": kind,
        "step": step,
        "key": selection_key(kind, step, sample, text),
        "text": text,
        "ground_truth": rollout["ground_truth"],
        "extra_info": rollout["extra_info"],
        "detail": rollout["detail"],
        "metrics": rollout["metrics"],
    }


def collector(tmp_path, loggers=(), **cfg):
    run = {"root": str(tmp_path / "rollout_gallery"), "loggers": list(loggers), "project": "p", "experiment": "e"}
    return GalleryCollector({"samples": 2, "stills": 2, "width": 160, **cfg}, run, {}, watch=False)


def page_titles(page) -> list[str]:
    return re.findall(r'<h2>\d+\. (.*?)<span class="score">', page.read_text())


def test_step_and_kind_come_from_the_weights_step_and_the_split():
    # verl's fit loop: weights of step N make the validation after step N and the training rollouts of step N + 1.
    assert rollout_step({"global_steps": 4}, {"split": "valid"}) == (VALIDATION, 4)
    assert rollout_step({"global_steps": np.int64(4)}, {"split": "train"}) == (TRAIN, 5)
    assert rollout_step({"global_steps": None}, {"split": "train"}) is None
    assert rollout_step(None, {}) is None
    cfg = GalleryConfig(train_every=5)
    assert cfg.wants(VALIDATION, 1) and cfg.wants(TRAIN, 10) and not cfg.wants(TRAIN, 11)
    assert not GalleryConfig(validation=False).enabled and GalleryConfig().wants(VALIDATION, 0)
    with pytest.raises(ConfigError, match="gallery: samples=0: must be >= 1"):
        from omni_r1_verl.utils.config import build

        build(GalleryConfig, {"samples": 0}, "gallery")


def test_a_step_keeps_the_smallest_keys_whatever_the_order(tmp_path, rollouts):
    offers = [payload(r) for r in rollouts]
    smallest = sorted(offers, key=lambda p: p["key"])[:2]
    expected = sorted(p["extra_info"]["sample_id"] for p in smallest)
    for order, folder in ((offers, tmp_path / "a"), (offers[::-1], tmp_path / "b")):
        gallery = collector(folder)
        accepted = [gallery.offer(p) for p in order]
        assert sum(accepted) >= 2
        page = folder / "rollout_gallery" / "step_3" / "index.html"
        titles = page_titles(page)
        assert sorted(t.split(" (")[0] for t in titles) == expected
        assert all(t.endswith("(validation)") for t in titles)
        assert 'href="step_3/index.html"' in (folder / "rollout_gallery" / "index.html").read_text()
        scores = [float(s) for s in re.findall(r'<span class="score">([\d.]+)</span>', page.read_text())]
        assert scores == sorted(scores, reverse=True)  # best first
        assert not gallery.offer(smallest[0])  # the same rollout again


def test_later_steps_close_earlier_ones_and_stragglers_are_ignored(tmp_path, rollouts):
    gallery = collector(tmp_path, loggers=["tensorboard"], samples=1)
    logged = []
    gallery.loggers.log = lambda kind, step, images: logged.append((kind, step, len(images)))
    assert gallery.offer(payload(rollouts[0], TRAIN, 5))
    assert gallery.offer(payload(rollouts[1], VALIDATION, 5))
    assert logged == [(TRAIN, 5, 1)]  # the validation after step 5 ends step 5's training rollouts
    assert not gallery.offer(payload(rollouts[2], TRAIN, 5))  # a straggler
    gallery.log_idle(now=float("inf"))
    assert logged[-1] == (VALIDATION, 5, 1)
    assert gallery.offer(payload(rollouts[2], VALIDATION, 6))  # the next step forgets step 5
    assert list(gallery.steps) == [(VALIDATION, 6)]
    assert not gallery.offer(payload(rollouts[3], VALIDATION, 5))
    titles = page_titles(tmp_path / "rollout_gallery" / "step_5" / "index.html")
    assert [t.rsplit(" ", 1)[1] for t in titles] == ["(validation)", "(training)"]


def test_an_unreadable_rollout_is_skipped(tmp_path, rollouts):
    gallery = collector(tmp_path)
    broken = payload(rollouts[0])
    broken["extra_info"] = {**broken["extra_info"], "dataset_root": str(tmp_path / "nowhere")}
    assert not gallery.offer(broken) and not (tmp_path / "rollout_gallery").exists()


def test_tensorboard_gets_the_pictures_at_the_trainer_step(tmp_path, rollouts, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("TENSORBOARD_DIR", str(tmp_path / "tb"))
    gallery = collector(tmp_path, loggers=["console", "tensorboard"])
    for r in rollouts[:2]:
        gallery.offer(payload(r, step=7))
    gallery.close()
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0}).Reload()
    tags = sorted(events.Tags()["images"])
    assert tags == ["rollout_gallery/validation/0", "rollout_gallery/validation/1"]
    (image,) = events.Images(tags[0])
    assert image.step == 7 and image.width == 1024 and image.height > 200


def test_wandb_gets_a_companion_run_with_the_pictures(tmp_path, rollouts, monkeypatch):
    calls = []

    class Run:
        def log(self, data, step):
            calls.append(("log", data, step))

        def finish(self):
            calls.append(("finish",))

    fake = types.SimpleNamespace(
        init=lambda **kw: calls.append(("init", kw)) or Run(),
        Image=lambda image, caption: ("image", image.shape, caption),
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    gallery = collector(tmp_path, loggers=["wandb"], samples=1)
    gallery.offer(payload(rollouts[0], step=2))
    gallery.close()
    (init,) = [c for c in calls if c[0] == "init"]
    assert init[1]["name"] == "e-rollout-gallery" and init[1]["project"] == "p" and init[1]["resume"] == "allow"
    (log,) = [c for c in calls if c[0] == "log"]
    ((key, images),) = log[1].items()
    assert key == "rollout_gallery/validation" and log[2] == 2 and images[0][1][1] == 1024
    assert calls[-1] == ("finish",)


def test_each_gallery_folder_has_its_own_collector_actor():
    # Two runs in one Ray namespace (a sweep, a test session) must not draw into each other's folders.
    a, b = collector_actor_name("/runs/a/rollout_gallery"), collector_actor_name("/runs/b/rollout_gallery")
    assert a != b and a == collector_actor_name("/runs/a/rollout_gallery")
    assert a.startswith("omni_r1_rollout_gallery-")


async def test_off_costs_nothing_and_on_the_manager_hands_validation_rollouts_over(
    tiny_assets, tokenizer, tmp_path, monkeypatch
):
    import ray

    # The in-process collector, even when an earlier test of the session left Ray running (the shared actor is
    # tests/reward/test_reward_loop.py's); it draws before offer returns, so the pages can be read at once.
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    off, _ = make_manager(tiny_assets, tokenizer, "++gallery.validation=false")
    assert off._gallery is None
    rollout = synthetic_rollout(tmp_path / "r", num_frames=8, height=48, width=64)
    root = tmp_path / "gallery"
    gallery = (f"++gallery.dir={root}", "++gallery.samples=1", "++gallery.loggers=false")
    on, _ = make_manager(tiny_assets, tokenizer, *gallery)
    assert isinstance(on._gallery, RolloutGallery) and on._gallery.run.root == str(root)
    rows = [
        {
            "text": rollout["text"],
            "reward_model": {"ground_truth": rollout["ground_truth"]},
            "extra_info": {**rollout["extra_info"], "split": split},
            "data_source": "synthetic",
            "tool_extra_fields": {"detail": rollout["detail"], "global_steps": 2},
        }
        for split in ("train", "valid")
    ]
    data, _ = make_batch(tokenizer, rows)
    for i in range(len(rows)):
        await on.run_single(data[i : i + 1])
    # The training rollout (step 3) is not drawn by default; the validation rollout of step 2 is.
    assert sorted(p.name for p in root.iterdir()) == ["index.html", "step_2"]
    (title,) = page_titles(root / "step_2" / "index.html")
    assert title == "synthetic/0 (validation)"
    page = (root / "step_2" / "index.html").read_text()
    assert json.loads(rollout["ground_truth"])["gt_key"] in page and "R_G" in page
