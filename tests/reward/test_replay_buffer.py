"""The V1 sampler that adds the reward's step means: loaded the way verl loads a custom sampler, verl's DAPO
arguments rebuilt from the recipe, the means of the drawn training batch (padding excluded) in the step metrics."""

from __future__ import annotations

import numpy as np
import pytest
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync
from verl.utils.import_utils import load_extern_type

from omni_r1_verl.doctor import compose_config
from omni_r1_verl.reward import replay_buffer as module
from omni_r1_verl.reward.replay_buffer import RewardMetricsReplayBuffer, RewardMetricsReplayBufferAsync, dapo_kwargs


def _build(cfg, cls=None):
    """Construct the recipe's sampler as verl's _build_replay_buffer does a custom one (same loader, same args)."""
    sampler = cfg.trainer.v1.sampler
    cls = cls or load_extern_type(sampler.custom_sampler.path, sampler.custom_sampler.name)
    return cls(
        trainer_mode="sync",
        trainer_config=cfg.trainer.v1.get("sync", {}),
        max_off_policy_threshold=sampler.max_off_policy_threshold,
        max_off_policy_strategy=sampler.max_off_policy_strategy,
        sampler_kwargs=sampler.sampler_kwargs,
        refill_fn=lambda n: None,
    )


def test_recipe_selects_it_and_keeps_verls_defaults():
    buffer = _build(compose_config(["+recipe=omni_r1"]))
    assert type(buffer) is RewardMetricsReplayBuffer and isinstance(buffer, ReplayBuffer)
    assert buffer.filter_groups_metric is None and buffer.max_inflight_gen_batches == 1
    assert buffer.train_batch_size == buffer.gen_batch_size == 8


def test_dapo_variant_keeps_group_filtering():
    buffer = _build(compose_config(["+recipe=omni_r1_dapo"]))
    # What verl's _build_replay_buffer gives its own sync buffer under DAPO.
    assert buffer.filter_groups_metric == "acc"
    assert (buffer.train_batch_size, buffer.gen_batch_size, buffer.max_inflight_gen_batches) == (8, 1, 3)


def test_dapo_kwargs_rules():
    on = {"filter_groups": {"enable": True, "metric": "acc", "max_inflight_gen_batches": 2}, "train_batch_size": 4}
    assert dapo_kwargs(on, sync=True) == {
        "filter_groups_metric": "acc",
        "sync_refill_failed_groups": False,
        "train_batch_size": 4,
        "gen_batch_size": 1,
        "max_inflight_gen_batches": 2,
    }
    assert dapo_kwargs({"train_batch_size": 4, "gen_batch_size": 2}, sync=True)["gen_batch_size"] == 2
    assert dapo_kwargs({"sync_refill_failed_groups": True, "train_batch_size": 4}, sync=True)["gen_batch_size"] == 1
    assert set(dapo_kwargs(on, sync=False)) == {"filter_groups_metric", "sync_refill_failed_groups"}
    with pytest.raises(ValueError, match="metric"):
        dapo_kwargs({"filter_groups": {"enable": True, "metric": None}}, sync=True)


def test_async_buffer_is_verls_async_one():
    cfg = compose_config(["+recipe=omni_r1"])
    buffer = _build(cfg, RewardMetricsReplayBufferAsync)
    assert isinstance(buffer, ReplayBufferAsync)
    # verl's async buffer takes no batch-size arguments: none were passed (it would have raised).
    assert buffer.filter_groups_metric is None and buffer.train_batch_size is None


@pytest.fixture
def drawn(monkeypatch):
    """verl's draw replaced by a fixed batch (3 trajectories, one padding), TransferQueue by its fields."""
    batch = KVBatchMeta(partition_id="train", keys=["u1_0", "u1_1", "u2_0"], tags=[{}, {}, {"is_padding": True}])
    monkeypatch.setattr(ReplayBuffer, "sample", lambda self, **kw: (batch, {"verl/own": 1.0}))
    fields = {
        "u1_0": {"reward_extra_info": {"score": 1.0, "detail_ran": 1.0}},
        "u1_1": {"reward_extra_info": {"score": 0.0, "detail_ran": 0.0}},
        "u2_0": {"reward_extra_info": {"score": 9.0, "detail_ran": 9.0}},
    }
    asked = []

    def kv_batch_get(keys, partition_id, select_fields=None):
        asked.append((list(keys), partition_id, select_fields))
        return {"extra_fields": np.array([fields[k] for k in keys], dtype=object)}

    monkeypatch.setattr(module.tq, "kv_batch_get", kv_batch_get)
    return _build(compose_config(["+recipe=omni_r1"])), asked


def test_step_means_of_the_drawn_batch(drawn):
    buffer, asked = drawn
    batch, metrics = buffer.sample(global_steps=1, partition_id="train", batch_size=2)
    assert batch.keys == ["u1_0", "u1_1", "u2_0"]  # the batch itself is verl's
    assert asked == [(["u1_0", "u1_1"], "train", ["extra_fields"])]  # padding is not read
    assert metrics["verl/own"] == 1.0
    assert metrics["omni_r1/score"] == 0.5 and metrics["omni_r1/detail_ran"] == 0.5
    assert metrics["omni_r1/count"] == 2.0


def test_validation_is_left_to_verl(drawn):
    buffer, asked = drawn
    _, metrics = buffer.sample(global_steps=1, partition_id="val", batch_size=2)
    assert asked == [] and metrics == {"verl/own": 1.0}


def test_a_failed_read_never_stops_the_step(drawn, monkeypatch, caplog):
    buffer, _ = drawn

    def broken(**kw):
        raise ConnectionError("storage unit gone")

    monkeypatch.setattr(module.tq, "kv_batch_get", broken)
    batch, metrics = buffer.sample(global_steps=1, partition_id="train", batch_size=2)
    assert metrics == {"verl/own": 1.0} and len(batch.keys) == 3
    assert "step goes on" in caplog.text
