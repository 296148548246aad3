"""Shared helpers of the per-sample metric records (plain JSON-able dicts) and their aggregation.

Aggregation is deterministic and independent of the records' order: sums are ``math.fsum`` (exactly rounded), and
where an official evaluation depends on an order (Ref-AVS test batches) the records carry it as a field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def check_records(records: Iterable[Mapping[str, Any]], required: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The records as a list, each with a unique ``key`` and the ``required`` fields.

    Args:
        records: Per-sample records.
        required: Field names every record must have (not ``None``).

    Returns:
        The records, in the given order.

    Raises:
        ValueError: Naming the first record that lacks a field or repeats a key.
    """
    out, seen = [], set()
    for record in records:
        key = record.get("key")
        missing = [name for name in ("key", *required) if record.get(name) is None]
        if missing:
            raise ValueError(f"metric record {key!r} lacks {missing}")
        if key in seen:
            raise ValueError(f"metric record {key!r} appears twice")
        seen.add(key)
        out.append(record)
    return out


def mean(values: Iterable[float]) -> float | None:
    """Exactly rounded mean (``math.fsum``), ``None`` for no values."""
    values = [float(v) for v in values]
    return math.fsum(values) / len(values) if values else None
