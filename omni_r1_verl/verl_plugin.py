"""verl plugin entry point (``[project.entry-points."verl.plugins"]``).

``import verl`` imports this module in every process of a run (driver, TaskRunner, agent-loop, reward and FSDP
workers), so it only registers names and must stay cheap. verl swallows exceptions raised here (at debug log
level); :func:`omni_r1_verl.plugin_check.assert_plugin_loaded` turns a silent failure into a loud one.
"""

from omni_r1_verl.models.qwen2_5_omni.verl_binding import apply as _bind_qwen2_5_omni
from omni_r1_verl.platform import register as _platform  # noqa: F401  registers platform "cpu" and rollout "hf"
from omni_r1_verl.reward import manager as _reward_manager  # noqa: F401  registers reward manager "omni_r1"
from omni_r1_verl.rollout import agent_loop as _agent_loop  # noqa: F401  registers agent loop "omni_r1_agent"

# Qwen2.5-Omni processor, model class, vLLM prompt collapse, epoch-aware sampler (idempotent, Omni-only effects).
_bind_qwen2_5_omni()

#: Set once every registration above succeeded; read by :mod:`omni_r1_verl.plugin_check`.
LOADED = True
