"""ForkMap: ordered results for any worker count, failures reported, dead workers replaced, no process left over."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from omni_r1_verl.utils.fork_map import ForkMap, describe_exit

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _lost(item, failure):
    return ("lost", item, failure.reason, failure.worker_died)


def _given_up_by_dying_workers(results, index, *phrases):
    """Assert every item but ``index`` converted and ``index`` was given up after workers died, saying ``phrases``."""
    assert results[:index] == list(range(index)) and results[index + 1 :] == list(range(index + 1, len(results)))
    kind, item, reason, died = results[index]
    assert (kind, item, died) == ("lost", index, True)
    assert reason.startswith("worker process") and all(p in reason for p in phrases), reason


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _children() -> set[int]:
    """Live child processes of this process (zombies excluded)."""
    out = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rpartition(")")[2].split()[0] != "Z":
                out.add(int(pid))
    return out


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_input_order_from_several_processes(workers):
    before = _children()
    items = list(range(40))
    pool = ForkMap(_square, items, workers, lost=_lost, window=5)
    results = list(pool)
    assert [r[0] for r in results] == [x * x for x in items]
    pids = {r[1] for r in results}
    assert os.getpid() not in pids and len(pids) == workers
    assert pool.deaths == pool.failures == 0
    assert _children() == before


def test_empty_input_starts_nothing():
    assert list(ForkMap(_square, [], 2, lost=_lost)) == []


def test_an_exception_gives_the_lost_result_and_the_rest_goes_on():
    def fn(x):
        if x == 3:
            raise ValueError("three is bad")
        return x

    pool = ForkMap(fn, list(range(6)), 2, lost=_lost)
    results = list(pool)
    assert results[:3] == [0, 1, 2] and results[4:] == [4, 5]
    assert results[3] == ("lost", 3, "ValueError: three is bad", False)
    assert pool.failures == 1 and pool.deaths == 0


def test_an_unpicklable_result_is_reported_not_hung_on():
    def fn(x):
        return (lambda: x) if x == 1 else x

    results = list(ForkMap(fn, [0, 1, 2], 2, lost=_lost))
    assert results[0] == 0 and results[2] == 2
    assert results[1][0] == "lost" and "pickle" in results[1][2].lower() and results[1][3] is False


def test_a_worker_killed_once_is_replaced_and_its_item_retried(tmp_path):
    marker = tmp_path / "died"

    def fn(x):
        if x == 5 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        return x, os.getpid()

    pool = ForkMap(fn, list(range(12)), 1, lost=_lost)  # one worker: only its replacement can finish the job
    results = list(pool)
    assert [r[0] for r in results] == list(range(12))  # nothing lost: the item retried, the queued one re-sent
    dead = int(marker.read_text())
    assert {r[1] for r in results[:5]} == {dead}
    assert dead not in {r[1] for r in results[5:]} and len({r[1] for r in results[5:]}) == 1
    assert pool.deaths == 1 and pool.failures == 0


class _DiesWhenPickled:
    """A result whose pickling kills its worker once, as the out-of-memory killer would at the pickling peak."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        if not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return str, ("pickled",)


def test_a_worker_killed_while_sending_its_result_is_replaced_and_the_item_retried(tmp_path):
    # Workers sharing one result pipe under a lock (pebble's pool) stall here: the dead worker keeps the lock.
    def fn(x):
        return _DiesWhenPickled(tmp_path / "died") if x == 3 else x

    pool = ForkMap(fn, list(range(8)), 2, lost=_lost)
    assert list(pool) == [0, 1, 2, "pickled", 4, 5, 6, 7]
    assert pool.deaths == 1 and pool.failures == 0


def test_an_item_that_kills_every_worker_is_given_up_with_the_reason():
    def fn(x):
        if x == 2:
            os._exit(7)
        return x

    before = _children()
    pool = ForkMap(fn, list(range(8)), 2, lost=_lost, retries=2)
    _given_up_by_dying_workers(list(pool), 2, "exit status 7", "3 attempts")
    assert pool.deaths == 3 and pool.failures == 1
    assert _children() == before


def test_a_worker_stuck_past_the_timeout_is_killed_and_the_item_given_up():
    import time

    def fn(x):
        if x == 1:
            time.sleep(60)  # a hung decoder
        time.sleep(0.01)
        return x

    before = _children()
    start = time.monotonic()
    pool = ForkMap(fn, list(range(6)), 2, lost=_lost, timeout=2.0)
    results = list(pool)
    assert time.monotonic() - start < 10
    _given_up_by_dying_workers(results, 1, "no result in 2 s", "2 attempts")
    assert pool.deaths == 2 and pool.failures == 1
    assert _children() == before


def test_slow_items_within_the_timeout_are_not_killed():
    import time

    def fn(x):
        time.sleep(0.3)
        return x

    pool = ForkMap(fn, list(range(4)), 1, lost=_lost, timeout=1.5)  # the queue behind an item does not count
    assert list(pool) == [0, 1, 2, 3] and pool.deaths == 0


def test_the_last_items_go_to_idle_workers_not_behind_busy_ones():
    import time

    def fn(x):
        time.sleep(0.6 if x < 2 else 0.01)
        return os.getpid()

    pids = list(ForkMap(fn, list(range(4)), 2, lost=_lost, in_flight=2))
    assert pids[0] != pids[1]  # the two slow items run side by side, not queued on one worker


def test_stopping_early_terminates_the_workers():
    import time

    def slow(x):
        time.sleep(0.05)
        return x

    before = _children()
    iterator = iter(ForkMap(slow, list(range(100)), 2, lost=_lost))
    assert next(iterator) == 0
    assert len(_children() - before) == 2
    iterator.close()
    assert _children() == before


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="workers"):
        ForkMap(_square, [1], 0, lost=_lost)
    with pytest.raises(ValueError, match="window"):
        ForkMap(_square, [1], 1, lost=_lost, window=0)
    with pytest.raises(ValueError, match="timeout"):
        ForkMap(_square, [1], 1, lost=_lost, timeout=0)


def test_exit_codes_in_words():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(None) == "still running"
