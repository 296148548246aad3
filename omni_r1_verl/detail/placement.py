"""Where detail workers run: GPUs outside verl's pools, a fraction of verl's GPUs, or CPUs.

* ``dedicated`` reserves ``num_workers`` bundles ``{GPU: gpus_per_worker, CPU: cpus_per_worker}`` (plus one unit of
  ``placement.resource`` when set) in a placement group of its own. The pool is created lazily, after verl's
  resource pools hold their GPUs, so it can only take GPUs verl does not use (e.g. a Slurm allocation of 8 GPUs per
  node with ``trainer.n_gpus_per_node=4``); the custom resource, which the cluster launcher gives each node in the
  amount of its System-2 worker slots, makes that hold whatever the creation order.
* ``shared`` schedules each worker with a fractional GPU into a bundle of verl's own placement groups (named
  ``<shared_pool_prefix>verl_group_...``), for small single-node runs.
* ``cpu`` asks for CPUs only (tests, the CPU demo).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.util.placement_group import PlacementGroup, get_placement_group, placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from omni_r1_verl.detail.config import SECTION, PlacementConfig

logger = logging.getLogger(__name__)


def resolve_mode(cfg: PlacementConfig) -> str:
    """``auto`` becomes ``dedicated`` when the Ray cluster has GPUs, else ``cpu``.

    Args:
        cfg: The placement config.

    Returns:
        ``dedicated``, ``shared`` or ``cpu``.
    """
    if cfg.mode != "auto":
        return cfg.mode
    return "dedicated" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"


def dedicated_bundle(cfg: PlacementConfig) -> dict[str, float]:
    """The resources of one dedicated worker's bundle.

    Args:
        cfg: The placement config.

    Returns:
        ``{"GPU": ..., "CPU": ..., <resource>: 1}`` without zero amounts.
    """
    bundle = {"GPU": cfg.gpus_per_worker, "CPU": cfg.cpus_per_worker}
    if cfg.resource:
        bundle[cfg.resource] = 1.0
    return {k: v for k, v in bundle.items() if v > 0}


def find_shared_bundles(prefix: str, need_gpu: bool) -> list[tuple[PlacementGroup, int]]:
    """Bundles of the created placement groups whose name starts with ``prefix``.

    Args:
        prefix: Placement-group name prefix (verl names its pools ``<pool>verl_group_<sizes>:<index>``).
        need_gpu: Only bundles that hold a GPU.

    Returns:
        ``(placement_group, bundle_index)`` pairs, ordered by group name and bundle index.
    """
    found = []
    for info in ray.util.placement_group_table().values():
        name = info.get("name") or ""
        if not name.startswith(prefix) or info.get("state") != "CREATED":
            continue
        group = get_placement_group(name)
        for index, bundle in sorted(info.get("bundles", {}).items()):
            if not need_gpu or bundle.get("GPU", 0) > 0:
                found.append((name, int(index), group))
    return [(group, index) for _, index, group in sorted(found, key=lambda t: (t[0], t[1]))]


class WorkerPlacement:
    """Scheduling options for each worker slot, and the placement group reserved for them.

    Args:
        cfg: The placement config.
        num_workers: Worker slots.
        name: Pool name (names the dedicated placement group).
    """

    def __init__(self, cfg: PlacementConfig, num_workers: int, name: str):
        self.cfg = cfg
        self.num_workers = num_workers
        self.name = name
        self.mode = ""
        self._group: PlacementGroup | None = None
        self._bundles: list[tuple[PlacementGroup, int]] = []

    async def prepare(self) -> None:
        """Reserve or find the resources; raises with a fix when they cannot be had in time.

        Raises:
            RuntimeError: No GPUs outside verl's pools (``dedicated``) or no verl placement group (``shared``).
        """
        self.mode = resolve_mode(self.cfg)
        if self.mode == "dedicated":
            bundle = dedicated_bundle(self.cfg)
            self._group = placement_group(
                [dict(bundle) for _ in range(self.num_workers)],
                strategy=self.cfg.strategy,
                name=f"{self.name}_workers",
            )
            try:
                await asyncio.wait_for(self._group.ready(), timeout=self.cfg.ready_timeout_s)
            except asyncio.TimeoutError:
                self.release()
                resource = self.cfg.resource
                hint = (
                    f" and {self.num_workers} units of the Ray resource {resource!r} (start every node with "
                    f"ray start --resources='{{\"{resource}\": N}}', as the cluster launcher does)"
                    if resource
                    else ""
                )
                raise RuntimeError(
                    f"the detail pool needs {self.num_workers} x {bundle} outside verl's resource pools and none "
                    f"freed up within {self.cfg.ready_timeout_s:.0f}s: start Ray with more GPUs than "
                    f"trainer.n_gpus_per_node * trainer.nnodes{hint}, or set {SECTION}.placement.mode=shared "
                    f"(fractional GPUs of verl's pool) or =cpu"
                ) from None
        elif self.mode == "shared":
            self._bundles = find_shared_bundles(self.cfg.shared_pool_prefix, need_gpu=self.cfg.gpus_per_worker > 0)
            if not self._bundles:
                raise RuntimeError(
                    f"{SECTION}.placement.mode=shared found no placement group named "
                    f"{self.cfg.shared_pool_prefix!r}* with GPUs; create the pool after verl's trainer has set up its "
                    "resource pools, or use placement.mode=dedicated"
                )
        logger.info("detail pool placement: %s", self.mode)

    def options(self, slot: int) -> dict[str, Any]:
        """``actor.options(...)`` arguments for a worker slot.

        Args:
            slot: Slot number.

        Returns:
            Resource and scheduling options.
        """
        if self.mode == "dedicated":
            strategy = PlacementGroupSchedulingStrategy(self._group, placement_group_bundle_index=slot)
            return {
                "num_cpus": self.cfg.cpus_per_worker,
                "num_gpus": self.cfg.gpus_per_worker,
                "scheduling_strategy": strategy,
            }
        if self.mode == "shared":
            group, index = self._bundles[slot % len(self._bundles)]
            strategy = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=index)
            return {"num_cpus": 0, "num_gpus": self.cfg.gpus_per_worker, "scheduling_strategy": strategy}
        return {"num_cpus": self.cfg.cpus_per_worker, "num_gpus": 0}

    def release(self) -> None:
        """Give back the dedicated placement group (no-op otherwise)."""
        if self._group is not None:
            remove_placement_group(self._group)
            self._group = None
