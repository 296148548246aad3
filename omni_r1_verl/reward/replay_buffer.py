"""verl's V1 replay buffer, plus the step means of the reward's per-sample metrics in the step's metrics.

verl's V1 trainer logs the step's score, advantages and lengths but not the ``reward_extra_info`` a reward manager
returns for each trajectory (only validation averages those). The V1 sampler is verl's extension point for what
happens when a step's batch is drawn: these subclasses draw exactly as verl's own buffers do, then read the drawn
trajectories' ``extra_fields.reward_extra_info`` from TransferQueue and add their means
(:func:`omni_r1_verl.scoring.summary.step_means`: ``omni_r1/format_reward``, ``omni_r1/answer_parsed``,
``omni_r1/detail_ran``, ... and ``omni_r1/count``) to the metrics verl logs for the step.

The recipe selects it::

    trainer.v1.sampler.custom_sampler.path=pkg://omni_r1_verl.reward.replay_buffer
    trainer.v1.sampler.custom_sampler.name=RewardMetricsReplayBuffer   # ...BufferAsync for the async trainer modes

verl passes a custom sampler none of its DAPO settings, so the recipe hands them over in
``trainer.v1.sampler.sampler_kwargs`` (interpolated from ``algorithm.filter_groups`` and ``data``) and
:func:`dapo_kwargs` rebuilds the arguments verl's ``_build_replay_buffer`` gives its own buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import transfer_queue as tq
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

from omni_r1_verl.scoring.summary import STEP_METRIC_PREFIX, step_means

logger = logging.getLogger(__name__)


def dapo_kwargs(sampler_kwargs: Mapping[str, Any] | None, sync: bool) -> dict[str, Any]:
    """verl's own replay-buffer arguments from the recipe's ``sampler_kwargs`` (as ``_build_replay_buffer``).

    Args:
        sampler_kwargs: ``trainer.v1.sampler.sampler_kwargs``: ``filter_groups`` (``algorithm.filter_groups``),
            ``train_batch_size``, ``gen_batch_size``, ``sync_refill_failed_groups``.
        sync: The buffer is the sync one (it alone takes the batch-size arguments).

    Returns:
        Keyword arguments for verl's ``ReplayBuffer.__init__``.

    Raises:
        ValueError: If group filtering is enabled without a metric.
    """
    opts = dict(sampler_kwargs or {})
    groups = opts.get("filter_groups") or {}
    metric = None
    if groups and groups.get("enable", False):
        metric = groups.get("metric")
        if not metric:
            raise ValueError("algorithm.filter_groups.metric must be set when group filtering is enabled")
        metric = str(metric)
    refill = bool(opts.get("sync_refill_failed_groups", False))
    out: dict[str, Any] = {"filter_groups_metric": metric, "sync_refill_failed_groups": refill}
    if sync:
        train_batch_size = opts.get("train_batch_size")
        out.update(
            train_batch_size=train_batch_size,
            gen_batch_size=1 if metric is not None or refill else (opts.get("gen_batch_size") or train_batch_size),
            max_inflight_gen_batches=int(groups.get("max_inflight_gen_batches", 1)) if metric is not None else 1,
        )
    return out


def read_reward_infos(keys: list[str], partition_id: str) -> list[Mapping[str, Any] | None]:
    """Each trajectory's ``reward_extra_info`` (``None`` when it has none), read from TransferQueue.

    Args:
        keys: Trajectory keys of the drawn batch.
        partition_id: Its TransferQueue partition.

    Returns:
        One entry per key, in order.
    """
    if not keys:
        return []
    data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=["extra_fields"])
    out = []
    for fields in list(data["extra_fields"]):
        info = fields.get("reward_extra_info") if isinstance(fields, Mapping) else None
        out.append(info if isinstance(info, Mapping) else None)
    return out


class RewardMetricsMixin:
    """Adds :func:`step_means` of the drawn training batch to ``sample``'s metrics (validation is left to verl)."""

    def __init__(self, *args: Any, sampler_kwargs: Any = None, **kwargs: Any) -> None:
        opts = dict(sampler_kwargs or {})
        self.metrics_prefix = str(opts.get("metrics_prefix") or STEP_METRIC_PREFIX)
        kwargs.update(dapo_kwargs(opts, sync=not isinstance(self, ReplayBufferAsync)))
        super().__init__(*args, sampler_kwargs=sampler_kwargs, **kwargs)

    def sample(self, global_steps: int, partition_id: str, batch_size: int):
        """verl's ``sample``, with the step means added to its metrics (training partition only)."""
        batch, metrics = super().sample(global_steps=global_steps, partition_id=partition_id, batch_size=batch_size)
        if partition_id != "val":
            keys = [k for k, tag in zip(batch.keys, batch.tags) if not tag.get("is_padding", False)]
            try:
                metrics.update(step_means(read_reward_infos(keys, batch.partition_id), prefix=self.metrics_prefix))
            except Exception:  # noqa: BLE001 - metrics must never stop a step
                logger.exception("reading the step's reward metrics failed; the step goes on without them")
        return batch, metrics


class RewardMetricsReplayBuffer(RewardMetricsMixin, ReplayBuffer):
    """verl's sync ``ReplayBuffer`` with the reward's step means (``trainer.v1.trainer_mode=sync``)."""


class RewardMetricsReplayBufferAsync(RewardMetricsMixin, ReplayBufferAsync):
    """verl's ``ReplayBufferAsync`` with the reward's step means (the ``*_async`` trainer modes)."""
