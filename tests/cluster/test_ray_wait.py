"""The bounded wait names the nodes that did not join, or joined short of GPUs, and returns once all did."""

from __future__ import annotations

import pytest

from omni_r1_verl.cluster.hostlist import parse_nodes
from omni_r1_verl.cluster.layout import SYSTEM2_RESOURCE, ClusterLayout, node_marker
from omni_r1_verl.cluster.ray_wait import ClusterNotReady, missing_nodes, wait_for_nodes


@pytest.fixture
def expected():
    return ClusterLayout.plan(parse_nodes("gpu[01-02]:8")).expected()


def _record(name: str, gpus: float = 8.0, alive: bool = True, slots: float = 4.0) -> dict:
    resources = {"CPU": 64.0, "GPU": gpus, SYSTEM2_RESOURCE: slots, node_marker(name): 1.0, "node:10.0.0.1": 1.0}
    return {"Alive": alive, "NodeManagerAddress": "10.0.0.1", "Resources": resources}


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_nodes_absent_dead_or_short_are_reported(expected):
    assert missing_nodes(expected, [_record("gpu01"), _record("gpu02")]) == {}
    assert missing_nodes(expected, [_record("gpu01")]) == {"gpu02": "has not joined the Ray cluster"}
    assert set(missing_nodes(expected, [_record("gpu01"), _record("gpu02", alive=False)])) == {"gpu02"}
    short = missing_nodes(expected, [_record("gpu01", gpus=4.0), _record("gpu02", slots=0.0)])
    assert short["gpu01"] == "joined with too few resources: GPU 4 of 8"
    assert short["gpu02"] == f"joined with too few resources: {SYSTEM2_RESOURCE} 0 of 4"
    # A stranger's node without our marker does not stand in for one of ours.
    stranger = {"Alive": True, "Resources": {"GPU": 8.0}}
    assert set(missing_nodes(expected, [_record("gpu01"), stranger])) == {"gpu02"}


def test_wait_returns_once_the_last_node_joined(expected):
    clock = _FakeClock()
    polls = iter([ConnectionError("head starting"), [_record("gpu01")], [_record("gpu01"), _record("gpu02")]])

    def list_nodes():
        item = next(polls)
        if isinstance(item, Exception):
            raise item
        return item

    lines: list[str] = []
    wait_for_nodes(list_nodes, expected, 60.0, interval_s=5.0, clock=clock, sleep=clock.sleep, report=lines.append)
    assert clock.now == 10.0
    assert lines[-1] == "all 2 node(s) joined with their GPUs"
    assert "1/2 node(s) ready; waiting for gpu02" in lines


def test_wait_gives_up_at_the_deadline_naming_each_missing_node_and_its_log(expected):
    clock = _FakeClock()
    with pytest.raises(ClusterNotReady) as err:
        wait_for_nodes(
            lambda: [_record("gpu01")],
            expected,
            12.0,
            interval_s=5.0,
            log_hint=lambda name: f"logs/ray-{name}.log",
            clock=clock,
            sleep=clock.sleep,
            report=lambda line: None,
        )
    assert clock.now == 12.0  # bounded: the last sleep stops at the deadline
    assert err.value.missing == {"gpu02": "has not joined the Ray cluster"}
    assert "1 of 2 node(s) not ready after 12 s" in str(err.value)
    assert "gpu02: has not joined the Ray cluster (log: logs/ray-gpu02.log)" in str(err.value)


@pytest.mark.ray
def test_a_real_local_node_is_recognised_by_its_marker():
    import ray

    layout = ClusterLayout.plan(parse_nodes("local:2"))
    expected = {"local": {node_marker("local"): 1.0, SYSTEM2_RESOURCE: 1.0}}
    started = not ray.is_initialized()
    if not started:
        pytest.skip("a Ray cluster without the markers is already running in this session")
    ray.init(num_cpus=1, resources=layout.resources(layout.head), include_dashboard=False, log_to_driver=False)
    try:
        assert missing_nodes(expected, ray.nodes()) == {}
        assert "has not joined" in missing_nodes({"other": {"GPU": 1.0}}, ray.nodes())["other"]
    finally:
        ray.shutdown()
