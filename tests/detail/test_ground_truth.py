"""The ground-truth protocol and its ``.npz`` implementation."""

from __future__ import annotations

import numpy as np
import pytest

from omni_r1_verl.contracts.rows import UnsafePathError
from omni_r1_verl.detail.ground_truth import (
    GroundTruthError,
    GroundTruthSource,
    NpzGroundTruth,
    import_object,
    open_ground_truth,
)


def test_npz_store_returns_selected_frames(tmp_path):
    masks = np.zeros((2, 5, 4, 6), dtype=bool)
    masks[1, 3, 1:3, 2:5] = True
    NpzGroundTruth.write(tmp_path, "videos/a", masks)
    store = open_ground_truth("omni_r1_verl.detail.ground_truth:NpzGroundTruth", tmp_path)
    assert isinstance(store, GroundTruthSource)
    got = store.masks("videos/a", [3, 0])
    assert got.shape == (2, 2, 4, 6) and got.dtype == bool
    assert got[1, 0].sum() == 6 and not got[:, 1].any()
    assert store.masks("videos/a").shape == (2, 5, 4, 6)


def test_npz_store_errors_name_the_key(tmp_path):
    store = NpzGroundTruth(tmp_path)
    with pytest.raises(GroundTruthError, match="'missing'"):
        store.masks("missing")
    NpzGroundTruth.write(tmp_path, "a", np.zeros((1, 2, 3, 3), dtype=bool))
    with pytest.raises(GroundTruthError, match="frame index outside"):
        store.masks("a", [2])
    np.savez(tmp_path / "flat.npz", masks=np.zeros((2, 3)))
    with pytest.raises(GroundTruthError, match="n_obj, F, H, W"):
        store.masks("flat")
    with pytest.raises(UnsafePathError):
        store.masks("../outside")


def test_object_arrays_are_never_unpickled(tmp_path):
    np.savez(tmp_path / "evil.npz", masks=np.array([{"a": 1}], dtype=object))
    with pytest.raises(GroundTruthError):
        NpzGroundTruth(tmp_path).masks("evil")


def test_store_spec_errors():
    with pytest.raises(ImportError, match="no_such_module"):
        import_object("no_such_module:Store")
    with pytest.raises(ImportError, match="Nope"):
        import_object("omni_r1_verl.detail.ground_truth:Nope")
    with pytest.raises(TypeError, match="no masks"):
        open_ground_truth("pathlib:PurePosixPath", "/tmp")
