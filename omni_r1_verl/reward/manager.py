"""The ``omni_r1`` reward manager, registered in verl's reward-loop registry.

Select it with ``reward.reward_manager.name=omni_r1`` (the recipe does); weights and constants come from
``reward.reward_kwargs`` (see :class:`omni_r1_verl.scoring.RewardConfig`), the GRPO group size from
``actor_rollout_ref.rollout.n``; nothing else of the run's config is read, so the manager works in any verl run.
Per trajectory it decodes the response, reads the System-2 result the agent loop attached
(``tool_extra_fields[DETAIL_KEY]``, :mod:`omni_r1_verl.contracts.system2`), scores with the
pure library and adds the per-group length term through :mod:`omni_r1_verl.reward.group_gate`. Every sample
returns the same ``reward_extra_info`` keys (:data:`omni_r1_verl.scoring.METRIC_KEYS`): verl indexes all samples
with the first sample's keys, and DAPO's group filter reads ``acc``.

Under a plain agent loop (no System-2 result) it scores what needs no System 2 (keyframes, format, length) and
counts the rest in ``detail_missing``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from omni_r1_verl.contracts.system2 import DETAIL_KEY
from omni_r1_verl.reward.gallery import RolloutGallery
from omni_r1_verl.reward.group_gate import get_gate
from omni_r1_verl.scoring import RewardBreakdown, RewardConfig, score_response
from omni_r1_verl.scoring.length import in_window, length_bonus, qualifies
from omni_r1_verl.utils.config import grpo_group_size, load_section

logger = logging.getLogger(__name__)


def _item(value: Any) -> Any:
    """A numpy 0-d / object scalar as its Python value."""
    return value.item() if hasattr(value, "item") and getattr(value, "shape", None) == () else value


@register("omni_r1")
class OmniR1RewardManager(RewardManagerBase):
    """Omni-R1 hierarchical reward for verl's reward loop.

    Args:
        config: The full trainer config (reads ``reward.reward_kwargs`` and ``actor_rollout_ref.rollout.n``).
        tokenizer: Policy tokenizer (decodes responses).
        compute_score: Unused (the scoring is this manager's own); kept for verl's constructor contract.
        reward_router_address: Unused (Omni-R1 has no generative reward model).
        reward_model_tokenizer: Unused.
    """

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        self.reward_config = load_section(config, RewardConfig)
        self.group_size = grpo_group_size(config)
        self._gate = None
        self._gallery = RolloutGallery.from_config(config)  # None when the `gallery` section is off

    def _decode(self, data_item) -> tuple[str, int]:
        response_ids = data_item.batch["responses"]
        length = int(data_item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        return self.tokenizer.decode(response_ids[:length], skip_special_tokens=True), length

    async def run_single(self, data: DataProto) -> dict:
        """Score the last trajectory of ``data``.

        Args:
            data: A length-1 (or multi-trajectory) ``DataProto`` from verl's reward loop.

        Returns:
            ``{"reward_score": float, "reward_extra_info": {key: float}}`` with the fixed key set.
        """
        item = data[-1]
        ntb = item.non_tensor_batch
        reward_model = _item(ntb.get("reward_model")) or {}
        extra_info = _item(ntb.get("extra_info")) or {}
        tool_fields = _item(ntb.get("tool_extra_fields"))
        detail = tool_fields.get(DETAIL_KEY) if isinstance(tool_fields, Mapping) else None
        ground_truth = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None

        def score() -> tuple[RewardBreakdown, int]:
            text, length = self._decode(item)
            return score_response(text, ground_truth, extra_info, detail, self.reward_config), length

        breakdown, length = await self.loop.run_in_executor(None, score)
        breakdown = await self._add_length(breakdown, length, ntb, extra_info)
        result = {"reward_score": breakdown.score, "reward_extra_info": breakdown.to_metrics()}
        if self._gallery is not None:
            decode = lambda: self._decode(item)[0]  # noqa: E731 - decoded again only for a gallery step
            self._gallery.offer(
                extra_info=extra_info, tool_fields=tool_fields, ground_truth=ground_truth, decode=decode, result=result
            )
        return result

    async def _add_length(
        self, breakdown: RewardBreakdown, length: int, ntb: Mapping[str, Any], extra_info: Any
    ) -> RewardBreakdown:
        cfg = self.reward_config.length
        split = extra_info.get("split") if isinstance(extra_info, Mapping) else None
        if not cfg.enable or (split is not None and str(split) not in cfg.splits):
            return breakdown
        uid = _item(ntb.get("uid"))
        if uid is None:
            return breakdown.with_length(0.0, length_no_group=1.0)
        group_size = self.group_size
        session = _item(ntb.get("session_id"))
        member = str(session) if session is not None else uuid.uuid4().hex
        qualified = qualifies(breakdown.acc, cfg)
        if self._gate is None:
            self._gate = get_gate()
        reply = await self._gate.report(
            str(uid),
            member,
            qualified,
            group_size,
            cfg.min_qualified,
            wait=qualified and in_window(length, cfg),
            timeout_s=cfg.group_timeout_s,
        )
        if reply.timed_out:
            logger.warning(
                "group %s: %d of %d rollouts reported within %.0f s; length term decided on those",
                uid,
                reply.reported,
                group_size,
                cfg.group_timeout_s,
            )
        bonus = length_bonus(breakdown.acc, length, reply.qualified, cfg)
        return breakdown.with_length(bonus, length_group_timeout=float(reply.timed_out))
