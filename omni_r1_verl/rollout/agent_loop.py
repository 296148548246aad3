"""The ``omni_r1_agent`` agent loop: System 1 (the policy) then System 2 (grounding VLM + SAM2 detail pool).

verl runs one instance per trajectory inside its agent-loop workers. After verl's single-turn generation (with the
Qwen2.5-Omni per-sample ``use_audio_in_video`` of :class:`OmniAgentLoopMixin`), the response is parsed with the
reward's own parser, the selected keyframes go to the detail pool (:class:`omni_r1_verl.detail.pool.DetailPool`,
created on first use by whichever process needs it and found by name afterwards), and the result is attached as
``extra_fields["detail"]`` in the reward's schema. verl hands ``extra_fields`` to the reward manager as
``tool_extra_fields`` (``verl/experimental/agent_loop/agent_loop.py``, reward computation in the agent-loop
worker), which is where :class:`omni_r1_verl.reward.manager.OmniR1RewardManager` reads it.

System 2 is skipped (no pool call) when no reward term reads it (image grounding; all System-2 weights 0) or the
response has no valid moment; a pool failure is attached as an explicit failure status and counted by the reward.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import uuid4

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from omni_r1_verl.models.qwen2_5_omni.agent_loop import OmniAgentLoopMixin
from omni_r1_verl.reward.manager import reward_config_from
from omni_r1_verl.rollout.system2 import plan_request, run_system2
from omni_r1_verl.scoring.config import RewardConfig

logger = logging.getLogger(__name__)

#: ``extra_fields`` key of the System-2 result (read by the reward manager from ``tool_extra_fields``).
DETAIL_KEY = "detail"

#: ``extra_fields`` key of the GRPO group size (the reward's per-group length term waits for that many).
GROUP_SIZE_KEY = "group_size"

_lock = threading.Lock()
_reward_configs: dict[int, RewardConfig] = {}
_pools: dict[int, Any] = {}


def _reward_config(config: Any) -> RewardConfig:
    with _lock:
        if id(config) not in _reward_configs:
            _reward_configs[id(config)] = reward_config_from(config)
        return _reward_configs[id(config)]


def _pool(config: Any):
    """The detail pool of this job (created on first use; configuration errors raise, naming the key)."""
    from omni_r1_verl.detail.pool import DetailPool

    with _lock:
        if id(config) not in _pools:
            section = OmegaConf.select(config, "reward.reward_kwargs.detail", default=None)
            _pools[id(config)] = DetailPool.get_or_create(section)
        return _pools[id(config)]


@register("omni_r1_agent")
class OmniR1AgentLoop(OmniAgentLoopMixin, SingleTurnAgentLoop):
    """System-1 rollout followed by System-2 detail understanding."""

    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs) -> AgentLoopOutput:
        """Generate the response (verl's single-turn loop), then run System 2 on its keyframes.

        Args:
            sampling_params: Sampling parameters of the rollout.
            priority: Scheduling priority (verl).
            **kwargs: The sample's row fields (``raw_prompt``, ``extra_info``, ``reward_model``, ``uid`` ...).

        Returns:
            verl's output with ``extra_fields["detail"]`` and ``extra_fields["group_size"]`` set.
        """
        output = await super().run(sampling_params, priority=priority, **kwargs)
        group_size = int(self.rollout_config.get("n", 1) or 1)
        output.extra_fields[GROUP_SIZE_KEY] = group_size
        extra_info = kwargs.get("extra_info") or {}
        reward_model = kwargs.get("reward_model") or {}
        text = self.tokenizer.decode(output.response_ids, skip_special_tokens=True)
        config = _reward_config(self.config)
        plan = plan_request(
            text,
            reward_model.get("ground_truth", ""),
            extra_info,
            config,
            group_key=str(kwargs.get("uid") or extra_info.get("sample_id", "")),
            rollout_id=uuid4().hex,
            group_size=group_size,
        )
        pool = _pool(self.config) if plan.request is not None else None
        output.extra_fields[DETAIL_KEY] = await run_system2(plan, pool.submit if pool is not None else None)
        return output
