"""The group gate: members learn their group's quorum without waiting longer than needed."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from omni_r1_verl.reward.group_gate import GroupGate


async def test_qualified_member_waits_for_the_quorum():
    gate = GroupGate()
    first = asyncio.create_task(gate.report("g", "0", True, group_size=4, quorum=2, wait=True, timeout_s=5))
    await asyncio.sleep(0.05)
    assert not first.done()
    second = await gate.report("g", "1", True, group_size=4, quorum=2, wait=True, timeout_s=5)
    reply = await asyncio.wait_for(first, 1)
    assert (reply.qualified, second.qualified, reply.timed_out) == (2, 2, False)


async def test_complete_group_releases_waiters_without_quorum():
    gate = GroupGate()
    first = asyncio.create_task(gate.report("g", "0", True, group_size=3, quorum=2, wait=True, timeout_s=5))
    await gate.report("g", "1", False, group_size=3, quorum=2, wait=False, timeout_s=5)
    await asyncio.sleep(0.05)
    assert not first.done()
    await gate.report("g", "2", False, group_size=3, quorum=2, wait=False, timeout_s=5)
    reply = await asyncio.wait_for(first, 1)
    assert (reply.qualified, reply.reported, reply.timed_out) == (1, 3, False)
    assert len(gate) == 0  # complete groups are forgotten


async def test_timeout_decides_on_what_is_known():
    gate = GroupGate()
    reply = await gate.report("g", "0", True, group_size=8, quorum=2, wait=True, timeout_s=0.05)
    assert reply.timed_out and reply.qualified == 1


async def test_members_that_do_not_wait_return_at_once_and_groups_are_separate():
    gate = GroupGate()
    reply = await asyncio.wait_for(gate.report("a", "0", True, 8, 2, wait=False, timeout_s=60), 0.5)
    assert reply.qualified == 1
    other = await gate.report("b", "0", False, 8, 2, wait=False, timeout_s=60)
    assert other.qualified == 0


async def test_a_re_report_replaces_the_earlier_bit():
    gate = GroupGate()
    await gate.report("g", "0", True, 4, 2, wait=False, timeout_s=1)
    reply = await gate.report("g", "0", False, 4, 2, wait=False, timeout_s=1)
    assert (reply.qualified, reply.reported) == (0, 1)


async def test_stale_incomplete_groups_are_pruned():
    gate = GroupGate(ttl_s=0.0)
    await gate.report("old", "0", False, 4, 2, wait=False, timeout_s=1)
    await asyncio.sleep(0.01)
    gate._calls = 1023  # the next call prunes
    await gate.report("new", "0", False, 4, 2, wait=False, timeout_s=1)
    assert len(gate) == 1


def test_without_ray_the_gate_is_local_to_the_event_loop():
    # In a fresh interpreter: the suite's own Ray cluster must not leak into this check.
    code = (
        "import asyncio, ray\n"
        "from omni_r1_verl.reward.group_gate import GroupGate, get_gate\n"
        "async def main():\n"
        "    assert not ray.is_initialized()\n"
        "    gate = get_gate()\n"
        "    assert isinstance(gate, GroupGate) and gate is get_gate()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
