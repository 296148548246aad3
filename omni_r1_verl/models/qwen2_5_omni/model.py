"""The policy model: the Qwen2.5-Omni thinker, loaded for FSDP training from a thinker-only or a full checkpoint.

verl builds the actor with ``get_hf_auto_model_class(hf_config).from_pretrained(path, torch_dtype=..., config=...)``.
For a full Omni checkpoint that resolves to ``AutoModel``, which cannot build ``Qwen2_5OmniConfig``; and the root
``Qwen2_5OmniForConditionalGeneration`` is a generation wrapper (thinker + talker + token2wav) without a logits
forward. :class:`OmniThinkerForVerl` is what our binding returns instead: its ``from_pretrained`` always builds
``Qwen2_5OmniThinkerForConditionalGeneration`` (from a full checkpoint it reads the ``thinker.*`` weights and ignores
the talker and token2wav), freezes the towers the config asks for and makes the decoder layers FSDP wrap units.

Freezing is configured on the HF config through verl's free-form ``actor_rollout_ref.model.override_config``
(``freeze_vision_tower`` / ``freeze_audio_tower``), the only model setting that reaches the FSDP workers.

Fused log-probs (``actor_rollout_ref.model.use_fused_kernels=true``): verl then asks the model for per-token
log-probs and entropy instead of logits, and installs a text-only forward for model types it does not know, which
would silently drop the audio and video inputs of the thinker. Our binding keeps the thinker's own multimodal forward
and sets :attr:`OmniThinkerForVerl.fused_kernels_backend`; the forward then feeds the final hidden states to verl's
chunked fused linear (``torch``/``liger``) or its Triton kernel, so the ``(tokens, vocabulary)`` logits of a
152k-token vocabulary are never materialised (``override_config.fused_log_probs_chunk_size`` tokens at a time).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from transformers import Qwen2_5OmniThinkerForConditionalGeneration

from omni_r1_verl.models.qwen2_5_omni.processor import thinker_config_of
from omni_r1_verl.models.qwen2_5_omni.weights import THINKER_PREFIX
from omni_r1_verl.utils.modules import forward_replaced

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
#: Config attribute (set through ``override_config``): tokens per chunk of the fused log-prob computation.
FUSED_CHUNK_KEY = "fused_log_probs_chunk_size"
#: Fused-kernel backends of verl the thinker supports.
FUSED_BACKENDS = ("torch", "liger", "triton")


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

    #: verl fused-kernel backend set by our binding when ``use_fused_kernels`` is on (``None``: logits as usual).
    fused_kernels_backend: str | None = None

    def forward(self, *args: Any, temperature: float | None = None, shift_labels: Any = None, **kwargs: Any) -> Any:
        """The thinker's forward; per-token log-probs and entropy instead of logits in verl's fused-kernel mode.

        Args:
            *args: Passed to the thinker's forward.
            temperature: Given by verl's engine only in fused-kernel mode (with ``return_dict=True`` and, for packed
                sequences, ``shift_labels``).
            shift_labels: Next-token labels verl rolled over the packed sequence (fused mode, packed inputs).
            **kwargs: Passed to the thinker's forward.

        Returns:
            The thinker's output, or verl's ``CausalLMOutputForPPO`` with ``log_probs`` and ``entropy`` of shape
            ``input_ids.shape`` in fused mode.
        """
        if self.fused_kernels_backend is None or temperature is None:
            return super().forward(*args, **kwargs)
        return self._fused_forward(*args, temperature=temperature, shift_labels=shift_labels, **kwargs)

    def _fused_forward(
        self, input_ids: Any = None, *args: Any, temperature: float, shift_labels: Any, labels: Any = None, **kwargs
    ) -> Any:
        import torch
        from verl.models.transformers.dense_common import CausalLMOutputForPPO

        kwargs.pop("return_dict", None)  # the thinker passes return_dict=True to its decoder itself
        if shift_labels is not None:
            rolled = shift_labels
        elif labels is not None:
            rolled = torch.roll(labels, shifts=-1, dims=-1)
        else:
            rolled = torch.roll(input_ids, shifts=-1, dims=-1)
        backend = self.fused_kernels_backend
        chunk_size = int(getattr(self.config, FUSED_CHUNK_KEY, 512) or 512)
        head = self.lm_head

        def fused_head(hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # Runs as the head's own forward, between FSDP2's unshard and reshard hooks of the head (verl wraps an
            # untied lm_head as its own unit), so the weight is whole here and again in the backward pass.
            return fused_log_probs(backend, hidden_states, head.weight, rolled, temperature, chunk_size)

        with forward_replaced(head, fused_head):  # the thinker's multimodal forward, then log-probs, no logits
            outputs = super().forward(input_ids, *args, **kwargs)
        log_probs, entropy = outputs.logits
        return CausalLMOutputForPPO(log_probs=log_probs, entropy=entropy, hidden_states=outputs.hidden_states)

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


def fused_log_probs(
    backend: str, hidden_states: Any, weight: Any, labels: Any, temperature: float, chunk_size: int = 512
) -> tuple[Any, Any]:
    """Log-prob of ``labels`` and entropy per position from hidden states and the head weight, without full logits.

    Args:
        backend: verl fused-kernel backend (``torch``, ``liger`` or ``triton``).
        hidden_states: Final hidden states ``(..., tokens, hidden)``.
        weight: LM head weight ``(vocabulary, hidden)``.
        labels: Next-token ids ``(..., tokens)``.
        temperature: Sampling temperature the logits are divided by.
        chunk_size: Tokens per chunk (``torch``/``liger``).

    Returns:
        ``(log_probs, entropy)``, each shaped like ``labels``.
    """
    if backend == "triton":
        from verl.utils.kernel.linear_cross_entropy import linear_cross_entropy

        return linear_cross_entropy(hidden_states, weight, labels, temperature, "none")
    from verl.utils.experimental.torch_functional import FusedLinearForPPO

    return FusedLinearForPPO(chunk_size=chunk_size, impl_backend=backend).forward(
        hidden_states=hidden_states, vocab_weights=weight, input_ids=labels, temperature=temperature
    )
