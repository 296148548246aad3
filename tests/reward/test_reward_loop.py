"""The reward inside verl's real ``RewardLoopManager`` on a local Ray cluster (CPU): the ``omni_r1`` manager
registered by our entry point, and ``compute_score`` under verl's ``dapo`` manager."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from reward_helpers import make_batch
from transformers import AutoTokenizer

from omni_r1_verl.contracts.system2 import DetailResult, KeyframeDetail, MaskOverlap
from omni_r1_verl.doctor import compose_config
from omni_r1_verl.reward.score import compute_score
from omni_r1_verl.scoring import METRIC_KEYS, RewardConfig, score_group

pytestmark = pytest.mark.ray

GT = json.dumps(
    {"task": "vos", "gt_key": "v/1", "num_frames": 6, "height": 32, "width": 32, "num_objects": 1,
     "areas": [[0, 9, 9, 9, 9, 9]]}
)  # fmt: skip
EXTRA = {"clip": {"frame_indices": list(range(6)), "fps": 2.0}, "sample_id": "v/1", "split": "train"}
DETAIL = DetailResult(
    status="ok",
    keyframes=(KeyframeDetail(1, ((2.0, 2.0, 9.0, 9.0),), ((2.0, 2.0, 9.0, 11.0),)),),
    masks=MaskOverlap((0, 1, 2), (0, 7, 9), (0, 9, 9)),
).to_dict()


def response(words: int, start: str = "00:00.5") -> str:
    moment = json.dumps({"start_time": start, "end_time": start, "description": "the red ball"})
    return f"<think>{' '.join(['hmm'] * words)}</think><answer>[{moment}]</answer>"


def samples():
    """Two GRPO groups of four, interleaved so that each group is split across the two reward workers."""
    texts = {
        "g0": [response(2), response(25), response(25, "00:09.0"), "no answer"],
        "g1": [response(25), "<think>x</think><answer>[]</answer>", response(40), response(3)],
    }
    rows = []
    for i in range(4):
        for uid, group in texts.items():
            rows.append(
                {
                    "text": group[i],
                    "uid": uid,
                    "session_id": i,
                    "data_source": "revos",
                    "reward_model": {"ground_truth": GT},
                    "extra_info": dict(EXTRA),
                    "tool_extra_fields": {"detail": DETAIL},
                }
            )
    return rows


def reward_loop(tiny_assets, *overrides):
    from verl.experimental.reward_loop import RewardLoopManager

    cfg = compose_config(
        [
            "+recipe=omni_r1",
            f"actor_rollout_ref.model.path={tiny_assets.thinker}",
            "actor_rollout_ref.rollout.n=4",
            "reward.reward_kwargs.length.min_tokens=10",
            "reward.reward_kwargs.length.max_tokens=60",
            *overrides,
        ]
    )
    return RewardLoopManager(cfg), cfg


def shutdown(manager):
    import ray

    for worker in manager.reward_loop_workers:
        ray.kill(worker)


def last_token_scores(out, data):
    prompt_len = data.batch["prompts"].shape[1]
    ends = data.batch["attention_mask"][:, prompt_len:].sum(-1) - 1
    return out.batch["rm_scores"][torch.arange(len(data)), ends].tolist()


def test_omni_r1_manager_in_reward_loop_manager(ray_cluster, tiny_assets):
    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.thinker)
    rows = samples()
    data, lengths = make_batch(tokenizer, rows)
    manager, cfg = reward_loop(tiny_assets, "reward.num_workers=2")
    try:
        out = manager.compute_rm_score(data)
    finally:
        shutdown(manager)
    assert out.meta_info["reward_extra_keys"] == list(METRIC_KEYS)
    config = RewardConfig.from_dict(OmegaConf.to_container(cfg.reward.reward_kwargs, resolve=True))
    for uid in ("g0", "g1"):
        idx = [i for i, r in enumerate(rows) if r["uid"] == uid]
        expected = score_group(
            [rows[i]["text"] for i in idx], GT, EXTRA, [DETAIL] * 4, [lengths[i] for i in idx], config
        )
        got = last_token_scores(out, data)
        assert [got[i] for i in idx] == pytest.approx([e.score for e in expected], abs=1e-5)
        assert out.non_tensor_batch["length_reward"][idx].tolist() == [e.length_reward for e in expected]
        assert out.non_tensor_batch["acc"][idx].tolist() == pytest.approx([e.acc for e in expected])
    assert set(out.non_tensor_batch["length_reward"].tolist()) == {0.0, 1.0}
    assert out.non_tensor_batch["length_group_timeout"].sum() == 0


def test_compute_score_under_the_dapo_manager(ray_cluster, tiny_assets):
    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.thinker)
    rows = samples()[:4]
    for row in rows:  # dapo does not forward the agent loop's extra fields; pass the detail through extra_info
        row["extra_info"] = {**EXTRA, "detail": DETAIL}
    data, _ = make_batch(tokenizer, rows)
    manager, _ = reward_loop(
        tiny_assets,
        "reward.num_workers=1",
        "reward.reward_manager.name=dapo",
        "reward.custom_reward_function.path=pkg://omni_r1_verl.reward.score",
        "reward.custom_reward_function.name=compute_score",
        "+reward.custom_reward_function.reward_kwargs.weights.alignment=3.0",
    )
    try:
        out = manager.compute_rm_score(data)
    finally:
        shutdown(manager)
    expected = [compute_score("revos", r["text"], GT, r["extra_info"], weights={"alignment": 3.0}) for r in rows]
    assert last_token_scores(out, data) == pytest.approx([e["score"] for e in expected], abs=1e-5)
    assert out.non_tensor_batch["acc"].tolist() == pytest.approx([e["acc"] for e in expected])
    assert set(METRIC_KEYS) <= set(out.meta_info["reward_extra_keys"])
    assert out.non_tensor_batch["alignment_reward"].max() > 0


def test_validation_rollouts_reach_the_gallery_through_the_shared_collector(ray_cluster, tiny_assets, tmp_path):
    import time

    import ray

    from omni_r1_verl.reward.gallery import collector_actor_name
    from omni_r1_verl.visualize.synthetic import synthetic_rollout

    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.thinker)
    rollouts = [synthetic_rollout(tmp_path / f"r{i}", seed=i, num_frames=8, height=48, width=64) for i in range(3)]
    rows = [
        {
            "text": r["text"],
            "uid": f"u{i}",
            "data_source": "synthetic",
            "reward_model": {"ground_truth": r["ground_truth"]},
            "extra_info": r["extra_info"],
            "tool_extra_fields": {"detail": r["detail"], "global_steps": 4},
        }
        for i, r in enumerate(rollouts)
    ]
    data, _ = make_batch(tokenizer, rows)
    root = tmp_path / "gallery"
    overrides = ("reward.num_workers=2", f"++gallery.dir={root}", "++gallery.samples=2", "++gallery.loggers=false")
    manager, _ = reward_loop(tiny_assets, *overrides)
    try:
        manager.compute_rm_score(data)
        page = root / "step_4" / "index.html"
        deadline = time.monotonic() + 120  # the collector draws after the rewards returned
        while not (page.is_file() and page.read_text().count('class="entry"') == 2) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert page.read_text().count('class="entry"') == 2
        assert "(validation)" in page.read_text() and (root / "index.html").is_file()
    finally:
        shutdown(manager)
        ray.kill(ray.get_actor(collector_actor_name(str(root))))
