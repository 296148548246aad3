"""Registers the CPU platform and the ``hf`` rollout backend with verl (imported by our verl plugin).

* platform ``cpu`` in verl's ``PlatformRegistry`` (importing :mod:`omni_r1_verl.platform.cpu`);
* rollout ``hf``: the replica in ``RolloutReplicaRegistry`` (loaded lazily) and the trainer-side adapter in verl's
  rollout-class table ``verl.workers.rollout.base._ROLLOUT_REGISTRY`` (verl's only registration point for
  ``get_rollout_class``: a dict of ``(name, mode)`` to class path);
* in processes that resolve the CPU platform, the FSDP2 engines for device ``cpu`` and the gloo process-group fix
  (:func:`omni_r1_verl.platform.cpu_engines.activate`).
"""

from __future__ import annotations

from verl.workers.rollout.base import _ROLLOUT_REGISTRY
from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry

from omni_r1_verl.platform import cpu, cpu_engines

#: ``actor_rollout_ref.rollout.name`` of the transformers backend.
ROLLOUT_NAME = "hf"

#: Class path of the trainer-side adapter (verl imports it in the FSDP workers).
ADAPTER_CLASS = "omni_r1_verl.platform.hf_adapter.HFServerAdapter"


def _load_replica() -> type[RolloutReplica]:
    from omni_r1_verl.platform.hf_replica import HFReplica

    return HFReplica


def register() -> None:
    """Register everything (idempotent; runs on import)."""
    _ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = ADAPTER_CLASS
    RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
    if cpu.cpu_platform_selected():
        cpu_engines.activate()


register()
