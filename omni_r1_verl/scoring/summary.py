"""Per-step means of the reward's per-sample metrics (what a training step reports of its trajectories)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omni_r1_verl.scoring.total import METRIC_KEYS
from omni_r1_verl.utils.model_output import finite_float

#: Prefix of the step metrics in verl's metric dict (``omni_r1/format_reward``, ...).
STEP_METRIC_PREFIX = "omni_r1"


def step_means(
    infos: Iterable[Mapping[str, Any] | None], keys: Sequence[str] = METRIC_KEYS, prefix: str = STEP_METRIC_PREFIX
) -> dict[str, float]:
    """Mean of every metric key over the samples of a step.

    Samples without a value for a key (no ``reward_extra_info``, a non-finite or non-numeric value) do not count
    for that key; a key no sample has is left out.

    Args:
        infos: One ``reward_extra_info`` dict per trajectory (``None`` for a trajectory without one).
        keys: Keys to average.
        prefix: Metric-name prefix.

    Returns:
        ``{f"{prefix}/{key}": mean}`` plus ``f"{prefix}/count"``, the trajectories seen, and
        ``f"{prefix}/unscored"``, those without any ``reward_extra_info``.
    """
    sums = dict.fromkeys(keys, 0.0)
    counts = dict.fromkeys(keys, 0)
    seen = unscored = 0
    for info in infos:
        seen += 1
        if not isinstance(info, Mapping) or not info:
            unscored += 1
            continue
        for key in keys:
            value = finite_float(info.get(key))
            if value is not None:
                sums[key] += value
                counts[key] += 1
    out = {f"{prefix}/{key}": sums[key] / counts[key] for key in keys if counts[key]}
    out[f"{prefix}/count"] = float(seen)
    out[f"{prefix}/unscored"] = float(unscored)
    return out
