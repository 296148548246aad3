"""What the ``sam2`` and ``detail`` stages share: the model files and the GRPO group's clip, built once per check.

On a GPU: SAM2.1-Large-shaped random weights (the packaged ``configs/sam2.1/sam2.1_hiera_l.yaml``, written in the
official checkpoint format) and a 24-frame 720p clip with 8 rollouts x 4 keyframe boxes (32 SAM2 objects). In the
CPU smoke: the tiny SAM2 of ``omni-r1 make-tiny`` and a 6-frame 96 x 128 clip with 2 x 2 boxes. The clip and the
requests are those of ``benchmarks/detail_pool.py`` (moving rectangles, ground truth as ``.npz``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

#: Packaged config of SAM2.1-Large.
LARGE_CONFIG = "configs/sam2.1/sam2.1_hiera_l.yaml"


@dataclass(frozen=True)
class GroupShape:
    """The clip and the GRPO group."""

    frames: int
    height: int
    width: int
    rollouts: int
    boxes: int


GPU_GROUP = GroupShape(frames=24, height=720, width=1280, rollouts=8, boxes=4)
CPU_GROUP = GroupShape(frames=6, height=96, width=128, rollouts=2, boxes=2)


def requirements(gpu: bool) -> list[str]:
    """What the SAM2 stages miss (empty when they can run)."""
    absent = [m for m in ("sam2", "hydra", "omegaconf", "iopath") if importlib.util.find_spec(m) is None]
    missing = [f"{', '.join(absent)} (carry them in .whl/: docs/cluster.md lists the downloads)"] if absent else []
    if gpu and not torch.cuda.is_available():
        missing.append("a CUDA GPU")
    return missing


def model_files(gpu: bool, workdir: Path) -> tuple[str, str]:
    """``(config, checkpoint)`` of the stage's SAM2, written into ``workdir`` on first use."""
    if not gpu:
        from omni_r1_verl.models.tiny import SAM2_CHECKPOINT_NAME, SAM2_CONFIG_NAME, build_tiny_sam2

        out = workdir / "tiny_sam2"
        if not (out / SAM2_CHECKPOINT_NAME).is_file():
            build_tiny_sam2(out)
        return str(out / SAM2_CONFIG_NAME), str(out / SAM2_CHECKPOINT_NAME)
    from benchmarks.detail_pool import random_checkpoint

    checkpoint = workdir / "random_sam2.pt"
    if not checkpoint.is_file():
        random_checkpoint(LARGE_CONFIG, workdir)
    return LARGE_CONFIG, str(checkpoint)


def group(gpu: bool, workdir: Path, agree: float = 0.0):
    """The clip on disk and a GRPO group's requests on it (``agree``: share of rollouts repeating rollout 0)."""
    from benchmarks.detail_pool import make_group, write_dataset

    shape = GPU_GROUP if gpu else CPU_GROUP
    root = workdir / "clip_dataset"
    marker = root / "written"
    if not marker.is_file():
        root.mkdir(parents=True, exist_ok=True)
        write_dataset(root, shape.frames, shape.height, shape.width)
        marker.write_text("ok\n")
    paths = [f"clip/{t:05d}.png" for t in range(shape.frames)]
    from omni_r1_verl.detail.ground_truth import NpzGroundTruth

    masks = NpzGroundTruth(str(root)).masks("gt/clip", list(range(shape.frames)))
    return shape, root, make_group(root, paths, masks, shape.rollouts, shape.boxes, agree)
