"""Slurm host lists and node specs, parsed without Slurm.

``expand_hostlist("gpu[01-03,07],login1")`` gives what ``scontrol show hostnames`` prints for the same expression:
``gpu01 gpu02 gpu03 gpu07 login1``. A node spec adds GPU counts: ``gpu[01-02]:8,gpu03:4`` (an element without
``:N`` takes the default count). Pure module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Largest number of hosts one expression may expand to (a typo such as ``n[1-999999]`` is refused, not expanded).
MAX_HOSTS = 4096

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class HostlistError(ValueError):
    """A host list or node spec that cannot be parsed."""


@dataclass(frozen=True)
class Node:
    """One machine of the allocation.

    Attributes:
        name: Host name as Slurm knows it (``SLURMD_NODENAME``).
        gpus: GPUs visible on it.
    """

    name: str
    gpus: int


def _split_top_level(expr: str) -> list[str]:
    """Split at commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(expr):
        if char == "[":
            depth += 1
            if depth > 1:
                raise HostlistError(f"nested brackets in host list {expr!r}")
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise HostlistError(f"unbalanced ']' in host list {expr!r}")
        elif char == "," and depth == 0:
            parts.append(expr[start:i])
            start = i + 1
    if depth:
        raise HostlistError(f"unbalanced '[' in host list {expr!r}")
    parts.append(expr[start:])
    return [p.strip() for p in parts]


def _expand_ranges(body: str, expr: str) -> list[str]:
    values = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise HostlistError(f"bad range {item!r} in host list {expr!r} (expected N or N-M)")
        low, high = match.group(1), match.group(2) or match.group(1)
        if int(high) < int(low):
            raise HostlistError(f"descending range {item!r} in host list {expr!r}")
        if int(high) - int(low) >= MAX_HOSTS:
            raise HostlistError(f"range {item!r} in host list {expr!r} expands to more than {MAX_HOSTS} hosts")
        width = len(low) if low.startswith("0") else 0
        values.extend(str(v).zfill(width) for v in range(int(low), int(high) + 1))
    return values


def _expand_one(element: str, expr: str) -> list[str]:
    names = [""]
    rest = element
    while rest:
        open_at = rest.find("[")
        if open_at < 0:
            names = [n + rest for n in names]
            break
        close_at = rest.index("]", open_at)
        prefix, body, rest = rest[:open_at], rest[open_at + 1 : close_at], rest[close_at + 1 :]
        names = [n + prefix + v for n in names for v in _expand_ranges(body, expr)]
        if len(names) > MAX_HOSTS:
            raise HostlistError(f"host list {expr!r} expands to more than {MAX_HOSTS} hosts")
    for name in names:
        if not _NAME.match(name):
            raise HostlistError(f"bad host name {name!r} in host list {expr!r}")
    return names


def expand_hostlist(expr: str) -> list[str]:
    """Expand a Slurm host-list expression, in order.

    Args:
        expr: E.g. ``gpu[01-03,07],login1`` or ``rack[1-2]-n[1-2]``.

    Returns:
        The host names.

    Raises:
        HostlistError: On unbalanced brackets, bad ranges, bad names, or more than :data:`MAX_HOSTS` hosts.
    """
    hosts: list[str] = []
    for element in _split_top_level(expr.strip()):
        if not element:
            raise HostlistError(f"empty element in host list {expr!r}")
        hosts.extend(_expand_one(element, expr))
        if len(hosts) > MAX_HOSTS:
            raise HostlistError(f"host list {expr!r} expands to more than {MAX_HOSTS} hosts")
    return hosts


def parse_nodes(spec: str, default_gpus: int | None = None) -> list[Node]:
    """Parse a node spec: host-list elements, each with an optional ``:GPUS`` suffix.

    Args:
        spec: E.g. ``gpu[01-02]:8,gpu03:8`` or ``gpu[01-04]`` with ``default_gpus``.
        default_gpus: GPUs of elements that give none.

    Returns:
        The nodes, in order.

    Raises:
        HostlistError: On a malformed spec, a missing GPU count, or a host named twice.
    """
    nodes: list[Node] = []
    for element in _split_top_level(spec.strip()):
        hosts_part, sep, gpus_part = element.rpartition(":")
        if not sep:
            hosts_part, gpus_part = element, ""
        if gpus_part and not gpus_part.isdigit():
            raise HostlistError(f"bad GPU count {gpus_part!r} in node spec {element!r} (expected HOSTS:N)")
        gpus = int(gpus_part) if gpus_part else default_gpus
        if gpus is None:
            raise HostlistError(f"node spec {element!r} gives no GPU count: write {element}:N or pass a default")
        nodes.extend(Node(name, gpus) for name in expand_hostlist(hosts_part))
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            raise HostlistError(f"host {node.name!r} is listed twice in node spec {spec!r}")
        seen.add(node.name)
    return nodes
