"""What verl's training side needs on the CPU platform: FSDP2 engines for device ``cpu`` and a gloo process group.

Applied by :func:`activate` from our verl plugin in processes that asked for the CPU platform (``VERL_PLATFORM=cpu``),
each part when verl imports the module it changes (so a process that never builds an engine imports none of it):

* verl registers its FSDP engines for devices ``cuda`` and ``npu`` only; we register them for ``cpu`` through the
  public ``EngineRegistry.register``, as subclasses that keep parameters in host memory instead of building FSDP2's
  pinned CPU offload. FSDP2 (``strategy=fsdp2``) runs on CPU tensors over gloo. FSDP1
  (``strategy=fsdp``) cannot (``sync_module_states`` requires device tensors), so ``fsdp`` gets a stand-in that
  fails with that explanation instead of verl's generic "no engine registered".
* verl builds its process-group backend as ``f"cpu:gloo,{device}:{backend}"``, which on CPU is
  ``"cpu:gloo,cpu:gloo"`` and torch rejects the duplicate device. verl has no extension point for this string, so
  we wrap the one function (see :func:`patch_process_group_backend` for the exact site).
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType
from typing import Any

from omni_r1_verl.utils.modules import after_import

logger = logging.getLogger(__name__)

#: Engine model types whose FSDP implementations are registered for the CPU device.
FSDP_MODEL_TYPES: tuple[str, ...] = ("language_model", "value_model")

#: Attribute marking our wrapper (keeps :func:`patch_process_group_backend` idempotent).
_PATCH_MARK = "_omni_r1_cpu_gloo"

#: Module that defines verl's FSDP engines (importing it registers them for ``cuda`` and ``npu``).
FSDP_ENGINE_MODULE = "verl.workers.engine.fsdp.transformer_impl"

#: Module that defines ``initialize_global_process_group_ray``.
DISTRIBUTED_MODULE = "verl.utils.distributed"


class _HostMemoryFSDP:
    """Mixin for verl's FSDP engines on CPU: parameters live in host memory, so FSDP2 gets no CPU-offload policy.

    verl gives forward-only engines (the reference model) ``CPUOffloadPolicy(pin_memory=True)``
    (``verl/workers/engine/fsdp/transformer_impl.py`` lines 459-463). On CPU the offload moves nothing, and pinning
    host memory needs a CUDA driver, so the engine is built as if it were not forward-only; ``forward_only`` is
    restored right after, so everything else (no optimiser, no ``to()`` moves) behaves as verl intends.
    """

    def _build_fsdp_module(self, module):
        if self.engine_config.offload_policy:
            raise ValueError(
                "fsdp_config.offload_policy=True pins host memory, which needs a CUDA driver; on the CPU platform the "
                "parameters already live in host memory: set it to false"
            )
        forward_only = self.engine_config.forward_only
        self.engine_config.forward_only = False
        try:
            return super()._build_fsdp_module(module)
        finally:
            self.engine_config.forward_only = forward_only


def _cpu_engine(base: type) -> type:
    """verl's FSDP engine class ``base`` adapted to host memory (see :class:`_HostMemoryFSDP`)."""
    return type(f"CPU{base.__name__}", (_HostMemoryFSDP, base), {"__doc__": f"{base.__name__} on the CPU platform."})


def _fsdp1_unavailable_engine(base: type) -> type:
    """A registry entry for ``strategy=fsdp`` on CPU that explains why it cannot run."""

    def __new__(cls, *args: Any, **kwargs: Any):
        raise ValueError(
            "actor/ref/critic strategy=fsdp (FSDP1) cannot run on the CPU platform: its sync_module_states needs "
            "device tensors. Use FSDP2: actor_rollout_ref.actor.strategy=fsdp2 (the cpu_tiny platform config does)."
        )

    return type("FSDP1UnavailableOnCPU", (base,), {"__new__": __new__, "__doc__": "FSDP1 stand-in on CPU."})


def register_cpu_engines(fsdp_engines: ModuleType) -> None:
    """Register verl's FSDP2 engines, adapted to host memory, for device ``cpu`` (idempotent).

    Args:
        fsdp_engines: verl's ``verl.workers.engine.fsdp.transformer_impl``.
    """
    from verl.workers.engine.base import EngineRegistry

    classes = {"language_model": fsdp_engines.FSDPEngineWithLMHead, "value_model": fsdp_engines.FSDPEngineWithValueHead}
    for model_type in FSDP_MODEL_TYPES:
        # EngineRegistry asserts on duplicate keys and offers no lookup without the current device, so read its
        # table to stay idempotent.
        registered = EngineRegistry._engines.get(model_type, {})
        if "cpu" not in registered.get("fsdp2", {}):
            EngineRegistry.register(model_type=model_type, backend="fsdp2", device="cpu")(
                _cpu_engine(classes[model_type])
            )
        if "cpu" not in registered.get("fsdp", {}):
            EngineRegistry.register(model_type=model_type, backend="fsdp", device="cpu")(
                _fsdp1_unavailable_engine(classes[model_type])
            )


def patch_process_group_backend(distributed: ModuleType) -> None:
    """Make verl's process-group initialisation use plain gloo on the CPU platform (idempotent).

    Replaces ``verl.utils.distributed.initialize_global_process_group_ray`` (verl 0.9.1,
    ``verl/utils/distributed.py`` lines 83-99), which defaults ``backend`` to
    ``f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"``. On the CPU platform that is ``"cpu:gloo,cpu:gloo"``
    and ``torch.distributed.init_process_group`` raises ``Duplicate device type cpu``. The wrapper passes
    ``backend="gloo"`` when the caller gave none and the device is ``cpu``; every other call is forwarded unchanged.
    The hook runs when verl imports ``verl.utils.distributed``, before the modules that import the function by
    name (``verl.workers.engine_workers``, ``verl.checkpoint_engine.base``) bind it, so they bind the wrapper.
    ``tests/platform/test_cpu_engines.py`` fails when verl stops producing the duplicate, so the patch can be
    dropped then.

    Args:
        distributed: verl's ``verl.utils.distributed``.
    """
    original = distributed.initialize_global_process_group_ray
    if getattr(original, _PATCH_MARK, False):
        return

    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        if backend is None and distributed.get_device_name() == "cpu":
            backend = "gloo"
        return original(timeout_second=timeout_second, backend=backend)

    setattr(initialize_global_process_group_ray, _PATCH_MARK, True)
    distributed.initialize_global_process_group_ray = initialize_global_process_group_ray


def activate() -> None:
    """Everything the training side needs on the CPU platform, each part when verl imports its module."""
    after_import(FSDP_ENGINE_MODULE, register_cpu_engines)
    after_import(DISTRIBUTED_MODULE, patch_process_group_backend)
    logger.debug("CPU platform: FSDP2 engines for device 'cpu' and gloo process groups on import")
