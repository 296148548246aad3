"""Data-parallel evaluation over Ray: System-1 replicas and System-2 workers on every GPU of a node or cluster.

:class:`RayExecutor` runs the two stages of :mod:`omni_r1_verl.evaluation.runner` in two pools of actors: System-1
replicas (one per ``evaluation.system1.tensor_parallel_size`` GPUs; the ``hf`` or ``vllm`` engine) answer and plan,
System-2 workers (``system2.placement.gpus_per_worker`` GPUs each; grounding model + SAM2 + the metrics, so masks
never leave the worker) segment and score. Samples flow through both pools at once; each free actor takes the next
sample. On a machine without GPUs the actors take one logical CPU each.

A worker that dies on a sample (out of memory, a crashed kernel) is replaced with an actor of the same shape and the
sample is tried again, up to ``system2.pool.max_attempts`` times; then it is recorded as ``worker_died`` and the
run goes on. (The training pool, :class:`omni_r1_verl.detail.pool.DetailPool`, merges the clip requests of GRPO
groups and returns pixel counts; evaluation needs whole-video jobs whose masks are scored where they are made, so it
keeps its own actors with the same replace-and-retry rule.)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import ray

from omni_r1_verl.evaluation.runner import EvalSettings, SamplePlanner, Stage1, assemble

logger = logging.getLogger(__name__)


class System1Actor:
    """A System-1 replica (wrapped with ``ray.remote``): loads the engine, answers and plans one row at a time."""

    def __init__(self, settings: EvalSettings) -> None:
        import dataclasses

        from omni_r1_verl.evaluation.system1 import build_system1

        device = "cuda" if ray.get_gpu_ids() else "cpu"
        cfg = dataclasses.replace(settings.evaluation.system1, device=device)
        self.planner = SamplePlanner(settings, build_system1(settings.model, cfg, settings.omni_data))

    def ready(self) -> bool:
        """Returns once the model is loaded."""
        return True

    def plan(self, key: str, row: dict | None, position: int, problem: str) -> Stage1:
        """Stage 1 of one row (see :class:`~omni_r1_verl.evaluation.runner.SamplePlanner`)."""
        return self.planner(key, row, position, problem)


class System2Actor:
    """A System-2 worker (wrapped with ``ray.remote``): grounding + SAM2 + metrics for one sample at a time."""

    def __init__(self, settings: EvalSettings) -> None:
        import torch

        from omni_r1_verl.evaluation.system2 import System2Runner

        gpus = ray.get_gpu_ids()
        if not gpus:
            torch.set_num_threads(max(1, int(settings.system2.placement.cpus_per_worker)))
        s = settings
        self.runner = System2Runner(
            s.benchmark, s.system2, s.evaluation, s.out, s.save_masks, "cuda" if gpus else "cpu"
        )

    def ready(self) -> bool:
        """Returns once the models are loaded."""
        return True

    def score(self, stage: Stage1) -> dict[str, Any]:
        """System 2 and the metrics of one planned sample."""
        return self.runner.run(stage.sample, stage.plan)


#: Marker of :meth:`ReplicaPool.collect`'s reason for an item whose workers all died.
_DIED = "died on every attempt"


class ReplicaPool:
    """Actors of one kind that each take one item at a time; a dead actor is replaced and its item retried.

    Args:
        cls: The actor class.
        settings: Its constructor argument.
        size: Actors.
        options: ``ray.remote`` options (resources).
        max_attempts: Tries per item before it fails as ``worker_died``.
        name: For logs.
    """

    def __init__(self, cls: type, settings: EvalSettings, size: int, options: dict, max_attempts: int, name: str):
        self.cls, self.settings, self.options, self.max_attempts, self.name = cls, settings, options, max_attempts, name
        self.actors = [self._start() for _ in range(size)]
        ray.get([a.ready.remote() for a in self.actors])
        self.idle = deque(range(size))
        self.running: dict[Any, tuple[int, str, tuple, int]] = {}
        self.replaced = 0

    def _start(self):
        return ray.remote(self.cls).options(max_restarts=0, max_concurrency=1, **self.options).remote(self.settings)

    def submit(self, method: str, item: tuple, attempt: int = 1) -> None:
        """Start ``actor.method(*item)`` on an idle actor (call only when :attr:`idle` is not empty)."""
        slot = self.idle.popleft()
        ref = getattr(self.actors[slot], method).remote(*item)
        self.running[ref] = (slot, method, item, attempt)

    def collect(self, ref) -> tuple[tuple, Any, str]:
        """The item of a finished call and its result, or ``(item, None, reason)`` once it failed for good.

        A dead actor is replaced; its item is resubmitted (then ``(item, None, "")`` means "not finished").
        """
        slot, method, item, attempt = self.running.pop(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as err:
            logger.warning("%s worker %d died (try %d/%d): %s", self.name, slot, attempt, self.max_attempts, err)
            ray.kill(self.actors[slot], no_restart=True)
            self.actors[slot] = self._start()
            self.replaced += 1
            self.idle.append(slot)
            if attempt < self.max_attempts:
                self.submit(method, item, attempt + 1)
                return item, None, ""
            return item, None, f"{self.name} worker {_DIED} ({attempt}): {type(err).__name__}"
        except ray.exceptions.RayTaskError as err:
            self.idle.append(slot)
            return item, None, f"{self.name} worker error: {str(err).strip().splitlines()[-1][:500]}"
        self.idle.append(slot)
        return item, result, ""

    def shutdown(self) -> None:
        """Kill the actors."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)


def _resources(gpus: float, cpus: float, has_gpus: bool) -> dict[str, float]:
    return {"num_gpus": gpus, "num_cpus": cpus} if has_gpus and gpus > 0 else {"num_cpus": max(cpus, 1)}


class RayExecutor:
    """Both stages over Ray actors (see the module docstring).

    Args:
        settings: The run (``workers`` System-2 workers, ``system1_replicas`` System-1 replicas).
        system1_actor: Actor class of System 1 (tests substitute a subclass).
        system2_actor: Actor class of System 2 (tests substitute a subclass).
    """

    def __init__(self, settings: EvalSettings, system1_actor: type = System1Actor, system2_actor: type = System2Actor):
        if not ray.is_initialized():
            ray.init(log_to_driver=False)  # joins RAY_ADDRESS when set, else starts a local cluster
        self.settings = s = settings
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        attempts = s.system2.pool.max_attempts
        placement = s.system2.placement
        self.system2 = ReplicaPool(
            system2_actor,
            s,
            s.workers,
            _resources(placement.gpus_per_worker, placement.cpus_per_worker, has_gpus),
            attempts,
            "System-2",
        )
        self.system1 = None
        if s.needs_system1:
            gpus = float(s.evaluation.system1.tensor_parallel_size)
            options = _resources(gpus, 1, has_gpus)
            self.system1 = ReplicaPool(system1_actor, s, s.system1_replicas, options, attempts, "System-1")
        self.local_planner = SamplePlanner(s) if self.system1 is None else None
        self.failures = SamplePlanner(s)

    def run(self, items: Iterable[tuple[str, dict | None, int, str]]) -> Iterator[dict[str, Any]]:
        """Records as samples finish (any order)."""
        waiting = deque(items)
        planned: deque[Stage1] = deque()
        pools = [p for p in (self.system1, self.system2) if p is not None]
        while waiting or planned or any(p.running for p in pools):
            if self.system1 is None:
                while waiting:
                    planned.append(self.local_planner(*waiting.popleft()))
            else:
                while waiting and self.system1.idle:
                    self.system1.submit("plan", waiting.popleft())
            while planned and (planned[0].done or self.system2.idle):
                stage = planned.popleft()
                if stage.done:
                    yield assemble(stage, None)
                else:
                    self.system2.submit("score", (stage,))
            refs = [ref for p in pools for ref in p.running]
            if not refs:
                continue
            (ref,), _ = ray.wait(refs, num_returns=1)
            if self.system1 is not None and ref in self.system1.running:
                (key, row, position, problem), stage, reason = self.system1.collect(ref)
                if stage is not None:
                    planned.append(stage)
                elif reason:
                    planned.append(self.failures.fail(key, row, position, reason, _status(reason)))
            else:
                (stage,), result, reason = self.system2.collect(ref)
                if result is not None:
                    yield assemble(stage, result)
                elif reason:
                    yield assemble(self.failures.fail(stage, None, 0, reason, _status(reason)), None)

    def stats(self) -> dict[str, int]:
        """Actors replaced after dying, per pool."""
        return {
            "system2_replaced": self.system2.replaced,
            "system1_replaced": self.system1.replaced if self.system1 else 0,
        }

    def close(self) -> None:
        """Kill the actors."""
        for pool in (self.system1, self.system2):
            if pool is not None:
                pool.shutdown()


def _status(reason: str) -> str:
    return "worker_died" if _DIED in reason else "error"
