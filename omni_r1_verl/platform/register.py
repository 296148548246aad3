"""Registers the CPU platform and the ``hf`` rollout backend with verl (called by our verl plugin).

Only names are registered; what is behind them is imported when a run uses it. Like every module our plugin imports
at its top, this one imports no verl module at its own top (verl may be importing it; see ``verl_plugin``):

* platform ``cpu`` in verl's ``PlatformRegistry`` (a registry ``import verl`` has already loaded). verl's
  auto-detection never picks it (:meth:`~omni_r1_verl.platform.cpu.PlatformCPU.is_platform_available`); a run
  selects it with ``VERL_PLATFORM=cpu``;
* rollout ``hf``: a loader in ``RolloutReplicaRegistry`` and the trainer-side adapter's class path in verl's
  rollout-class table ``verl.workers.rollout.base._ROLLOUT_REGISTRY`` (verl's only registration point for
  ``get_rollout_class``: a dict of ``(name, mode)`` to class path), each added when verl imports that registry;
* in processes that asked for the CPU platform, the FSDP2 engines for device ``cpu`` and the gloo process-group fix
  (:func:`omni_r1_verl.platform.cpu_engines.activate`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from omni_r1_verl.platform import cpu_engines, cpu_platform_selected
from omni_r1_verl.utils.modules import after_import

#: ``actor_rollout_ref.rollout.name`` of the transformers backend.
ROLLOUT_NAME = "hf"

#: Class path of the trainer-side adapter (verl imports it in the FSDP workers).
ADAPTER_CLASS = "omni_r1_verl.platform.hf_adapter.HFServerAdapter"


def _load_replica() -> type:
    from omni_r1_verl.platform.hf_replica import HFReplica

    return HFReplica


def _register_adapter(rollout_base: ModuleType) -> None:
    rollout_base._ROLLOUT_REGISTRY.setdefault((ROLLOUT_NAME, "async"), ADAPTER_CLASS)


def _register_replica(replica: ModuleType) -> None:
    if ROLLOUT_NAME not in replica.RolloutReplicaRegistry._registry:
        replica.RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)


def register() -> None:
    """Register everything (idempotent)."""
    # The platform module registers itself; imported here, not at the top, because verl may be importing it.
    importlib.import_module("omni_r1_verl.platform.cpu")
    after_import("verl.workers.rollout.base", _register_adapter)
    after_import("verl.workers.rollout.replica", _register_replica)
    if cpu_platform_selected():
        cpu_engines.activate()
