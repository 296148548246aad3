"""Wait, with a deadline, until every node of a layout has joined the Ray cluster with its GPUs.

The pure part, :func:`missing_nodes`, compares ``ray.nodes()`` records with what a layout expects (each node is
recognised by the marker resource it advertises, see :func:`omni_r1_verl.cluster.layout.node_marker`).
:func:`wait_for_nodes` polls until nothing is missing or the deadline passes; :func:`ray_node_lister` connects to
the cluster (the only function here that imports Ray).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omni_r1_verl.cluster.layout import NODE_MARKER_PREFIX

logger = logging.getLogger(__name__)

#: What a node lister returns: ``ray.nodes()`` records (``Alive``, ``Resources``, ``NodeManagerAddress``, ...).
NodeRecords = list[Mapping[str, Any]]


class ClusterNotReady(TimeoutError):
    """Some nodes did not join in time; ``missing`` maps each to the reason."""

    def __init__(self, message: str, missing: Mapping[str, str]):
        super().__init__(message)
        self.missing = dict(missing)


def joined_nodes(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, float]]:
    """Alive nodes that carry a marker, by the name in their marker.

    Args:
        records: ``ray.nodes()`` output.

    Returns:
        Node name -> its total resources.
    """
    joined = {}
    for record in records:
        if not record.get("Alive", record.get("alive", False)):
            continue
        resources = record.get("Resources") or {}
        for key in resources:
            if key.startswith(NODE_MARKER_PREFIX):
                joined[key[len(NODE_MARKER_PREFIX) :]] = resources
    return joined


def missing_nodes(expected: Mapping[str, Mapping[str, float]], records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Which expected nodes are absent or short of a resource.

    Args:
        expected: Node name -> resources it must show (:meth:`ClusterLayout.expected`).
        records: ``ray.nodes()`` output.

    Returns:
        Node name -> reason, for every node that is not ready (empty when all are).
    """
    joined = joined_nodes(records)
    missing = {}
    for name, want in expected.items():
        have = joined.get(name)
        if have is None:
            missing[name] = "has not joined the Ray cluster"
            continue
        short = [
            f"{key} {have.get(key, 0.0):g} of {amount:g}" for key, amount in want.items() if have.get(key, 0) < amount
        ]
        if short:
            missing[name] = "joined with too few resources: " + ", ".join(short)
    return missing


def wait_for_nodes(
    list_nodes: Callable[[], NodeRecords],
    expected: Mapping[str, Mapping[str, float]],
    timeout_s: float,
    *,
    interval_s: float = 5.0,
    log_hint: Callable[[str], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = print,
) -> None:
    """Poll until every expected node is ready.

    Args:
        list_nodes: Returns the current ``ray.nodes()`` records; may raise ``ConnectionError`` while the head
            is starting (then the poll goes on).
        expected: Node name -> resources it must show.
        timeout_s: Deadline from now, in seconds.
        interval_s: Seconds between polls.
        log_hint: Node name -> where its log is (added to the error).
        clock: Monotonic clock (tests).
        sleep: Sleep function (tests).
        report: Progress lines (one when the set of missing nodes changes).

    Raises:
        ClusterNotReady: At the deadline, naming every node that is not ready and why.
    """
    deadline = clock() + timeout_s
    last: dict[str, str] | None = None
    while True:
        try:
            missing = missing_nodes(expected, list_nodes())
        except ConnectionError as err:
            missing = dict.fromkeys(expected, f"the Ray head is not reachable yet ({err})")
        if not missing:
            report(f"all {len(expected)} node(s) joined with their GPUs")
            return
        if missing != last:
            report(f"{len(expected) - len(missing)}/{len(expected)} node(s) ready; waiting for {', '.join(missing)}")
            last = missing
        if clock() >= deadline:
            lines = [f"{len(missing)} of {len(expected)} node(s) not ready after {timeout_s:.0f} s:"]
            for name, reason in missing.items():
                hint = f" (log: {log_hint(name)})" if log_hint else ""
                lines.append(f"  {name}: {reason}{hint}")
            raise ClusterNotReady("\n".join(lines), missing)
        sleep(max(0.0, min(interval_s, deadline - clock())))


def ray_node_lister(address: str) -> Callable[[], NodeRecords]:
    """A node lister on a running cluster; connects on first use, retrying while the head starts.

    Args:
        address: ``IP:PORT`` of the Ray head.

    Returns:
        The lister (raises ``ConnectionError`` while the head cannot be reached).
    """
    import ray

    def list_nodes() -> NodeRecords:
        if not ray.is_initialized():
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
            except (ConnectionError, RuntimeError) as err:
                raise ConnectionError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
        return ray.nodes()

    return list_nodes
