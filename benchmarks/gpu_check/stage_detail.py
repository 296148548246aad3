"""The detail pool's GRPO batching on the engine (no Ray): one grouped pass against one pass per rollout.

:class:`omni_r1_verl.detail.engine.DetailEngine` runs the same requests both ways (``benchmarks/detail_pool.py``
measures the same on the CPU): ``distinct`` rollouts (every box differs: 32 unique objects on a GPU) and
``agreeing`` ones (half the rollouts repeat rollout 0, as a greedy System 2 does when rollouts agree). The ratio is
per-rollout time over grouped time, measured interleaved in the same process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.gpu_check import sam2_assets
from benchmarks.gpu_check.report import Record, result
from benchmarks.gpu_check.stage_common import Stage, peak_memory, reset_peak_memory

NAME = "detail"
TRIALS = 2


def run(gpu: bool, workdir: Path) -> Iterator[Record]:
    """Run the stage.

    Args:
        gpu: GPU sizes on CUDA (else the CPU smoke).
        workdir: Scratch directory of this check (model files and clip are shared with ``sam2``).

    Yields:
        Its records.
    """
    from benchmarks.detail_pool import time_engine
    from omni_r1_verl.detail.config import DetailConfig
    from omni_r1_verl.detail.engine import DetailEngine

    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    config, checkpoint = sam2_assets.model_files(gpu, workdir)
    cfg = DetailConfig.from_dict(
        {
            "sam2": {"checkpoint": checkpoint, "config": config},
            "gt_store": "omni_r1_verl.detail.ground_truth:NpzGroundTruth",
        }
    )
    engine = DetailEngine(cfg, device=str(device))
    reset_peak_memory(device)
    for scenario, agree in (("distinct", 0.0), ("agreeing", 0.5)):
        _, _, requests = sam2_assets.group(gpu, workdir, agree)
        naive, grouped, (unique, total) = time_engine(engine, requests, TRIALS, text=False)
        yield result(NAME, f"{scenario}_objects_unique_of_total", unique / total, f"{unique}/{total}")
        yield result(NAME, f"{scenario}_per_rollout_s", naive, "s")
        yield result(NAME, f"{scenario}_grouped_s", grouped, "s")
        yield result(NAME, f"{scenario}_ratio", naive / grouped, "x", ok=naive > grouped)
    yield peak_memory(NAME, device)


STAGE = Stage(NAME, sam2_assets.requirements, run)
