"""The check's output: one line per record, ``KIND key=value ...``, parseable back (:func:`parse`).

Kinds: ``RESULT`` (a measurement: stage, name, value, unit, optional ok), ``SKIPPED`` and ``FAILED`` (stage, part,
reason), ``INFO`` (environment facts), ``SUMMARY`` (counts and seconds). Values with spaces are double-quoted.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: Line prefix of records a stage worker prints on its stdout (the runner collects them).
RECORD_PREFIX = "@@gpu_check "


@dataclass
class Record:
    """One line of the report.

    Attributes:
        kind: ``RESULT``, ``SKIPPED``, ``FAILED``, ``INFO`` or ``SUMMARY``.
        fields: Its ``key=value`` pairs, in order.
    """

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The printed line."""
        return " ".join([self.kind, *(f"{k}={_format(v)}" for k, v in self.fields.items())])


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    text = str(value)
    return text if text and not any(c.isspace() or c in "\"'=" for c in text) else json.dumps(text)


def result(stage: str, name: str, value: float, unit: str = "", ok: bool | None = None) -> Record:
    """A measurement; ``ok`` says whether it met the check's bound (None: no bound)."""
    fields: dict[str, Any] = {"stage": stage, "name": name, "value": value, "unit": unit or "-"}
    if ok is not None:
        fields["ok"] = ok
    return Record("RESULT", fields)


def skipped(stage: str, reason: str, part: str = "") -> Record:
    """A stage, or a part of one, that did not run, and what was missing."""
    return Record("SKIPPED", {"stage": stage, **({"part": part} if part else {}), "reason": reason})


def failed(stage: str, reason: str, part: str = "") -> Record:
    """A stage, or a part of one, that raised, timed out or missed a bound."""
    return Record("FAILED", {"stage": stage, **({"part": part} if part else {}), "reason": reason})


def to_wire(record: Record) -> str:
    """A worker's stdout line for a record."""
    return RECORD_PREFIX + json.dumps({"kind": record.kind, "fields": record.fields})


def from_wire(line: str) -> Record | None:
    """The record of a worker's stdout line, or None for any other line."""
    if not line.startswith(RECORD_PREFIX):
        return None
    data = json.loads(line[len(RECORD_PREFIX) :])
    return Record(data["kind"], data["fields"])


def parse(text: str) -> Iterator[Record]:
    """Records of a printed report (other lines are skipped).

    Args:
        text: The check's output.

    Yields:
        The records, values as strings (``value`` as float for results).
    """
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind not in ("RESULT", "SKIPPED", "FAILED", "INFO", "SUMMARY"):
            continue
        fields: dict[str, Any] = dict(item.split("=", 1) for item in shlex.split(rest))
        if kind == "RESULT":
            fields["value"] = float(fields["value"])
        yield Record(kind, fields)
