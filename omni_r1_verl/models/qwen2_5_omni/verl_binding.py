"""Runtime bindings that make verl 0.9.1 treat Qwen2.5-Omni like its supported VL models.

verl offers no registry for processors, model classes or the token-in prompt collapse, so these few functions are
wrapped at runtime. :func:`apply` (called from :mod:`omni_r1_verl.verl_plugin`, i.e. in every process that imports
verl) only registers post-import hooks: each function is wrapped when verl imports its module, before any other verl
module imports it by name, and nothing is imported for a module a run never loads. Every wrapper recognises Omni
inputs by type (the checkpoint's model type, our config and model classes, our
:class:`~omni_r1_verl.models.qwen2_5_omni.tokens.OmniTokenIds`, a ``build_sampler`` method on the dataset's class),
never by what an object answers (a ``MagicMock`` answers everything), and delegates everything else to verl's
original, so non-Omni runs in the same environment get verl's results. :func:`apply` is idempotent.
``tests/models/qwen2_5_omni/test_verl_binding.py`` fails if the verl code these wrappers stand in for changes.

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
``verl/trainer/ppo/utils.py:140``             ``create_rl_sampler``: a dataset whose class defines
``create_rl_sampler`` (+ its imports in       ``build_sampler(data_config)`` chooses its sampler (our dataset's
``trainer/ppo/v1/trainer_base.py``,           passes the epoch to ``__getitem__``); every other dataset gets
                                              verl's sampler
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
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from omni_r1_verl.models.qwen2_5_omni.tokens import OmniTokenIds, collapse_placeholders
from omni_r1_verl.utils.modules import after_import

logger = logging.getLogger(__name__)

#: Attribute set on every wrapper; its value is the wrapped verl function.
WRAPPED_ATTR = "__omni_r1_wraps__"

#: Our thinker's module: a model can only be an ``OmniThinkerForVerl`` once a run has imported it.
MODEL_MODULE = "omni_r1_verl.models.qwen2_5_omni.model"
#: transformers' Qwen2.5-Omni config module: a config can only be an Omni config once it is imported.
CONFIG_MODULE = "transformers.models.qwen2_5_omni.configuration_qwen2_5_omni"
#: verl's continuous-token wiring (model type -> chat-template family).
CONTINUOUS_TOKEN_MODULE = "verl.utils.tokenizer.continuous_token_wiring"
#: Continuous-token family of Qwen2.5-Omni (ChatML with Qwen-VL placeholders).
CONTINUOUS_TOKEN_FAMILY = "QWEN25_VL"


@dataclass(frozen=True)
class Site:
    """One verl function we wrap.

    Attributes:
        module: The module that defines it.
        name: Its name.
        make: Builds the wrapper from verl's original.
        binders: Other modules that import it by name (``from module import name``).
    """

    module: str
    name: str
    make: Callable[[Callable], Callable]
    binders: tuple[str, ...] = ()


def _wrap(original: Callable, replacement: Callable) -> Callable:
    functools.update_wrapper(replacement, original)
    setattr(replacement, WRAPPED_ATTR, original)
    return replacement


def _is_omni_config(hf_config: Any) -> bool:
    """Whether ``hf_config`` is a transformers Qwen2.5-Omni (root or thinker) config, without importing them."""
    configs = sys.modules.get(CONFIG_MODULE)
    return configs is not None and isinstance(hf_config, (configs.Qwen2_5OmniConfig, configs.Qwen2_5OmniThinkerConfig))


def _is_omni_thinker(model: Any) -> bool:
    """Whether ``model`` is our :class:`OmniThinkerForVerl`, without importing it."""
    ours = sys.modules.get(MODEL_MODULE)
    return ours is not None and isinstance(model, ours.OmniThinkerForVerl)


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
        if _is_omni_config(hf_config):
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
        if not _is_omni_thinker(model):
            return original(model, use_fused_kernels=use_fused_kernels, fused_kernels_backend=fused_kernels_backend)
        from omni_r1_verl.models.qwen2_5_omni.model import FUSED_BACKENDS

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
        if not isinstance(tokens, OmniTokenIds):
            return original(prompt_ids, processor)
        return collapse_placeholders(list(prompt_ids), tokens)

    return qwen2_5_vl_dedup_image_tokens


def make_create_rl_sampler(original: Callable) -> Callable:
    """Wrap verl's ``create_rl_sampler`` so datasets whose class defines ``build_sampler`` choose their sampler.

    Args:
        original: verl's ``create_rl_sampler(data_config, dataset)``.

    Returns:
        The wrapper.
    """

    def create_rl_sampler(data_config, dataset):
        # Looked up on the class: an instance that answers every attribute (a mock) is not a sampler builder.
        build = getattr(type(dataset), "build_sampler", None)
        if callable(build):
            return dataset.build_sampler(data_config)
        return original(data_config, dataset)

    return create_rl_sampler


def register_continuous_token_family(wiring: ModuleType) -> None:
    """Map ``qwen2_5_omni`` and ``qwen2_5_omni_thinker`` to verl's Qwen-VL continuous-token builder.

    Args:
        wiring: verl's ``verl.utils.tokenizer.continuous_token_wiring``.
    """
    from omni_r1_verl.models.qwen2_5_omni.processor import OMNI_MODEL_TYPES

    family = getattr(wiring.ContinuousTokenModelFamily, CONTINUOUS_TOKEN_FAMILY)
    for model_type in OMNI_MODEL_TYPES:
        wiring._MODEL_TYPE_TO_FAMILY.setdefault(model_type, family)


#: Every wrapped verl function (verl 0.9.1).
SITES: tuple[Site, ...] = (
    Site(
        "verl.utils.tokenizer.tokenizer",
        "hf_processor",
        make_hf_processor,
        ("verl.utils.tokenizer", "verl.utils", "verl.workers.config.model"),
    ),
    Site("verl.utils.model", "get_hf_auto_model_class", make_get_hf_auto_model_class),
    Site(
        "verl.workers.rollout.utils",
        "qwen2_5_vl_dedup_image_tokens",
        make_dedup,
        (
            "verl.workers.rollout.vllm_rollout.vllm_async_server",
            "verl.workers.rollout.trtllm_rollout.trtllm_async_server",
        ),
    ),
    Site(
        "verl.trainer.ppo.utils",
        "create_rl_sampler",
        make_create_rl_sampler,
        (
            "verl.trainer.ppo.v1.trainer_base",
            "verl.trainer.main_ppo_v0",
            "verl.experimental.one_step_off_policy.main_ppo",
        ),
    ),
    Site("verl.models.transformers.monkey_patch", "patch_forward_with_backends", make_patch_forward_with_backends),
)


def _wrap_definition(site: Site) -> Callable[[ModuleType], None]:
    def wrap(module: ModuleType) -> None:
        current = getattr(module, site.name)
        if not hasattr(current, WRAPPED_ATTR):
            setattr(module, site.name, _wrap(current, site.make(current)))

    return wrap


def _rebind(site: Site) -> Callable[[ModuleType], None]:
    """A binder imported before the wrapping (``verl.utils`` is, by ``import verl``) gets the wrapper too."""

    def rebind(module: ModuleType) -> None:
        wrapper = getattr(sys.modules.get(site.module), site.name, None)
        original = original_of(wrapper)
        if original is not wrapper and getattr(module, site.name, None) is original:
            setattr(module, site.name, wrapper)

    return rebind


_applied = False


def apply() -> None:
    """Install every binding when verl imports its module (idempotent; imports nothing)."""
    global _applied
    if _applied:
        return
    _applied = True
    for site in SITES:
        after_import(site.module, _wrap_definition(site))
        for binder in site.binders:
            after_import(binder, _rebind(site))
    after_import(CONTINUOUS_TOKEN_MODULE, register_continuous_token_family)


def original_of(function: Any) -> Any:
    """verl's function behind one of our wrappers (the function itself when it is not wrapped).

    Args:
        function: A possibly wrapped function.

    Returns:
        The original.
    """
    return getattr(function, WRAPPED_ATTR, function)
