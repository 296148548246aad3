"""Synthetic clips on disk (PNG frames + ``.npz`` ground truth) and detail configs on the tiny SAM2 checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1_verl.contracts.system2 import DetailRequest, KeyframeQuery
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.ground_truth import NpzGroundTruth

NPZ_STORE = "omni_r1_verl.detail.ground_truth:NpzGroundTruth"

# The machine's cores are shared: one intra-op thread per test process keeps the tiny models fast and predictable.
torch.set_num_threads(1)


@dataclass
class SyntheticClip:
    """A clip written under ``root``: moving bright rectangles on a noisy background."""

    root: Path
    frame_paths: list[str]
    masks: np.ndarray  # (n_obj, F, H, W)
    gt_key: str

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def box(self, obj: int, frame: int) -> list[float]:
        rows = np.flatnonzero(self.masks[obj, frame].any(axis=1))
        cols = np.flatnonzero(self.masks[obj, frame].any(axis=0))
        return [float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)]

    def request(self, rollout: str, keyframes: list[KeyframeQuery], **kwargs) -> DetailRequest:
        return DetailRequest(
            group_key=self.gt_key,
            rollout_id=rollout,
            dataset_root=str(self.root),
            frame_paths=self.frame_paths,
            frame_indices=list(range(self.num_frames)),
            gt_key=self.gt_key,
            keyframes=keyframes,
            **kwargs,
        )


def write_clip(root: Path, name: str = "v0", num_frames: int = 8, height: int = 72, width: int = 96, seed: int = 0):
    """Write frames ``<root>/<name>/00000.png...`` and ground truth ``<root>/gt/<name>.npz`` (two objects)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((2, num_frames, height, width), dtype=bool)
    paths = []
    (root / name).mkdir(parents=True, exist_ok=True)
    for t in range(num_frames):
        frame = (rng.random((height, width, 3)) * 50).astype(np.uint8)
        y, x = 10 + t, 8 + 2 * t
        masks[0, t, y : y + 24, x : x + 30] = True
        masks[1, t, height - 20 : height - 4, width - 28 - t : width - 8 - t] = True
        frame[masks[0, t]] = (230, 60, 60)
        frame[masks[1, t]] = (60, 200, 90)
        rel = f"{name}/{t:05d}.png"
        Image.fromarray(frame).save(root / rel)
        paths.append(rel)
    NpzGroundTruth.write(root, f"gt/{name}", masks)
    return SyntheticClip(root, paths, masks, f"gt/{name}")


@pytest.fixture
def clip(tmp_path) -> SyntheticClip:
    return write_clip(tmp_path, num_frames=6)


@pytest.fixture(scope="session")
def hf_checkpoint(tmp_path_factory):
    """A tiny transformers SAM2 whose random weights (seed 1) predict objects on most frames (the shared seed-0
    checkpoint predicts "no object" almost everywhere, which would make mask comparisons vacuous)."""
    from omni_r1_verl.models.tiny import build_tiny_hf_sam2

    return build_tiny_hf_sam2(tmp_path_factory.mktemp("hf_sam2"), seed=1)


@pytest.fixture(scope="session")
def sam3_checkpoint(tmp_path_factory):
    """A tiny SAM 3 (detector + tracker) whose random weights (seed 3) give every test object a non-empty mask on
    the synthetic clips (seed 0's tracker outputs "no object" for half of them)."""
    from omni_r1_verl.models.tiny_sam3 import build_sam3

    return build_sam3(tmp_path_factory.mktemp("sam3"), seed=3)


def tiny_config(tiny_assets, backend: str = "sam2", **sections) -> DetailConfig:
    """Detail config on the tiny checkpoints, CPU placement, ``.npz`` ground truth."""
    checkpoint = tiny_assets.sam2_checkpoint if backend == "sam2" else tiny_assets.sam2_hf
    data = {
        "gt_store": NPZ_STORE,
        "placement": {"mode": "cpu", "cpus_per_worker": 1},
        "sam2": {"backend": backend, "checkpoint": str(checkpoint), "config": str(tiny_assets.sam2_config)},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return DetailConfig.from_dict(data)
