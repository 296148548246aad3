"""The body of a detail-worker Ray actor: one :class:`DetailEngine` in its own process.

Models are built in the worker, never in a verl process, so the ``sam2`` package's configs never meet verl's
Hydra, and a crashed or hung worker can be killed and replaced without touching training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from omni_r1_verl.contracts.system2 import DetailRequest
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.engine import DetailEngine, JobOutcome

logger = logging.getLogger(__name__)


class DetailWorker:
    """Ray actor class (wrapped with ``ray.remote`` by the router).

    Args:
        cfg: ``DetailConfig.to_dict()``.
        slot: The router's slot number of this worker.
    """

    def __init__(self, cfg: dict[str, Any], slot: int):
        import torch

        self.cfg = DetailConfig.from_dict(cfg)
        self.slot = slot
        if not torch.cuda.is_available():
            torch.set_num_threads(max(1, int(self.cfg.placement.cpus_per_worker)))
        self.engine = DetailEngine(self.cfg)
        logger.info("detail worker %d ready: %s", slot, self.engine.describe())

    def ready(self) -> dict[str, Any]:
        """What this worker loaded and where it runs (returns once the models are built)."""
        import ray

        context = ray.get_runtime_context()
        placement_group = context.get_placement_group_id()
        return {
            "slot": self.slot,
            "node": context.get_node_id(),
            "placement_group": placement_group or "",
            "gpus": [str(g) for g in ray.get_gpu_ids()],
            **self.engine.describe(),
        }

    def run_job(self, requests: Sequence[DetailRequest]) -> JobOutcome:
        """Run one job (see :meth:`DetailEngine.run_job`)."""
        return self.engine.run_job(list(requests))
