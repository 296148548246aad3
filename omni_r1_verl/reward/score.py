"""``compute_score`` for verl's built-in reward managers (``naive``, ``dapo``, ...).

Use the same scoring without the ``omni_r1`` manager::

    reward.reward_manager.name=dapo \\
    reward.custom_reward_function.path=pkg://omni_r1_verl.reward.score \\
    reward.custom_reward_function.name=compute_score \\
    +reward.custom_reward_function.reward_kwargs.weights.consistency=2.0

It returns the full metric dict (``score``, ``acc`` for DAPO's group filter, every term and counter). verl's
``naive`` manager merges the agent loop's extra fields into ``extra_info``, so the System-2 result
(``extra_info["detail"]``) is used there; ``dapo`` does not forward them, so System-2 terms count as
``detail_missing``. These managers score one response without its group and token count: the length term is 0
(``length_no_group``); use DAPO's own ``overlong_buffer_cfg`` for length control there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from omni_r1_verl.contracts.system2 import DETAIL_KEY
from omni_r1_verl.scoring import RewardConfig, score_response
from omni_r1_verl.utils.config import to_plain

#: Keyword arguments verl passes that are not reward settings.
_VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


@lru_cache(maxsize=16)
def _config(frozen: str) -> RewardConfig:
    return RewardConfig.from_dict(json.loads(frozen))


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str | Mapping[str, Any],
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one response the way the ``omni_r1`` manager does (without the group length term).

    Args:
        data_source: The sample's dataset (unused: the task comes from the ground truth).
        solution_str: The decoded response.
        ground_truth: ``reward_model.ground_truth`` (JSON of :class:`omni_r1_verl.contracts.rows.GroundTruth`).
        extra_info: The sample's ``extra_info`` (``clip``, and ``detail`` when the manager forwards it).
        **kwargs: ``reward.custom_reward_function.reward_kwargs`` (sections of :class:`RewardConfig`).

    Returns:
        The metric dict, with ``score`` the reward and ``acc`` the task accuracy.

    Raises:
        omni_r1_verl.utils.config.ConfigError: On unknown reward settings.
    """
    settings = {k: to_plain(v) for k, v in kwargs.items() if k not in _VERL_KWARGS}
    config = _config(json.dumps(settings, sort_keys=True))
    detail = extra_info.get(DETAIL_KEY) if isinstance(extra_info, Mapping) else None
    return (
        score_response(solution_str, ground_truth, extra_info, detail, config)
        .with_length(0.0, length_no_group=float(config.length.enable))
        .to_metrics()
    )
