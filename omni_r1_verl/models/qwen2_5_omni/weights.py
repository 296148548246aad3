"""Weight names between the FSDP thinker and the rollout engine.

The FSDP actor is always a ``Qwen2_5OmniThinkerForConditionalGeneration``, whatever checkpoint it was loaded from, so
its parameters are named like a thinker-only checkpoint (``model.layers.0.self_attn.q_proj.weight``,
``visual.blocks.0.attn.q.weight``, ``audio_tower.conv1.weight``, ``lm_head.weight``). vLLM serves the thinker from
the *root* Omni config and its loader (``Qwen2_5OmniThinkerForConditionalGeneration.hf_to_vllm_mapper`` in
``vllm/model_executor/models/qwen2_5_omni_thinker.py``) only maps ``thinker.``-prefixed names, the names of a full
Omni checkpoint. The weight sync therefore sends full-checkpoint names: ``thinker.`` + the thinker name.

That is also the naming of the released ``Qwen/Qwen2.5-Omni-*`` checkpoints, so a consumer holding a plain transformers
thinker (e.g. a CPU rollout server) maps back with :func:`to_thinker_name`. Pure module: no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

#: Prefix of the thinker's weights in a full Qwen2.5-Omni checkpoint.
THINKER_PREFIX = "thinker."
#: Prefixes of the other sub-models of a full checkpoint (never trained, never synced).
NON_THINKER_PREFIXES = ("talker.", "token2wav.")

T = TypeVar("T")


def to_omni_root_name(name: str) -> str:
    """Full-checkpoint name of a thinker parameter.

    Args:
        name: Parameter name in the thinker (``model.norm.weight``), or already root-prefixed.

    Returns:
        ``thinker.<name>``.

    Raises:
        ValueError: For names of the talker / token2wav, which the thinker never holds.
    """
    if name.startswith(THINKER_PREFIX):
        return name
    if name.startswith(NON_THINKER_PREFIXES):
        raise ValueError(f"{name!r} belongs to the talker/token2wav, not to the thinker")
    return THINKER_PREFIX + name


def to_thinker_name(name: str) -> str | None:
    """Thinker parameter name of a full-checkpoint (or thinker) name.

    Args:
        name: ``thinker.model.norm.weight``, ``model.norm.weight`` or ``talker.*`` / ``token2wav.*``.

    Returns:
        The thinker name, or None for talker / token2wav weights.
    """
    if name.startswith(THINKER_PREFIX):
        return name[len(THINKER_PREFIX) :]
    if name.startswith(NON_THINKER_PREFIXES):
        return None
    return name


def to_omni_root_names(named: Iterable[tuple[str, T]]) -> Iterator[tuple[str, T]]:
    """Rename a ``(name, tensor)`` stream from thinker names to full-checkpoint names, lazily.

    Args:
        named: Thinker parameters, e.g. verl's ``engine.get_per_tensor_param()`` generator.

    Yields:
        ``(thinker.<name>, tensor)`` pairs, in the same order.
    """
    for name, value in named:
        yield to_omni_root_name(name), value
