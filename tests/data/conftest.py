"""Synthetic datasets in the four published layouts, generated once per session (copy before mutating)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from omni_r1_verl.data.synthetic import write_mevis, write_refavs, write_refcocog, write_revos


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> dict[str, Path]:
    """Roots of small synthetic ReVOS, MeViS, RefAVS and refCOCOg datasets (read-only: copy before changing)."""
    base = tmp_path_factory.mktemp("synthetic")
    return {
        "revos": write_revos(base / "revos", train_videos=3, valid_videos=2, min_frames=12, max_frames=24),
        "mevis": write_mevis(base / "mevis", train_videos=3, valid_videos=1, min_frames=12, max_frames=24),
        "refavs": write_refavs(base / "refavs", videos=6, audio_seconds=1.0),
        "refcocog": write_refcocog(base / "refcocog", images=8),
    }


@pytest.fixture
def dataset_copy(synthetic, tmp_path):
    """Return a function that copies a synthetic dataset into this test's tmp dir (to corrupt it)."""

    def copy(name: str) -> Path:
        return Path(shutil.copytree(synthetic[name], tmp_path / f"{name}_copy"))

    return copy


@pytest.fixture
def run_prepare():
    """``omni-r1 prepare`` in-process: ``run_prepare(dataset, root, split, out, **options)`` (one worker, quiet)."""
    from omni_r1_verl.data.prepare import PrepareConfig, prepare

    def run(dataset: str, root: Path, split: str, out: Path, **kwargs):
        kwargs.setdefault("workers", 1)
        kwargs.setdefault("progress", False)
        return prepare(PrepareConfig(dataset=dataset, root=root, split=split, out=out, **kwargs))

    return run


def load_rows(path: Path) -> list[dict]:
    """Rows of a prepared parquet file, read the way verl reads them (``datasets``)."""
    import datasets

    return list(datasets.load_dataset("parquet", data_files=str(path))["train"])


def issue_codes(result) -> set[str]:
    """Issue codes of a prepare run."""
    return {issue.code for issue in result.report.issues}


@pytest.fixture
def rows_of():
    """``rows_of(parquet_path)``: the rows as verl's ``datasets`` loader returns them."""
    return load_rows


@pytest.fixture
def codes_of():
    """``codes_of(result)``: the set of issue codes of a prepare run."""
    return issue_codes
