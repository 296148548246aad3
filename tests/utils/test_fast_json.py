"""fast_json: orjson and the standard-library fallback write the same bytes, which read back the same."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omni_r1_verl.utils import fast_json

DOC = {
    "objects": [[0, 120, 24, 360, 640, 4294967295]],
    "meta": {"expression": "the café's red ball", "frame_names": ["00005", "00010"]},
    "areas": np.array([3, 0, 7], dtype=np.int64),
    "score": np.float32(0.5),
    7: "int key",
}
EXPECTED = {
    "objects": [[0, 120, 24, 360, 640, 4294967295]],
    "meta": {"expression": "the café's red ball", "frame_names": ["00005", "00010"]},
    "areas": [3, 0, 7],
    "score": 0.5,
    "7": "int key",
}


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_documents_round_trip_with_either_backend(backend, monkeypatch):
    if backend == "stdlib":
        monkeypatch.setattr(fast_json, "orjson", None)
    elif fast_json.orjson is None:
        pytest.skip("orjson not installed")
    data = fast_json.dumps(DOC)
    # Compact and UTF-8 (no \\u escapes): both backends write exactly these bytes.
    assert data == json.dumps(EXPECTED, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(data) == EXPECTED == fast_json.loads(data)
    with pytest.raises(TypeError):
        fast_json.dumps({"x": object()})
