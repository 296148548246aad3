"""The per-sample JSONL of a run: append-only, one line per finished sample, flushed and synced per line.

A run killed mid-write leaves at most one torn last line; :func:`load_records` detects it (no final newline, or not
JSON) and :class:`RecordLog` cuts it off before appending, so a resumed run continues from the last whole sample.
Aggregation reads this file only, keyed and sorted, so results never depend on the order samples finished in.
Pure module (stdlib).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Name of the per-sample file in a run folder.
SAMPLES_FILE = "samples.jsonl"


def load_records(path: str | Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The whole records of a JSONL file, by key, and the byte length of its whole lines.

    Args:
        path: The file (missing: no records).

    Returns:
        ``(records, good_bytes)``: the first record of each key (a repeat is logged and ignored) and where the
        last whole line ends (a torn tail lies beyond it).
    """
    path = Path(path)
    if not path.is_file():
        return {}, 0
    data = path.read_bytes()
    records: dict[str, dict[str, Any]] = {}
    good = 0
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            logger.warning("%s: dropping a torn last line (%d bytes, killed mid-write)", path, len(data) - pos)
            break
        line = data[pos:end]
        pos = end + 1
        try:
            record = json.loads(line)
        except ValueError:
            if pos >= len(data):
                logger.warning("%s: dropping a torn last line", path)
                break
            logger.warning("%s: skipping a malformed line at byte %d", path, pos)
            good = pos
            continue
        good = pos
        key = record.get("key") if isinstance(record, Mapping) else None
        if not isinstance(key, str):
            logger.warning("%s: skipping a line without a key at byte %d", path, pos)
        elif key in records:
            logger.warning("%s: sample %r appears again; the first record is kept", path, key)
        else:
            records[key] = record
    return records, good


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


class RecordLog:
    """Appends records to a run's JSONL (one writer per file).

    Args:
        path: The file (created; a torn tail of an earlier run is cut off).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records, good = load_records(self.path)
        if self.path.is_file() and self.path.stat().st_size > good:
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
        self._handle = open(self.path, "ab")  # noqa: SIM115 - closed in close()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line, then flush and sync it (it survives the process being killed)."""
        line = json.dumps(finite(record), sort_keys=True, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records[str(record["key"])] = dict(record)

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> RecordLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
