"""``OmniR1RewardManager.run_single`` on hand-built ``DataProto``s (no Ray: the group gate is process-local)."""

from __future__ import annotations

import asyncio
import json

import pytest
from reward_helpers import make_batch
from transformers import AutoTokenizer

from omni_r1_verl.contracts.system2 import DetailResult, KeyframeDetail, MaskOverlap
from omni_r1_verl.doctor import compose_config
from omni_r1_verl.reward.manager import OmniR1RewardManager
from omni_r1_verl.scoring import METRIC_KEYS, RewardConfig, score_group, score_response
from omni_r1_verl.utils.config import ConfigError

GT = json.dumps(
    {"task": "vos", "gt_key": "v/0", "num_frames": 8, "height": 64, "width": 64, "num_objects": 1,
     "areas": [[0, 0, 50, 50, 50, 50, 50, 50]]}
)  # fmt: skip
EXTRA = {"clip": {"frame_indices": list(range(8)), "fps": 2.0}, "sample_id": "v/0", "split": "train"}
MOMENT = '{"start_time": "00:01.0", "end_time": "00:01.0", "description": "the dog"}'
DETAIL = DetailResult(
    status="ok",
    keyframes=(KeyframeDetail(2, ((4.0, 4.0, 20.0, 20.0),), ((4.0, 4.0, 24.0, 20.0),)),),
    masks=MaskOverlap((0, 1, 2, 3), (0, 0, 40, 45), (0, 0, 50, 50)),
).to_dict()


def text(think_words: int, answer: str = MOMENT) -> str:
    return f"<think>{' '.join(['look'] * think_words)}</think> <answer>[{answer}]</answer>"


@pytest.fixture(scope="module")
def tokenizer(tiny_assets):
    return AutoTokenizer.from_pretrained(tiny_assets.thinker)


def make_manager(tiny_assets, tokenizer, *overrides):
    cfg = compose_config(
        ["+recipe=omni_r1", f"actor_rollout_ref.model.path={tiny_assets.thinker}", "actor_rollout_ref.rollout.n=4"]
        + list(overrides)
    )
    manager = OmniR1RewardManager(cfg, tokenizer)
    return manager, manager.reward_config


def sample(t: str, **fields) -> dict:
    return {
        "text": t,
        "reward_model": {"ground_truth": GT},
        "extra_info": dict(EXTRA),
        "data_source": "revos",
        **fields,
    }


async def test_scores_like_the_library_with_the_fixed_key_set(tiny_assets, tokenizer):
    manager, cfg = make_manager(tiny_assets, tokenizer)
    t = text(3)
    data, _ = make_batch(tokenizer, [sample(t, tool_extra_fields={"detail": DETAIL})])
    out = await manager.run_single(data)
    expected = score_response(t, GT, EXTRA, DETAIL, cfg).with_length(0.0, length_no_group=1.0)
    assert tuple(out["reward_extra_info"]) == METRIC_KEYS
    assert out["reward_extra_info"] == pytest.approx(expected.to_metrics())
    assert out["reward_score"] == pytest.approx(expected.score)
    assert out["reward_extra_info"]["alignment_reward"] > 0 and out["reward_extra_info"]["consistency_reward"] > 0


async def test_plain_agent_loop_without_detail_is_counted_not_fatal(tiny_assets, tokenizer):
    manager, _ = make_manager(tiny_assets, tokenizer)
    data, _ = make_batch(tokenizer, [sample(text(3), uid="u")])
    info = (await manager.run_single(data))["reward_extra_info"]
    assert info["detail_missing"] == 1.0 and info["keyframe_reward"] > 0 and info["alignment_reward"] == 0.0


@pytest.mark.parametrize("garbage", ["", "<answer>{{{{", "\x00\ufffd" * 50, "<think></think><answer>[" + "{}," * 500])
async def test_malformed_output_scores_finite(tiny_assets, tokenizer, garbage):
    manager, _ = make_manager(tiny_assets, tokenizer)
    data, _ = make_batch(tokenizer, [sample(garbage, uid="u", tool_extra_fields={"detail": {"status": "??"}})])
    out = await manager.run_single(data)
    assert tuple(out["reward_extra_info"]) == METRIC_KEYS and out["reward_score"] == out["reward_score"]


async def test_group_length_term_equals_the_pure_group_function(tiny_assets, tokenizer):
    manager, cfg = make_manager(
        tiny_assets, tokenizer, "reward.reward_kwargs.length.min_tokens=20", "reward.reward_kwargs.length.max_tokens=60"
    )
    texts = [text(2), text(30), text(80), "<answer>nothing</answer>"]
    samples = [sample(t, uid="g0", session_id=i, tool_extra_fields={"detail": DETAIL}) for i, t in enumerate(texts)]
    data, lengths = make_batch(tokenizer, samples)
    # Score the members concurrently in reverse order, as independent reward-loop calls would.
    outs = await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in reversed(range(4))))
    outs = outs[::-1]
    expected = score_group(texts, GT, EXTRA, [DETAIL] * 4, lengths, cfg)
    assert [o["reward_extra_info"]["length_reward"] for o in outs] == [e.length_reward for e in expected]
    assert sorted(e.length_reward for e in expected) == [0.0, 0.0, 0.0, 1.0]  # one rollout is in the window
    assert [o["reward_score"] for o in outs] == pytest.approx([e.score for e in expected])


async def test_validation_split_gets_no_length_term_and_does_not_wait(tiny_assets, tokenizer):
    manager, _ = make_manager(tiny_assets, tokenizer, "reward.reward_kwargs.length.min_tokens=1")
    s = sample(text(3), uid="val-0")
    s["extra_info"]["split"] = "val"
    data, _ = make_batch(tokenizer, [s])
    out = await asyncio.wait_for(manager.run_single(data), 10)
    assert out["reward_extra_info"]["length_reward"] == 0.0 and out["reward_extra_info"]["length_group_timeout"] == 0


async def test_lonely_member_times_out_and_says_so(tiny_assets, tokenizer):
    manager, _ = make_manager(
        tiny_assets,
        tokenizer,
        "reward.reward_kwargs.length.min_tokens=1",
        "reward.reward_kwargs.length.group_timeout_s=0.1",
    )
    data, _ = make_batch(tokenizer, [sample(text(3), uid="alone", session_id=0, tool_extra_fields={"detail": DETAIL})])
    info = (await manager.run_single(data))["reward_extra_info"]
    assert info["length_group_timeout"] == 1.0 and info["length_reward"] == 0.0


async def test_the_group_size_is_rollout_n(tiny_assets, tokenizer):
    manager, _ = make_manager(
        tiny_assets, tokenizer, "reward.reward_kwargs.length.min_tokens=1", "actor_rollout_ref.rollout.n=1"
    )
    assert manager.group_size == 1
    data, _ = make_batch(tokenizer, [sample(text(3), uid="solo", session_id=0, tool_extra_fields={"detail": DETAIL})])
    info = await asyncio.wait_for(manager.run_single(data), 10)
    assert info["reward_extra_info"]["length_group_timeout"] == 0.0  # a group of one is complete at once


async def test_unknown_reward_kwargs_fail_at_construction(tiny_assets, tokenizer):
    with pytest.raises(ConfigError, match=r"reward\.reward_kwargs\.weights\.alpha_g"):
        make_manager(tiny_assets, tokenizer, "+reward.reward_kwargs.weights.alpha_g=2")


async def test_the_manager_reads_only_its_own_section(tiny_assets, tokenizer):
    """Dropped into another verl run (no recipe, no `system2` section), it builds from verl's config alone."""
    cfg = compose_config([f"actor_rollout_ref.model.path={tiny_assets.thinker}", "+reward.reward_kwargs={}"])
    manager = OmniR1RewardManager(cfg, tokenizer)
    assert manager.reward_config == RewardConfig() and manager.group_size == 1
    data, _ = make_batch(tokenizer, [sample(text(3), uid="x", session_id=0, tool_extra_fields={"detail": DETAIL})])
    out = await asyncio.wait_for(manager.run_single(data), 10)
    assert tuple(out["reward_extra_info"]) == METRIC_KEYS and out["reward_extra_info"]["alignment_reward"] > 0
