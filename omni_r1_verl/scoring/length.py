"""Group-level length shaping (the reference's ``len_control``), defined on a whole GRPO group.

In a group, a rollout *qualifies* when its task accuracy is above ``acc_threshold``. When at least
``min_qualified`` rollouts of the group qualify, every qualified rollout whose response length (tokens) lies in
``[min_tokens, max_tokens]`` gets ``bonus``; nobody else does. The reference applied this to a device's batch
(one prompt per device in its run, but several otherwise); here it is always the rollouts sharing a uid.

Inside verl, rollouts are scored one at a time; ``omni_r1_verl.reward.group_gate`` exchanges the
"qualified" bits of a group's members so that each member gets exactly :func:`length_shaping`'s value.
"""

from __future__ import annotations

from collections.abc import Sequence

from omni_r1_verl.scoring.config import LengthConfig


def qualifies(acc: float, config: LengthConfig) -> bool:
    """Whether a rollout with task accuracy ``acc`` counts towards its group's quorum.

    Args:
        acc: Task accuracy (the reward without format and length terms).
        config: Length-shaping constants.

    Returns:
        ``acc > acc_threshold``.
    """
    return acc > config.acc_threshold


def in_window(length: int, config: LengthConfig) -> bool:
    """Whether a response length is rewarded.

    Args:
        length: Response tokens.
        config: Length-shaping constants.

    Returns:
        ``min_tokens <= length <= max_tokens``.
    """
    return config.min_tokens <= length <= config.max_tokens


def length_bonus(acc: float, length: int, qualified_in_group: int, config: LengthConfig) -> float:
    """The length term of one rollout, given how many rollouts of its group qualify (itself included).

    Args:
        acc: This rollout's task accuracy.
        length: This rollout's response tokens.
        qualified_in_group: Qualified rollouts in the group, counting this one if it qualifies.
        config: Length-shaping constants.

    Returns:
        ``bonus`` or 0.0.
    """
    if not config.enable or not qualifies(acc, config) or not in_window(length, config):
        return 0.0
    return config.bonus if qualified_in_group >= config.min_qualified else 0.0


def length_shaping(accs: Sequence[float], lengths: Sequence[int], config: LengthConfig) -> list[float]:
    """The length term of every rollout of one GRPO group.

    Args:
        accs: Task accuracy per rollout.
        lengths: Response tokens per rollout.
        config: Length-shaping constants.

    Returns:
        One value per rollout.

    Raises:
        ValueError: If ``accs`` and ``lengths`` differ in length.
    """
    if len(accs) != len(lengths):
        raise ValueError(f"{len(accs)} accuracies for {len(lengths)} lengths")
    quorum = sum(qualifies(a, config) for a in accs)
    return [length_bonus(a, n, quorum, config) for a, n in zip(accs, lengths)]
