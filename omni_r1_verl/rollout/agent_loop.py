"""The ``omni_r1_agent`` agent loop (System 1 -> System 2).

Placeholder until the detail system lands: it behaves exactly like verl's single-turn loop, so the registration
path is real and testable.
"""

from __future__ import annotations

from verl.experimental.agent_loop.agent_loop import register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from omni_r1_verl.models.qwen2_5_omni.agent_loop import OmniAgentLoopMixin


@register("omni_r1_agent")
class OmniR1AgentLoop(OmniAgentLoopMixin, SingleTurnAgentLoop):
    """System-1 rollout followed by System-2 detail understanding (placeholder: System 1 only)."""
