"""Slurm host lists and node specs expand like ``scontrol show hostnames``, and bad ones are refused."""

from __future__ import annotations

import pytest

from omni_r1_verl.cluster.hostlist import MAX_HOSTS, HostlistError, Node, expand_hostlist, parse_nodes


@pytest.mark.parametrize(
    ("expr", "hosts"),
    [
        ("gpu01", ["gpu01"]),
        ("gpu[01-03,07]", ["gpu01", "gpu02", "gpu03", "gpu07"]),
        ("gpu[8-10],login1", ["gpu8", "gpu9", "gpu10", "login1"]),
        ("rack[1-2]-n[09-10]", ["rack1-n09", "rack1-n10", "rack2-n09", "rack2-n10"]),
        ("a[1],b.ib", ["a1", "b.ib"]),
    ],
)
def test_expands_like_scontrol(expr, hosts):
    assert expand_hostlist(expr) == hosts


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("gpu[01-03", "unbalanced"),
        ("gpu01]", "unbalanced"),
        ("gpu[3-1]", "descending"),
        ("gpu[a-b]", "bad range"),
        ("gpu[[1-2]]", "nested"),
        ("gpu01,,gpu02", "empty element"),
        ("gpu 01", "bad host name"),
        (f"n[0-{MAX_HOSTS}]", "more than"),
        ("r[0-99]n[0-99]", "more than"),
    ],
)
def test_bad_expressions_are_refused(expr, message):
    with pytest.raises(HostlistError, match=message):
        expand_hostlist(expr)


def test_node_specs_carry_gpu_counts_and_defaults():
    assert parse_nodes("gpu[01-02]:8,gpu03:4") == [Node("gpu01", 8), Node("gpu02", 8), Node("gpu03", 4)]
    assert parse_nodes("gpu[01-02]", default_gpus=2) == [Node("gpu01", 2), Node("gpu02", 2)]
    assert parse_nodes("gpu01:8,gpu02", default_gpus=4) == [Node("gpu01", 8), Node("gpu02", 4)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("gpu01", "no GPU count"), ("gpu01:x", "bad GPU count"), ("gpu[01-02]:8,gpu02:8", "listed twice")],
)
def test_bad_node_specs_are_refused(spec, message):
    with pytest.raises(HostlistError, match=message):
        parse_nodes(spec)
