"""The Omni-R1 scoring library: pure functions (numpy / scipy only, no verl, no Ray).

* :func:`parse_answer` reads a System-1 response (shared with the agent loop).
* :func:`score_response` / :func:`score_group` compute the hierarchical reward
  ``a_K R_K + a_K_ratio saliency + a_A R_A + a_G R_G + format + length`` (and the RefAVS / Seg-Zero rewards),
  returning a :class:`RewardBreakdown` with the fixed metric keys :data:`METRIC_KEYS`.
* :class:`RewardConfig` holds every weight and constant (``reward.reward_kwargs``).

The System-2 result it scores is the contract type :class:`omni_r1_verl.contracts.system2.DetailResult`.

Formulas and the deviations from the authors' code: ``docs/rewards.md``.
"""

from omni_r1_verl.scoring.answer import Keyframe, Moment, ParsedAnswer, Problem, parse_answer, parse_time
from omni_r1_verl.scoring.config import RewardConfig
from omni_r1_verl.scoring.consistency import overlap_counts, overlap_counts_group, union_masks
from omni_r1_verl.scoring.length import length_bonus, length_shaping
from omni_r1_verl.scoring.total import METRIC_KEYS, RewardBreakdown, score_group, score_response

__all__ = [
    "METRIC_KEYS",
    "Keyframe",
    "Moment",
    "ParsedAnswer",
    "Problem",
    "RewardBreakdown",
    "RewardConfig",
    "length_bonus",
    "length_shaping",
    "overlap_counts",
    "overlap_counts_group",
    "parse_answer",
    "parse_time",
    "score_group",
    "score_response",
    "union_masks",
]
