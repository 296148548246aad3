"""An ordered parallel map over forked worker processes that survives workers dying.

:class:`ForkMap` replaces :class:`multiprocessing.pool.Pool` for conversion jobs, for two reasons:

* **Nothing is lost when a worker dies.** A pool worker killed mid-task (a media decoder's segfault, the kernel's
  out-of-memory killer) leaves ``Pool.imap`` waiting forever. Here the parent sees the worker's pipe close, starts a
  replacement, re-sends the tasks it had queued and retries the one it was running; an item that kills workers
  again gets the caller's ``lost`` result, with the reason. With a ``timeout``, a worker stuck on one item (a hung
  decoder) is killed and handled the same way.
* **Less work in the parent.** Workers are forked after the inputs exist, so they read items from their inherited
  memory and the parent sends only indices; the parent's single thread multiplexes the pipes (a pool runs three
  helper threads, whose hand-offs cost the parent CPU time that, on a small machine, the workers need).

Kept after evaluating pool libraries (issue 12: pebble 5.2.3, loky 3.7.0): loky fails every pending task when one
worker dies and has no per-task timeout; pebble's workers share one result pipe under a lock, so a worker killed while
pickling its result keeps the lock (the next item is blamed after 60 s, then all pending fail with BrokenProcessPool),
and a result that fails to pickle with AttributeError kills its worker. Speed on benchmarks/data_pipeline.py tied
within noise (pebble/ForkMap wall time: median 1.07 on a quiet machine, 0.90 under load, quartiles straddling 1) with
35% more CPU time in the parent.

Results come back in input order whatever the number of workers, so the output of a job does not depend on it.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def fork_available() -> bool:
    """Whether this platform can fork worker processes (Linux, macOS; not Windows)."""
    return "fork" in mp.get_all_start_methods()


def describe_exit(code: int | None) -> str:
    """A process exit code in words (``killed by SIGKILL``, ``exit status 3``)."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass(frozen=True)
class Failure:
    """Why an item got the ``lost`` result.

    Attributes:
        reason: In words (``ValueError: ...``, ``worker process 12 died (killed by SIGKILL) on it, 2 attempts``).
        worker_died: Workers died or hung on the item (otherwise ``fn`` raised, or its result could not be pickled).
    """

    reason: str
    worker_died: bool


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    pending: deque[int] = field(default_factory=deque)
    #: When the worker's current item (the first pending one) started.
    since: float = field(default_factory=time.monotonic)


def _serve(conn: Connection, fn: Callable[[T], R], items: Sequence[T]) -> None:
    """Worker loop: receive an index, send ``(index, ok, result or error text)``; ``None`` or EOF ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    gc.enable()  # the parent may have paused its collector for its own allocations; fn runs with it on
    while True:
        try:
            index = conn.recv()
        except (EOFError, OSError):
            return
        if index is None:
            return
        try:
            payload = ForkingPickler.dumps((index, True, fn(items[index])))
        except Exception as err:  # noqa: BLE001 - reported to the parent as the item's failure
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            payload = ForkingPickler.dumps((index, False, text))
        conn.send_bytes(payload)


class ForkMap(Generic[T, R]):
    """``fn`` over ``items`` in forked processes, results yielded in input order.

    Args:
        fn: Called on each item in a worker. It and ``items`` reach workers through ``fork`` (never pickled);
            results are pickled back.
        items: The inputs.
        workers: Worker processes.
        lost: Builds the result of an item whose ``fn`` raised or whose worker died on it ``retries + 1`` times,
            from the item and the :class:`Failure`.
        in_flight: Items queued per worker, so that a worker never waits for the parent between items (one per
            worker once fewer than ``workers * in_flight`` items are left, so the last ones go to idle workers).
        retries: Times an item that was running when its worker died is tried again on a fresh worker.
        window: At most this many items are dispatched beyond the oldest one not yet yielded (bounds the results
            held back to keep the order). Default: ``16 * workers * in_flight``.
        timeout: Seconds one item may take; a worker past it is killed and treated as dead on that item.
            ``None``: no limit.

    Attributes:
        deaths: Worker processes that died during the map (each was replaced).
        failures: Items that got the ``lost`` result.

    Example:
        >>> for result in ForkMap(convert, units, workers=4, lost=skip_unit):  # doctest: +SKIP
        ...     write(result)
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        workers: int,
        *,
        lost: Callable[[T, Failure], R],
        in_flight: int = 2,
        retries: int = 1,
        window: int | None = None,
        timeout: float | None = None,
    ) -> None:
        if not fork_available():
            raise RuntimeError("ForkMap needs the 'fork' start method, which this platform lacks")
        if workers < 1 or in_flight < 1 or retries < 0:
            raise ValueError(f"need workers >= 1, in_flight >= 1, retries >= 0; got {workers}, {in_flight}, {retries}")
        self.fn, self.items, self.lost = fn, items, lost
        self.workers, self.in_flight, self.retries = workers, in_flight, retries
        self.window = window if window is not None else 16 * workers * in_flight
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout}")
        self.timeout = timeout
        self.deaths = 0
        self.failures = 0

    def __iter__(self) -> Iterator[R]:
        count = len(self.items)
        if count == 0:
            return
        todo = deque(range(count))
        attempts = [0] * count
        done: dict[int, R] = {}
        next_out = 0
        ctx = mp.get_context("fork")
        pool: dict[Connection, _Worker] = {}

        def start() -> None:
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_serve, args=(child, self.fn, self.items), daemon=True)
            process.start()
            child.close()
            pool[parent] = _Worker(process, parent)

        def dispatch(worker: _Worker) -> None:
            if not worker.pending:
                worker.since = time.monotonic()
            # Near the end, one item per worker: an item queued behind a long one would wait while others idle.
            depth = self.in_flight if len(todo) > len(pool) * self.in_flight else 1
            while len(worker.pending) < depth and todo and todo[0] < next_out + self.window:
                index = todo.popleft()
                try:
                    worker.conn.send(index)
                except OSError:  # the worker is dead: wait() reports its closed pipe next, and bury() handles it
                    todo.appendleft(index)
                    return
                attempts[index] += 1
                worker.pending.append(index)

        def fail(index: int, failure: Failure) -> None:
            self.failures += 1
            done[index] = self.lost(self.items[index], failure)

        def bury(worker: _Worker, why: str = "") -> None:
            """A worker died: requeue what it held, retry or give up its current item, replace it."""
            del pool[worker.conn]
            worker.conn.close()
            worker.process.join(timeout=5)
            self.deaths += 1
            why = why or f"worker process {worker.process.pid} died ({describe_exit(worker.process.exitcode)})"
            if worker.pending:
                current, *queued = worker.pending
                for index in reversed(queued):  # only queued: not an attempt
                    attempts[index] -= 1
                    todo.appendleft(index)
                if attempts[current] <= self.retries:
                    logger.warning("%s on item %d; trying it again", why, current)
                    todo.appendleft(current)
                else:
                    logger.error("%s on item %d, attempt %d; giving it up", why, current, attempts[current])
                    fail(current, Failure(f"{why} on it, {attempts[current]} attempts", worker_died=True))
            if todo:
                start()

        # Frozen, the inherited objects are never walked by a worker's collector, so their pages stay shared.
        gc.freeze()
        try:
            for _ in range(min(self.workers, count)):
                start()
            while True:
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
                if next_out == count:
                    break
                for worker in list(pool.values()):
                    dispatch(worker)
                if not pool:  # unreachable while items remain: bury() replaces every dead worker
                    raise RuntimeError("no worker left with items to convert")
                for conn in wait(list(pool), timeout=self._until_overdue(pool.values())):
                    worker = pool[conn]
                    try:
                        index, ok, result = conn.recv()
                    except (EOFError, OSError):
                        bury(worker)
                        continue
                    worker.pending.popleft()
                    worker.since = time.monotonic()
                    if ok:
                        done[index] = result
                    else:
                        fail(index, Failure(result, worker_died=False))
                for worker in self._overdue(pool.values()):
                    worker.process.kill()
                    bury(worker, f"worker process {worker.process.pid} gave no result in {self.timeout:g} s (killed)")
        finally:
            gc.unfreeze()
            _stop(list(pool.values()), finished=next_out == count)

    def _until_overdue(self, workers: Iterable[_Worker]) -> float | None:
        """Seconds until the first busy worker passes the timeout (``None``: wait for results only)."""
        starts = [w.since for w in workers if w.pending]
        if self.timeout is None or not starts:
            return None
        return max(0.0, min(starts) + self.timeout - time.monotonic())

    def _overdue(self, workers: Iterable[_Worker]) -> list[_Worker]:
        if self.timeout is None:
            return []
        now = time.monotonic()
        return [w for w in workers if w.pending and now - w.since > self.timeout]


def _stop(workers: list[_Worker], finished: bool) -> None:
    """End the workers: politely after a complete map, at once when the consumer stopped early or failed."""
    for worker in workers:
        if finished:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        else:
            worker.process.terminate()
    for worker in workers:
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
