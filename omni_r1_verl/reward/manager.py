"""The ``omni_r1`` reward manager, registered in verl's reward-loop registry.

Placeholder until the scoring library lands: it scores the output format only, so the registration path is real
and testable. Every sample returns the same keys (verl indexes all samples with the first sample's keys).
"""

from __future__ import annotations

import re

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


@register("omni_r1")
class OmniR1RewardManager(RewardManagerBase):
    """Omni-R1 hierarchical reward (placeholder: format term only).

    Args:
        config: The full trainer config.
        tokenizer: Policy tokenizer (decodes responses).
        compute_score: Unused; kept for verl's constructor contract.
        reward_router_address: Unused (generative reward models are not part of Omni-R1).
        reward_model_tokenizer: Unused.
    """

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)

    async def run_single(self, data: DataProto) -> dict:
        """Score the last trajectory of ``data``.

        Args:
            data: A length-1 (or multi-trajectory) ``DataProto`` from verl's reward loop.

        Returns:
            ``{"reward_score": float, "reward_extra_info": {...}}`` with a fixed key set.
        """
        item = data[-1]
        response_ids = item.batch["responses"]
        valid = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        text = await self.loop.run_in_executor(
            None, lambda: self.tokenizer.decode(response_ids[:valid], skip_special_tokens=True)
        )
        fmt = 1.0 if _FORMAT.fullmatch(text.strip()) else 0.0
        return {"reward_score": fmt, "reward_extra_info": {"score": fmt, "acc": fmt, "format_reward": fmt}}
