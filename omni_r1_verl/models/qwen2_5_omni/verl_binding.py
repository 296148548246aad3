"""Runtime bindings that make verl 0.9.1 treat Qwen2.5-Omni like its supported VL models.

verl offers no registry for processors, model classes or the token-in prompt collapse, so these few functions are
wrapped at runtime by :func:`apply` (called from :mod:`omni_r1_verl.verl_plugin`, i.e. in every process that imports
verl). Every wrapper recognises Omni inputs and delegates everything else to verl's original, so non-Omni runs in the
same environment are unaffected. :func:`apply` is idempotent. ``tests/models/qwen2_5_omni/test_verl_binding.py``
fails if the verl code these wrappers stand in for changes.

============================================  ===============================================================
verl 0.9.1 site                               binding
============================================  ===============================================================
``verl/utils/tokenizer/tokenizer.py:181``     ``hf_processor``: Omni checkpoints get the processor with the
``hf_processor`` (+ the names imported by     thinker's rope index bound (verl raises, then silently returns
``verl/utils/__init__.py``,                   ``None`` at ``:243-246``)
``verl/utils/tokenizer/__init__.py``,
``verl/workers/config/model.py:21``)
``verl/utils/model.py:693``                   ``get_hf_auto_model_class``: Omni configs build
``get_hf_auto_model_class``                   :class:`~omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl`
                                              (root configs fall back to ``AutoModel``, which has no mapping)
``verl/workers/rollout/utils.py:93``          ``qwen2_5_vl_dedup_image_tokens``: Omni prompts are collapsed to
``qwen2_5_vl_dedup_image_tokens``             one placeholder per image / video / audio item (verl only dedups
(+ its import in ``vllm_async_server.py``     image/video pad runs, leaving audio runs and interleaved
and ``trtllm_async_server.py``)               audio-in-video blocks that vLLM would expand a second time)
``verl/utils/tokenizer/``                     ``_MODEL_TYPE_TO_FAMILY``: ``qwen2_5_omni(_thinker)`` use the
``continuous_token_wiring.py:112``            Qwen-VL continuous-token builder (same ChatML boundaries) instead
                                              of the generic VL fallback
``verl/models/transformers/``                 ``patch_forward_with_backends``: with ``use_fused_kernels`` the
``monkey_patch.py:234``                       thinker keeps its multimodal forward and computes fused log-probs
``patch_forward_with_backends``               itself (verl would install a text-only forward that drops audio
                                              and video); other models get verl's patch
``verl/trainer/ppo/utils.py:140``             ``create_rl_sampler``: a dataset with a ``build_sampler(data_config)``
``create_rl_sampler`` (+ its imports in       method chooses its sampler (our dataset's passes the epoch to
``trainer/ppo/v1/trainer_base.py``,           ``__getitem__``); every other dataset gets verl's sampler
``trainer/main_ppo_v0.py``)
============================================  ===============================================================

Weight names need no wrapper: :class:`~omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl` declares them
through ``_checkpoint_conversion_mapping``, which verl's weight export already applies.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Attribute set on every wrapper; its value is the wrapped verl function.
WRAPPED_ATTR = "__omni_r1_wraps__"

#: Modules that bind verl's ``hf_processor`` by name (``from ... import hf_processor``).
HF_PROCESSOR_MODULES = (
    "verl.utils.tokenizer.tokenizer",
    "verl.utils.tokenizer",
    "verl.utils",
    "verl.workers.config.model",
)
#: Modules that bind ``qwen2_5_vl_dedup_image_tokens`` by name; patched when already imported.
DEDUP_MODULES = (
    "verl.workers.rollout.utils",
    "verl.workers.rollout.vllm_rollout.vllm_async_server",
    "verl.workers.rollout.trtllm_rollout.trtllm_async_server",
)
#: Modules that bind ``create_rl_sampler`` by name; patched when already imported.
SAMPLER_MODULES = (
    "verl.trainer.ppo.utils",
    "verl.trainer.ppo.v1.trainer_base",
    "verl.trainer.main_ppo_v0",
    "verl.experimental.one_step_off_policy.main_ppo",
)
#: Continuous-token family of Qwen2.5-Omni (ChatML with Qwen-VL placeholders).
CONTINUOUS_TOKEN_FAMILY = "QWEN25_VL"


def _wrap(original: Callable, replacement: Callable) -> Callable:
    functools.update_wrapper(replacement, original)
    setattr(replacement, WRAPPED_ATTR, original)
    return replacement


def _set_everywhere(modules: tuple[str, ...], name: str, make: Callable[[Callable], Callable]) -> None:
    """Replace ``module.name`` in every listed module that is imported, wrapping verl's original once."""
    source = sys.modules[modules[0]]
    current = getattr(source, name)
    wrapper = current if hasattr(current, WRAPPED_ATTR) else _wrap(current, make(current))
    for module_name in modules:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, name):
            setattr(module, name, wrapper)


def make_hf_processor(original: Callable) -> Callable:
    """Wrap verl's ``hf_processor`` to load Qwen2.5-Omni processors (bound) and delegate everything else.

    Args:
        original: verl's ``hf_processor(name_or_path, **kwargs)``.

    Returns:
        The wrapper.
    """

    def hf_processor(name_or_path, **kwargs):
        from omni_r1_verl.models.qwen2_5_omni.processor import OMNI_MODEL_TYPES, load_omni_processor, read_model_type

        config_kwargs = {k: v for k, v in kwargs.items() if k in ("trust_remote_code", "revision", "cache_dir")}
        if read_model_type(name_or_path, **config_kwargs) in OMNI_MODEL_TYPES:
            return load_omni_processor(name_or_path, **kwargs)
        return original(name_or_path, **kwargs)

    return hf_processor


def make_get_hf_auto_model_class(original: Callable) -> Callable:
    """Wrap verl's ``get_hf_auto_model_class`` to return the Omni thinker loader for Omni configs.

    Args:
        original: verl's ``get_hf_auto_model_class(hf_config)``.

    Returns:
        The wrapper.
    """

    def get_hf_auto_model_class(hf_config):
        from omni_r1_verl.models.qwen2_5_omni.processor import is_omni_config

        if is_omni_config(hf_config):
            from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl

            return OmniThinkerForVerl
        return original(hf_config)

    return get_hf_auto_model_class


def make_patch_forward_with_backends(original: Callable) -> Callable:
    """Wrap verl's ``patch_forward_with_backends`` so the Omni thinker computes fused log-probs itself.

    Args:
        original: verl's ``patch_forward_with_backends(model, use_fused_kernels, fused_kernels_backend)``.

    Returns:
        The wrapper.

    Raises:
        ValueError: For a fused-kernel backend the thinker does not support.
    """

    def patch_forward_with_backends(model, use_fused_kernels: bool = False, fused_kernels_backend: str = None):
        from omni_r1_verl.models.qwen2_5_omni.model import FUSED_BACKENDS, OmniThinkerForVerl

        if not isinstance(model, OmniThinkerForVerl):
            return original(model, use_fused_kernels=use_fused_kernels, fused_kernels_backend=fused_kernels_backend)
        if not use_fused_kernels:
            model.fused_kernels_backend = None
            return None
        backend = fused_kernels_backend or "torch"
        if backend not in FUSED_BACKENDS:
            raise ValueError(
                f"actor_rollout_ref.model.fused_kernel_options.impl_backend={backend!r} is not supported for "
                f"Qwen2.5-Omni; choose one of {FUSED_BACKENDS}"
            )
        model.fused_kernels_backend = backend
        logger.info("Qwen2.5-Omni thinker: fused log-probs with the %s backend", backend)
        return None

    return patch_forward_with_backends


def make_dedup(original: Callable) -> Callable:
    """Wrap verl's ``qwen2_5_vl_dedup_image_tokens`` to collapse every Omni placeholder kind.

    Args:
        original: verl's ``qwen2_5_vl_dedup_image_tokens(prompt_ids, processor)``.

    Returns:
        The wrapper.
    """

    def qwen2_5_vl_dedup_image_tokens(prompt_ids, processor):
        tokens = getattr(processor, "omni_token_ids", None)
        if tokens is None:
            return original(prompt_ids, processor)
        from omni_r1_verl.models.qwen2_5_omni.tokens import collapse_placeholders

        return collapse_placeholders(list(prompt_ids), tokens)

    return qwen2_5_vl_dedup_image_tokens


def make_create_rl_sampler(original: Callable) -> Callable:
    """Wrap verl's ``create_rl_sampler`` so datasets with a ``build_sampler`` method choose their sampler.

    Args:
        original: verl's ``create_rl_sampler(data_config, dataset)``.

    Returns:
        The wrapper.
    """

    def create_rl_sampler(data_config, dataset):
        build = getattr(dataset, "build_sampler", None)
        if callable(build):
            return build(data_config)
        return original(data_config, dataset)

    return create_rl_sampler


def register_continuous_token_family() -> None:
    """Map ``qwen2_5_omni`` and ``qwen2_5_omni_thinker`` to verl's Qwen-VL continuous-token builder."""
    from verl.utils.tokenizer import continuous_token_wiring as wiring

    from omni_r1_verl.models.qwen2_5_omni.processor import OMNI_MODEL_TYPES

    family = getattr(wiring.ContinuousTokenModelFamily, CONTINUOUS_TOKEN_FAMILY)
    for model_type in OMNI_MODEL_TYPES:
        wiring._MODEL_TYPE_TO_FAMILY.setdefault(model_type, family)


def apply() -> None:
    """Install every binding (idempotent; cheap when already applied)."""
    import verl.models.transformers.monkey_patch
    import verl.trainer.ppo.utils
    import verl.utils.model
    import verl.utils.tokenizer.tokenizer
    import verl.workers.config.model
    import verl.workers.rollout.utils  # noqa: F401  (imported before the vLLM server binds its dedup)

    _set_everywhere(HF_PROCESSOR_MODULES, "hf_processor", make_hf_processor)
    _set_everywhere(("verl.utils.model",), "get_hf_auto_model_class", make_get_hf_auto_model_class)
    _set_everywhere(DEDUP_MODULES, "qwen2_5_vl_dedup_image_tokens", make_dedup)
    _set_everywhere(SAMPLER_MODULES, "create_rl_sampler", make_create_rl_sampler)
    _set_everywhere(
        ("verl.models.transformers.monkey_patch",), "patch_forward_with_backends", make_patch_forward_with_backends
    )
    register_continuous_token_family()


def original_of(function: Any) -> Any:
    """verl's function behind one of our wrappers (the function itself when it is not wrapped).

    Args:
        function: A possibly wrapped function.

    Returns:
        The original.
    """
    return getattr(function, WRAPPED_ATTR, function)
