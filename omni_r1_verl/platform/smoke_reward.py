"""A reward with variance for smoke runs of a random tiny policy (``+reward=...`` of the CPU e2e test).

A random tiny policy answers with random tokens, so the Omni-R1 reward (format, keyframes, masks) is 0 for every
sample, GRPO advantages vanish and so do the gradients: a run would prove nothing about the update. This reward
instead scores the share of plain English characters in the response, which differs between the samples of one
prompt. Select it through verl's own hook::

    reward.reward_manager.name=naive reward.custom_reward_function.path=pkg://omni_r1_verl.platform.smoke_reward
"""

from __future__ import annotations

import string
from typing import Any, Optional

#: Characters the reward counts as plain English.
_PLAIN = frozenset(string.ascii_letters + " ")


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Optional[dict] = None, **kwargs: Any
) -> float:
    """Share of ASCII letters and spaces in the response (verl ``custom_reward_function`` signature).

    Args:
        data_source: Row's data source (unused).
        solution_str: Decoded response.
        ground_truth: Row's ground truth (unused: see the module docstring).
        extra_info: Row's extra info (unused).
        **kwargs: Further arguments verl may pass.

    Returns:
        A score in ``[0, 1]``; ``0`` for an empty response.
    """
    if not solution_str:
        return 0.0
    return sum(ch in _PLAIN for ch in solution_str) / len(solution_str)
