"""JSON with orjson's speed where it is installed (it is in the pinned environments), the standard library elsewhere.

Both paths read and write the same documents: compact output, UTF-8, ``str`` keys (others converted), numpy
scalars and arrays as numbers and lists.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # optional speed-up only
    orjson = None


def loads(data: bytes | str) -> Any:
    """Parse a JSON document."""
    return orjson.loads(data) if orjson is not None else json.loads(data)


def dumps(obj: Any) -> bytes:
    """A compact UTF-8 JSON document."""
    if orjson is not None:
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_numpy_default).encode()


def _numpy_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
