"""Shared fixtures: offline environment, tiny assets built once per session, a local CPU Ray cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No hub access anywhere in the suite: everything is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory):
    """Tiny random checkpoints (``omni-r1 make-tiny``), built once per session.

    Set ``OMNI_R1_TINY_DIR`` to reuse a directory across sessions (it is rebuilt when its manifest is missing).
    """
    from omni_r1_verl.models.tiny import TinyAssets, make_tiny

    cached = os.getenv("OMNI_R1_TINY_DIR")
    if cached:
        root = Path(cached)
        try:
            return TinyAssets.load(root)
        except FileNotFoundError:
            return make_tiny(root)
    return make_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster with logical resources (TransferQueue and verl's pools need more CPUs than 2 cores)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=16, include_dashboard=False, namespace="omni_r1_tests", log_to_driver=False)
    yield ray
    ray.shutdown()
