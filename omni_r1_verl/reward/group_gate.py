"""Group rendezvous for the per-GRPO-group length term inside verl's reward loop.

verl scores one trajectory per ``run_single`` call, and the rollouts of one prompt (one ``uid``) reach
different ``RewardLoopWorker`` actors (the agent loop picks a worker at random per trajectory, in both the V1
TransferQueue path and the legacy path). The length term of a rollout depends on whether enough *other* rollouts
of its group qualify, so each scored rollout reports its "qualified" bit to a :class:`GroupGate` and, only when
its own bonus is still undecided (it qualifies and its length is in the window), waits until the group's quorum
is reached, every member of the group has reported, or a timeout passes. The result is exactly
:func:`omni_r1_verl.scoring.length.length_shaping` applied to the whole group.

One gate serves a run: a named, non-detached Ray actor (:func:`get_gate`) created by the first reward worker
that needs it, shared by all workers; without Ray (unit tests, a plain process) a process-local gate is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

#: Name of the Ray actor holding the gate (one per Ray namespace, i.e. per verl run).
GATE_ACTOR_NAME = "omni_r1_length_group_gate"


@dataclass(frozen=True)
class GateReply:
    """What a member learns about its group.

    Attributes:
        qualified: Qualified members known when the call returned (the caller included if it qualifies).
        reported: Members that had reported.
        timed_out: The wait ended on the timeout, before a quorum or a complete group.
    """

    qualified: int
    reported: int
    timed_out: bool = False


@dataclass
class _Group:
    members: dict[str, bool] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    touched: float = field(default_factory=time.monotonic)

    @property
    def qualified(self) -> int:
        return sum(self.members.values())


class GroupGate:
    """Collects the qualified bits of each group's members (all calls on one event loop).

    Args:
        ttl_s: Incomplete groups untouched for this long are forgotten.
    """

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self._groups: dict[str, _Group] = {}
        self._ttl_s = ttl_s
        self._calls = 0

    def __len__(self) -> int:
        return len(self._groups)

    def _prune(self) -> None:
        now = time.monotonic()
        stale = [key for key, g in self._groups.items() if now - g.touched > self._ttl_s]
        for key in stale:
            del self._groups[key]
        if stale:
            logger.warning("forgot %d incomplete length-shaping groups (no report for %.0f s)", len(stale), self._ttl_s)

    async def report(
        self, group: str, member: str, qualified: bool, group_size: int, quorum: int, wait: bool, timeout_s: float
    ) -> GateReply:
        """Record a member's bit and, if asked, wait until its group's outcome is known.

        Args:
            group: Group key (the sample uid).
            member: Member key, unique within the group (a re-report replaces the earlier bit).
            qualified: Whether this member qualifies.
            group_size: Members the group will have.
            quorum: Qualified members that decide the group (``min_qualified``).
            wait: Wait for the quorum, the full group or the timeout (otherwise return at once).
            timeout_s: Longest wait.

        Returns:
            The group's state when the call returns.
        """
        self._calls += 1
        if self._calls % 1024 == 0:
            self._prune()
        g = self._groups.setdefault(group, _Group())
        g.touched = time.monotonic()
        g.members[member] = bool(qualified)
        complete = len(g.members) >= group_size
        if complete:
            self._groups.pop(group, None)
        async with g.changed:
            g.changed.notify_all()
            timed_out = False
            if wait:
                try:
                    await asyncio.wait_for(
                        g.changed.wait_for(lambda: g.qualified >= quorum or len(g.members) >= group_size), timeout_s
                    )
                except asyncio.TimeoutError:
                    timed_out = True
        return GateReply(qualified=g.qualified, reported=len(g.members), timed_out=timed_out)


class _GateActor:
    """Ray actor wrapper of :class:`GroupGate` (async, so waiting members do not block others)."""

    def __init__(self) -> None:
        self._gate = GroupGate()

    async def report(self, *args, **kwargs) -> GateReply:
        return await self._gate.report(*args, **kwargs)


class _RemoteGate:
    """Client side of the shared gate actor, with the same ``report`` coroutine as :class:`GroupGate`."""

    def __init__(self, actor) -> None:
        self._actor = actor

    async def report(self, *args, **kwargs) -> GateReply:
        return await self._actor.report.remote(*args, **kwargs)


_local_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupGate] = weakref.WeakKeyDictionary()


def get_gate() -> GroupGate | _RemoteGate:
    """The run's gate: the shared Ray actor when Ray is initialised, else one per event loop in this process.

    Call it from a coroutine, once per reward manager (creating the actor handle is not free).

    Returns:
        An object with the coroutine ``report(...)`` of :meth:`GroupGate.report`.
    """
    import ray

    if ray.is_initialized():
        actor = (
            ray.remote(_GateActor)
            .options(name=GATE_ACTOR_NAME, get_if_exists=True, num_cpus=0, max_concurrency=100_000)
            .remote()
        )
        return _RemoteGate(actor)
    return _local_gates.setdefault(asyncio.get_running_loop(), GroupGate())
