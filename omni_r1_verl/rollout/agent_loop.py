"""The ``omni_r1_agent`` agent loop: System 1 (the policy) then System 2 (grounding VLM + SAM2 detail pool).

verl runs one instance per trajectory inside its agent-loop workers. After verl's single-turn generation (with the
Qwen2.5-Omni per-sample ``use_audio_in_video`` of :class:`OmniAgentLoopMixin`), the response is parsed with the
reward's own parser, the selected keyframes go to the detail pool (:class:`omni_r1_verl.detail.pool.DetailPool`,
created on first use by whichever process needs it and found by name afterwards), and the result is attached as
``extra_fields[DETAIL_KEY]`` (:mod:`omni_r1_verl.contracts.system2`). verl hands ``extra_fields`` to the reward
manager as ``tool_extra_fields`` (``verl/experimental/agent_loop/agent_loop.py``, reward computation in the
agent-loop worker), which is where :class:`omni_r1_verl.reward.manager.OmniR1RewardManager` reads it.

Config read here: ``system2`` (the pool), ``reward.reward_kwargs`` (which terms need System 2, and the answer
parser's limits, so both sides parse alike) and ``actor_rollout_ref.rollout.n`` (the group size).

System 2 is skipped (no pool call) when no reward term reads it (image grounding; all System-2 weights 0) or the
response has no valid moment; a pool failure, or any unexpected exception after generation, is attached as an
explicit failure status and counted by the reward.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from omni_r1_verl.contracts.system2 import DETAIL_KEY, DetailResult
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.models.qwen2_5_omni.agent_loop import OmniAgentLoopMixin
from omni_r1_verl.rollout.system2 import plan_request, run_system2, unexpected_error
from omni_r1_verl.scoring.config import RewardConfig
from omni_r1_verl.utils.config import grpo_group_size, load_section

_lock = threading.Lock()
_settings: dict[int, tuple[RewardConfig, DetailConfig, int]] = {}
_pools: dict[int, Any] = {}


def _settings_of(config: Any) -> tuple[RewardConfig, DetailConfig, int]:
    """The sections this loop reads, parsed once per trainer config (errors raise, naming the key)."""
    with _lock:
        if id(config) not in _settings:
            _settings[id(config)] = (
                load_section(config, RewardConfig),
                load_section(config, DetailConfig),
                grpo_group_size(config),
            )
        return _settings[id(config)]


def _pool(config: Any, detail: DetailConfig):
    """The detail pool of this job (created on first use; a missing checkpoint raises, naming the key)."""
    from omni_r1_verl.detail.pool import DetailPool

    with _lock:
        if id(config) not in _pools:
            _pools[id(config)] = DetailPool.get_or_create(detail)
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
            verl's output with ``extra_fields[DETAIL_KEY]`` set (always: an ``error`` result if anything failed).
        """
        output = await super().run(sampling_params, priority=priority, **kwargs)
        output.extra_fields[DETAIL_KEY] = (await self._system2(output, kwargs)).to_dict()
        return output

    async def _system2(self, output: AgentLoopOutput, row: dict[str, Any]) -> DetailResult:
        # Config errors (unknown key, missing checkpoint) raise: they are the run's, not the sample's.
        reward_config, detail_config, group_size = _settings_of(self.config)
        try:
            extra_info = row.get("extra_info") or {}
            reward_model = row.get("reward_model") or {}
            text = self.tokenizer.decode(output.response_ids, skip_special_tokens=True)
            plan = plan_request(
                text,
                reward_model.get("ground_truth", ""),
                extra_info,
                reward_config,
                group_key=str(row.get("uid") or extra_info.get("sample_id", "")),
                rollout_id=uuid4().hex,
                group_size=group_size,
            )
        except Exception as err:  # noqa: BLE001 - the last line: one bad sample never takes a rollout down
            return unexpected_error("planning System 2", err)
        if plan.request is None:
            return plan.result
        return await run_system2(plan, _pool(self.config, detail_config).submit)
