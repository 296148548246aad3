"""Loading the Qwen2.5-Omni processor for verl, with the thinker's rope index bound to it.

verl's ``hf_processor`` only knows Qwen-VL/GLM/Gemma processors; for ``Qwen2_5OmniProcessor`` it raises internally
and silently returns ``None``, after which every multimodal rollout fails. :func:`load_omni_processor` builds the
processor and attaches what verl's multimodal code reads from it:

* ``config``: the checkpoint's config (verl sets this for every VL processor);
* ``get_rope_index`` / ``get_rope_index_kwargs``: :class:`~omni_r1_verl.models.qwen2_5_omni.rope.OmniRopeIndex`;
* ``image_token_id`` / ``video_token_id`` / ``audio_token_id``: read by verl's placeholder handling;
* ``omni_token_ids``: the full :class:`~omni_r1_verl.models.qwen2_5_omni.tokens.OmniTokenIds`, which also marks the
  processor as an Omni one for our vLLM prompt collapse.
"""

from __future__ import annotations

import os
from typing import Any

from omni_r1_verl.models.qwen2_5_omni.rope import OmniRopeIndex, rope_index_kwargs
from omni_r1_verl.models.qwen2_5_omni.tokens import OmniTokenIds

#: ``model_type`` of a full Qwen2.5-Omni checkpoint (thinker + talker + token2wav).
OMNI_MODEL_TYPE = "qwen2_5_omni"
#: ``model_type`` of a thinker-only checkpoint.
THINKER_MODEL_TYPE = "qwen2_5_omni_thinker"
#: Both of the above.
OMNI_MODEL_TYPES = (OMNI_MODEL_TYPE, THINKER_MODEL_TYPE)


def is_omni_config(config: Any) -> bool:
    """Whether a transformers config (or config dict) is a Qwen2.5-Omni root or thinker config.

    Args:
        config: A ``PretrainedConfig`` or the dict of a ``config.json``.

    Returns:
        True for ``qwen2_5_omni`` and ``qwen2_5_omni_thinker``.
    """
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    return model_type in OMNI_MODEL_TYPES


def thinker_config_of(config: Any) -> Any:
    """The thinker config of a root Omni config, or the config itself for a thinker checkpoint.

    Args:
        config: A ``Qwen2_5OmniConfig`` or ``Qwen2_5OmniThinkerConfig``.

    Returns:
        The ``Qwen2_5OmniThinkerConfig``.

    Raises:
        ValueError: For any other model type.
    """
    model_type = getattr(config, "model_type", None)
    if model_type == OMNI_MODEL_TYPE:
        return config.thinker_config
    if model_type == THINKER_MODEL_TYPE:
        return config
    raise ValueError(f"not a Qwen2.5-Omni config: model_type={model_type!r}")


def read_model_type(name_or_path: str | os.PathLike, **kwargs: Any) -> str | None:
    """``model_type`` from a checkpoint's ``config.json`` without building the config class.

    Args:
        name_or_path: Local directory (or cached hub id).
        **kwargs: Passed to ``PretrainedConfig.get_config_dict`` (e.g. ``trust_remote_code``, ``revision``).

    Returns:
        The model type, or None when there is no readable config.
    """
    from transformers import PretrainedConfig

    try:
        config_dict, _ = PretrainedConfig.get_config_dict(str(name_or_path), **kwargs)
    except (OSError, ValueError):
        return None
    return config_dict.get("model_type")


def bind_omni_processor(processor: Any, config: Any) -> Any:
    """Attach the rope index and token ids verl needs to a ``Qwen2_5OmniProcessor`` (in place).

    Args:
        processor: The processor.
        config: The checkpoint's root or thinker config.

    Returns:
        The same processor.
    """
    thinker = thinker_config_of(config)
    tokens = OmniTokenIds.from_vocab(processor.tokenizer.get_vocab())
    if tokens != OmniTokenIds.from_thinker_config(thinker):
        raise ValueError(
            f"tokenizer special-token ids {tokens} disagree with the thinker config "
            f"{OmniTokenIds.from_thinker_config(thinker)}; the checkpoint's tokenizer and config do not match"
        )
    processor.config = config
    processor.get_rope_index = OmniRopeIndex(thinker)
    processor.get_rope_index_kwargs = rope_index_kwargs
    processor.omni_token_ids = tokens
    processor.image_token_id = tokens.image
    processor.video_token_id = tokens.video
    processor.audio_token_id = tokens.audio
    return processor


def load_omni_processor(name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
    """Load a Qwen2.5-Omni processor and bind it for verl (see the module docstring).

    Args:
        name_or_path: Checkpoint directory (thinker-only or full Omni).
        **kwargs: Passed to ``AutoProcessor.from_pretrained`` and ``AutoConfig.from_pretrained``.

    Returns:
        The bound processor.

    Raises:
        ValueError: If the directory does not hold a Qwen2.5-Omni processor (errors are raised, never swallowed:
            a missing processor would only surface later as a confusing rollout failure).
    """
    from transformers import AutoConfig, AutoProcessor, Qwen2_5OmniProcessor

    processor = AutoProcessor.from_pretrained(str(name_or_path), **kwargs)
    if not isinstance(processor, Qwen2_5OmniProcessor):
        raise ValueError(f"{name_or_path} holds a {type(processor).__name__}, expected a Qwen2_5OmniProcessor")
    config = AutoConfig.from_pretrained(str(name_or_path), **kwargs)
    return bind_omni_processor(processor, config)
