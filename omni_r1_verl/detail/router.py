"""The detail-pool router: a named async Ray actor that batches, dispatches and survives worker failures.

``submit(request)`` is awaited by agent-loop and reward workers (never ``ray.get`` in their event loops).

* **Grouping.** Requests with the same :meth:`DetailRequest.merge_key` (one GRPO group: same video, clip and ground
  truth) that arrive within ``pool.batch_window_s`` become one job, run as soon as ``request.group_size`` of them
  arrived; the worker runs one SAM2 pass for all of them and splits the results.
* **Dispatch.** One loop per worker slot takes jobs from a FIFO queue, so a free worker takes the next job.
* **Failures.** A job that outlives ``pool.attempt_timeout_s`` gets its worker killed; a worker that dies fails
  its job. Either way the slot starts a replacement (same placement) and the job is re-queued, where the next free
  worker, normally another one, takes it, up to ``pool.max_attempts``; then every request of the job gets an
  explicit ``timeout`` / ``worker_died`` result. Exceptions escaping the worker's code give ``error`` (no retry).
* **Backpressure.** At most ``pool.max_queued_requests`` requests are queued or running; further ``submit`` calls
  wait, and every request has an overall deadline of ``pool.request_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ray

from omni_r1_verl.contracts.system2 import DetailRequest, DetailResult, DetailStatus
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.placement import WorkerPlacement
from omni_r1_verl.detail.worker import DetailWorker

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    """One ``submit`` call waiting for its result."""

    request: DetailRequest
    future: asyncio.Future
    submitted: float


@dataclass
class _Job:
    """Requests that share one SAM2 pass."""

    items: list[_Pending]
    deadline: float
    attempts: int = 0

    def live(self) -> list[_Pending]:
        """Items whose caller is still waiting."""
        return [item for item in self.items if not item.future.done()]


@dataclass
class _Group:
    """Requests of one merge key collected during the batching window."""

    items: list[_Pending] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Slot:
    """A worker position: its current actor and health."""

    index: int
    actor: Any = None
    label: str = ""
    alive: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    retired: bool = False
    busy: bool = False
    task: asyncio.Task | None = None


class DetailRouter:
    """Ray async actor (wrapped with ``ray.remote`` by :class:`omni_r1_verl.detail.pool.DetailPool`).

    Args:
        cfg: ``DetailConfig.to_dict()``.
    """

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = DetailConfig.from_dict(cfg)
        pool = self.cfg.pool
        self._placement = WorkerPlacement(self.cfg.placement, pool.num_workers, pool.name)
        self._slots = [_Slot(i) for i in range(pool.num_workers)]
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._groups: dict[str, _Group] = {}
        self._capacity = asyncio.Semaphore(pool.max_queued_requests)
        self._start_lock = asyncio.Lock()
        self._started = False
        self._broken = ""
        self._stats: Counter[str] = Counter()
        self._in_system = 0
        self._last_start_error = ""

    # ------------------------------------------------------------------ public API

    async def start(self) -> dict[str, Any]:
        """Reserve resources and start the workers (idempotent; ``submit`` calls it too).

        Returns:
            :meth:`stats` after the start.
        """
        await self._ensure_started()
        return await self.stats()

    async def submit(self, request: DetailRequest | dict[str, Any]) -> DetailResult:
        """Run System 2 for one rollout.

        Args:
            request: The request (or its dict form; an invalid one raises ``ValueError`` to the caller).

        Returns:
            The result (:mod:`omni_r1_verl.contracts.system2`); failures are explicit statuses, never exceptions.
        """
        if not isinstance(request, DetailRequest):
            request = DetailRequest(**request)
        await self._ensure_started()
        if self._broken:
            return DetailResult.for_request(request, DetailStatus.ERROR, self._broken)
        loop = asyncio.get_running_loop()
        submitted = loop.time()
        timeout = self.cfg.pool.request_timeout_s
        try:
            return await asyncio.wait_for(self._submit(request, submitted), timeout=timeout)
        except asyncio.TimeoutError:
            self._stats["request_timeouts"] += 1
            return DetailResult.for_request(
                request,
                DetailStatus.TIMEOUT,
                f"no result within request_timeout_s={timeout:g}s (queueing and retries included)",
                timings={"queue": loop.time() - submitted},
            )

    async def stats(self) -> dict[str, Any]:
        """Counters, queue depth and worker health."""
        return {
            **dict(self._stats),
            "placement": self._placement.mode,
            "live_workers": sum(s.alive for s in self._slots),
            "in_system": self._in_system,
            "queued_jobs": self._queue.qsize(),
            "collecting_groups": len(self._groups),
            "broken": self._broken,
            "workers": [
                {"slot": s.index, "alive": s.alive, "busy": s.busy, "retired": s.retired, "label": s.label, **s.info}
                for s in self._slots
            ],
        }

    async def worker_handles(self) -> list[Any]:
        """Current worker actors by slot (``None`` while a slot is down); for operations and tests."""
        return [s.actor if s.alive else None for s in self._slots]

    async def config(self) -> dict[str, Any]:
        """The configuration this router runs with (the first creator's)."""
        return self.cfg.to_dict()

    async def shutdown(self) -> None:
        """Fail waiting requests, stop the workers and give back their resources."""
        self._broken = "the detail pool was shut down"
        for key in list(self._groups):
            self._flush(key)
        self._fail_queued(DetailStatus.ERROR, self._broken)
        for slot in self._slots:
            if slot.task is not None:
                slot.task.cancel()
            if slot.actor is not None:
                ray.kill(slot.actor, no_restart=True)
            slot.alive = False
        self._placement.release()

    # ------------------------------------------------------------------ start-up and slots

    async def _ensure_started(self) -> None:
        if self._started:
            return
        async with self._start_lock:
            if self._started:
                return
            try:
                await self._placement.prepare()
                started = await asyncio.gather(*(self._start_slot(slot) for slot in self._slots))
            except Exception as err:  # noqa: BLE001 - reported to every caller as an error status
                self._broken = _summary(err)
                started = []
            for slot, ok in zip(self._slots, started):
                if ok:
                    slot.task = asyncio.create_task(self._slot_loop(slot))
                else:
                    slot.retired = True
            if not any(started) and not self._broken:
                self._broken = f"no detail worker could start: {self._last_start_error}"
            if self._broken:
                logger.error("detail pool cannot start: %s", self._broken)
            self._started = True

    async def _start_slot(self, slot: _Slot) -> bool:
        """Start (or replace) the actor of a slot; retries with back-off, gives up after the configured tries."""
        tries = self.cfg.pool.max_worker_restarts + 1
        for attempt in range(tries):
            actor = (
                ray.remote(DetailWorker)
                .options(max_concurrency=1, max_restarts=0, **self._placement.options(slot.index))
                .remote(self.cfg.to_dict(), slot.index)
            )
            try:
                info = await asyncio.wait_for(actor.ready.remote(), timeout=self.cfg.placement.ready_timeout_s)
            except Exception as err:  # noqa: BLE001 - init errors (missing checkpoint, OOM) arrive here
                ray.kill(actor, no_restart=True)
                self._last_start_error = _summary(err)
                self._stats["worker_start_failures"] += 1
                logger.warning(
                    "detail worker %d failed to start (try %d/%d): %s",
                    slot.index,
                    attempt + 1,
                    tries,
                    self._last_start_error,
                )
                if attempt + 1 < tries:
                    await asyncio.sleep(min(2.0**attempt, 30.0))
                continue
            if slot.actor is not None:
                self._stats["workers_replaced"] += 1
            slot.actor, slot.alive, slot.info = actor, True, dict(info)
            slot.label = f"{info.get('worker', '?')}#{slot.index}"
            return True
        slot.alive = False
        return False

    async def _slot_loop(self, slot: _Slot) -> None:
        """Take jobs while the slot has a live worker; replace the worker after a failure."""
        while True:
            if not slot.alive and not await self._start_slot(slot):
                slot.retired = True
                logger.error("detail worker slot %d retired: %s", slot.index, self._last_start_error)
                if all(s.retired for s in self._slots):
                    self._broken = f"every detail worker failed to restart: {self._last_start_error}"
                    self._fail_queued(DetailStatus.ERROR, self._broken)
                return
            job = await self._queue.get()
            if job.live():
                await self._run(slot, job)

    # ------------------------------------------------------------------ requests and jobs

    async def _submit(self, request: DetailRequest, submitted: float) -> DetailResult:
        async with self._capacity:
            self._in_system += 1
            try:
                future = asyncio.get_running_loop().create_future()
                self._collect(_Pending(request, future, submitted))
                return await future
            finally:
                self._in_system -= 1

    def _collect(self, item: _Pending) -> None:
        key = item.request.merge_key()
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            window = self.cfg.pool.batch_window_s
            group.timer = asyncio.get_running_loop().call_later(window, self._flush, key)
        group.items.append(item)
        self._stats["requests"] += 1
        expected = item.request.group_size
        if (expected and len(group.items) >= expected) or len(group.items) >= self.cfg.pool.max_job_requests:
            self._flush(key)

    def _flush(self, key: str) -> None:
        group = self._groups.pop(key, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        deadline = min(item.submitted for item in group.items) + self.cfg.pool.request_timeout_s
        self._queue.put_nowait(_Job(group.items, deadline))

    async def _run(self, slot: _Slot, job: _Job) -> None:
        live = job.live()
        loop = asyncio.get_running_loop()
        remaining = job.deadline - loop.time()
        if remaining <= 0:
            self._finish(job, DetailStatus.TIMEOUT, "deadline passed while queued", slot.label)
            return
        job.attempts += 1
        timeout = min(self.cfg.pool.attempt_timeout_s, remaining)
        dispatched = loop.time()
        slot.busy = True
        try:
            outcome = await asyncio.wait_for(slot.actor.run_job.remote([i.request for i in live]), timeout=timeout)
        except asyncio.TimeoutError:
            self._stats["attempt_timeouts"] += 1
            logger.warning("detail worker %s: no result within %.0fs; killing it", slot.label, timeout)
            ray.kill(slot.actor, no_restart=True)
            slot.alive = False
            self._retry_or_finish(
                job, DetailStatus.TIMEOUT, f"worker {slot.label} gave no result within {timeout:g}s", slot.label
            )
            return
        except ray.exceptions.RayActorError as err:
            self._stats["worker_deaths"] += 1
            logger.warning("detail worker %s died: %s", slot.label, _summary(err))
            slot.alive = False
            self._retry_or_finish(
                job, DetailStatus.WORKER_DIED, f"worker {slot.label} died: {_summary(err)}", slot.label
            )
            return
        except Exception as err:  # noqa: BLE001 - a bug in worker code: explicit error, no retry
            self._stats["job_errors"] += 1
            logger.exception("detail job failed on %s", slot.label)
            self._finish(job, DetailStatus.ERROR, _summary(err), slot.label)
            return
        finally:
            slot.busy = False
        self._stats["jobs"] += 1
        self._stats["merged_requests"] += len(live) if len(live) > 1 else 0
        self._stats["unique_objects"] += outcome.unique_objects
        self._stats["total_objects"] += outcome.total_objects
        for item, result in zip(live, outcome.results):
            timings = {**result.timings, "queue": dispatched - item.submitted}
            if not item.future.done():
                item.future.set_result(result.replace(attempts=job.attempts, worker=slot.label, timings=timings))

    def _retry_or_finish(self, job: _Job, status: DetailStatus, error: str, worker: str) -> None:
        loop = asyncio.get_running_loop()
        if job.attempts < self.cfg.pool.max_attempts and job.deadline > loop.time():
            self._stats["retries"] += 1
            self._queue.put_nowait(job)
        else:
            self._finish(job, status, f"{error} (attempt {job.attempts}/{self.cfg.pool.max_attempts})", worker)

    def _finish(self, job: _Job, status: DetailStatus, error: str, worker: str) -> None:
        self._stats[f"failed_{status.value}"] += len(job.live())
        for item in job.live():
            item.future.set_result(
                DetailResult.for_request(item.request, status, error, attempts=job.attempts, worker=worker)
            )

    def _fail_queued(self, status: DetailStatus, error: str) -> None:
        while not self._queue.empty():
            self._finish(self._queue.get_nowait(), status, error, "")


_EXCEPTION_LINE = re.compile(r"^\s*([\w.]+(Error|Exception|Interrupt)): .+")


def _summary(err: BaseException) -> str:
    """The most telling line of an error (Ray wraps worker exceptions in long tracebacks)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
    text = causes[-1] if causes else (lines[0] if lines else type(err).__name__)
    return text[:500]
