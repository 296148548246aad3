"""The policy model: the Qwen2.5-Omni thinker, loaded for FSDP training from a thinker-only or a full checkpoint.

verl builds the actor with ``get_hf_auto_model_class(hf_config).from_pretrained(path, torch_dtype=..., config=...)``.
For a full Omni checkpoint that resolves to ``AutoModel``, which cannot build ``Qwen2_5OmniConfig``; and the root
``Qwen2_5OmniForConditionalGeneration`` is a generation wrapper (thinker + talker + token2wav) without a logits
forward. :class:`OmniThinkerForVerl` is what our binding returns instead: its ``from_pretrained`` always builds
``Qwen2_5OmniThinkerForConditionalGeneration`` (from a full checkpoint it reads the ``thinker.*`` weights and ignores
the talker and token2wav), freezes the towers the config asks for and makes the decoder layers FSDP wrap units.

Freezing is configured on the HF config through verl's free-form ``actor_rollout_ref.model.override_config``
(``freeze_vision_tower`` / ``freeze_audio_tower``), the only model setting that reaches the FSDP workers.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from transformers import Qwen2_5OmniThinkerForConditionalGeneration

from omni_r1_verl.models.qwen2_5_omni.processor import thinker_config_of
from omni_r1_verl.models.qwen2_5_omni.weights import THINKER_PREFIX

logger = logging.getLogger(__name__)

#: Config attributes (set through ``override_config``) that freeze a tower.
FREEZE_VISION_KEY = "freeze_vision_tower"
FREEZE_AUDIO_KEY = "freeze_audio_tower"
#: Thinker sub-modules frozen by the keys above (the vision tower includes its patch merger, as in the paper).
VISION_TOWER = "visual"
AUDIO_TOWER = "audio_tower"
#: FSDP wrap units: verl wraps the classes listed in the root module's ``_no_split_modules``; the thinker only lists
#: its two towers, which would leave all decoder layers in one root flat parameter.
FSDP_WRAP_CLASSES = ("Qwen2_5OmniDecoderLayer", "Qwen2_5OmniAudioEncoder", "Qwen2_5OmniVisionEncoder")
THINKER_ARCHITECTURE = "Qwen2_5OmniThinkerForConditionalGeneration"


def freeze_towers(model: Any, vision: bool, audio: bool) -> dict[str, int]:
    """Stop gradients through the vision and/or audio tower of a thinker (``requires_grad=False``).

    Args:
        model: A ``Qwen2_5OmniThinkerForConditionalGeneration``.
        vision: Freeze ``model.visual`` (patch embedding, blocks and merger).
        audio: Freeze ``model.audio_tower``.

    Returns:
        Number of frozen parameters per tower name.
    """
    frozen: dict[str, int] = {}
    for name, flag in ((VISION_TOWER, vision), (AUDIO_TOWER, audio)):
        if not flag:
            continue
        count = 0
        for param in getattr(model, name).parameters():
            param.requires_grad_(False)
            count += param.numel()
        frozen[name] = count
    return frozen


def prepare_thinker_for_training(model: Any, freeze_vision: bool, freeze_audio: bool) -> Any:
    """Freeze towers, declare FSDP wrap units and make the config save as a thinker checkpoint.

    Args:
        model: A ``Qwen2_5OmniThinkerForConditionalGeneration``.
        freeze_vision: Freeze the vision tower.
        freeze_audio: Freeze the audio tower.

    Returns:
        The same model.
    """
    frozen = freeze_towers(model, vision=freeze_vision, audio=freeze_audio)
    model._no_split_modules = list(FSDP_WRAP_CLASSES)
    # A thinker config taken from a full checkpoint has no `architectures`; verl's HF checkpoint export needs it.
    model.config.architectures = [THINKER_ARCHITECTURE]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("Qwen2.5-Omni thinker: frozen %s, %.1fM trainable parameters", frozen or "nothing", trainable / 1e6)
    return model


class OmniThinkerForVerl(Qwen2_5OmniThinkerForConditionalGeneration):
    """The thinker, as verl's FSDP engine receives it for Qwen2.5-Omni checkpoints (see the module docstring).

    Identical to ``Qwen2_5OmniThinkerForConditionalGeneration`` except for ``from_pretrained`` and for ignoring the
    talker / token2wav weights of a full checkpoint instead of reporting each as unexpected. HF checkpoints that verl
    exports from it are plain thinker checkpoints (``architectures`` names the transformers class).
    """

    _keys_to_ignore_on_load_unexpected = [r"^talker\.", r"^token2wav\."]

    #: verl's ``convert_weight_keys`` (``verl/utils/model.py:244``, applied by the FSDP engine to every weight it
    #: hands to the rollout: ``get_per_tensor_param``/``get_per_tensor_param_shard``) reverses this mapping to
    #: "restore original checkpoint keys": ``re.subn("^", "thinker.", name)``. The rollout thus receives the
    #: full-checkpoint names vLLM's Omni loader maps (see :mod:`omni_r1_verl.models.qwen2_5_omni.weights`).
    #: transformers >= 5 no longer reads this attribute when loading.
    _checkpoint_conversion_mapping = {THINKER_PREFIX: "^"}

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: Any = None,
        torch_dtype: Any = None,
        **kwargs: Any,
    ) -> OmniThinkerForVerl:
        """Load the thinker of a thinker-only or full Qwen2.5-Omni checkpoint.

        Args:
            pretrained_model_name_or_path: Checkpoint directory.
            *model_args: Passed to transformers' ``from_pretrained``.
            config: Root or thinker config (verl's ``model_config.hf_config``); read from the checkpoint when None.
                Its ``freeze_vision_tower`` / ``freeze_audio_tower`` attributes select the frozen towers.
            torch_dtype: Parameter dtype (verl's name; passed to transformers as ``dtype``).
            **kwargs: Passed to transformers' ``from_pretrained``.

        Returns:
            The thinker, towers frozen as configured.
        """
        from transformers import AutoConfig

        kwargs.pop("trust_remote_code", None)  # the thinker is a native transformers class
        if config is None:
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path)
        if torch_dtype is not None:
            kwargs["dtype"] = torch_dtype
        model = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, config=thinker_config_of(config), **kwargs
        )
        return prepare_thinker_for_training(
            model,
            freeze_vision=bool(getattr(config, FREEZE_VISION_KEY, False)),
            freeze_audio=bool(getattr(config, FREEZE_AUDIO_KEY, False)),
        )
