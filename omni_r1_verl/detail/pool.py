"""The client side of the detail pool: find or create the named router, submit requests, read stats.

Whichever process needs System 2 first (an agent-loop worker, a reward worker, an evaluator) creates the pool;
every other process of the job finds the same router by name::

    pool = DetailPool.get_or_create(config.system2)
    result = await pool.submit(DetailRequest(...))      # inside async code (agent loop, reward manager)
    results = pool.run([request, ...])                  # blocking, for scripts

The first creator's configuration wins; later callers get the running pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import ray

from omni_r1_verl.contracts.system2 import DetailRequest, DetailResult
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.router import DetailRouter


class DetailPool:
    """Handle on the router actor.

    Args:
        router: The router's actor handle.
        cfg: The configuration the handle was obtained with.
    """

    def __init__(self, router: Any, cfg: DetailConfig):
        self.router = router
        self.cfg = cfg

    @classmethod
    def get_or_create(cls, cfg: DetailConfig | Mapping[str, Any] | None) -> DetailPool:
        """Find the pool by name, or create it (non-blocking: workers start on first use or :meth:`start`).

        Args:
            cfg: The ``system2`` section as a config, dict or OmegaConf node.

        Returns:
            The pool.

        Raises:
            RuntimeError: If Ray is not initialised in this process.
            FileNotFoundError: If a configured checkpoint is missing (the message names the config key).
        """
        if not ray.is_initialized():
            raise RuntimeError("the detail pool lives in a Ray cluster: call ray.init() (verl does) first")
        cfg = DetailConfig.from_dict(cfg)
        cfg.check_paths()
        router = (
            ray.remote(DetailRouter)
            .options(
                name=cfg.pool.name,
                namespace=cfg.pool.namespace or None,
                get_if_exists=True,
                lifetime="detached" if cfg.pool.detached else None,
                max_concurrency=cfg.pool.max_queued_requests + 64,
                num_cpus=0,
                max_restarts=0,
            )
            .remote(cfg.to_dict())
        )
        return cls(router, cfg)

    async def start(self) -> dict[str, Any]:
        """Start the workers now instead of on the first request.

        Returns:
            Pool stats after the start (``broken`` is non-empty if no worker could start).
        """
        return await self.router.start.remote()

    async def submit(self, request: DetailRequest) -> DetailResult:
        """Run System 2 for one rollout (awaitable from any event loop, e.g. verl's agent-loop workers).

        Args:
            request: The rollout's request.

        Returns:
            The result.
        """
        return await self.router.submit.remote(request)

    async def submit_many(self, requests: Sequence[DetailRequest]) -> list[DetailResult]:
        """Submit concurrently (requests of one group are merged by the router).

        Args:
            requests: The requests.

        Returns:
            Results in order.
        """
        return list(await asyncio.gather(*(self.submit(r) for r in requests)))

    def run(self, requests: Sequence[DetailRequest]) -> list[DetailResult]:
        """Blocking :meth:`submit_many` for scripts and evaluators (not for code inside an event loop).

        Args:
            requests: The requests.

        Returns:
            Results in order.
        """
        return ray.get([self.router.submit.remote(r) for r in requests])

    async def stats(self) -> dict[str, Any]:
        """Router counters and worker health."""
        return await self.router.stats.remote()

    def shutdown(self) -> None:
        """Stop the workers, give back their resources and kill the router."""
        ray.get(self.router.shutdown.remote())
        ray.kill(self.router)
