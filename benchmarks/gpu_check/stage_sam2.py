"""SAM2 propagation: one GRPO group's boxes (32 objects on a GPU) tracked through the clip in one batched pass.

The segmenter is the recipe's (:class:`omni_r1_verl.detail.segmenters.sam2_package.Sam2PackageSegmenter`, bf16
autocast on a GPU, bidirectional propagation from each object's keyframe). Frames per second count clip frames of
the whole pass (image features included); object-frames per second count every tracked (object, frame).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.gpu_check import sam2_assets
from benchmarks.gpu_check.report import Record, result
from benchmarks.gpu_check.stage_common import Stage, peak_memory, reset_peak_memory, synchronize

NAME = "sam2"
TIMED = 2


def run(gpu: bool, workdir: Path) -> Iterator[Record]:
    """Run the stage.

    Args:
        gpu: GPU sizes on CUDA (else the CPU smoke).
        workdir: Scratch directory of this check (model files and clip are shared with ``detail``).

    Yields:
        Its records.
    """
    from omni_r1_verl.detail.association import associate, plan_objects
    from omni_r1_verl.detail.clip import load_clip
    from omni_r1_verl.detail.config import Sam2Config
    from omni_r1_verl.detail.devices import compute_dtype
    from omni_r1_verl.detail.segmenters.sam2_package import Sam2PackageSegmenter

    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    config, checkpoint = sam2_assets.model_files(gpu, workdir)
    shape, root, requests = sam2_assets.group(gpu, workdir)
    clip = load_clip(str(root), requests[0].frame_paths)
    plan = plan_objects([associate([(k.clip_index, k.boxes) for k in r.keyframes], "per_box", 0.3) for r in requests])
    cfg = Sam2Config(checkpoint=checkpoint, config=config)
    segmenter = Sam2PackageSegmenter(cfg, device, compute_dtype(cfg.dtype, device))
    yield Record("INFO", {"stage": NAME, "config": config, "image_size": segmenter.image_size, "device": str(device)})
    yield result(NAME, "objects", len(plan.objects), "objects")
    yield result(NAME, "clip_frames", clip.num_frames, f"frames of {clip.height}x{clip.width}")
    sunk = []

    def sink(frame: int, indices, masks: torch.Tensor) -> None:
        sunk.append(len(indices))

    segmenter.propagate(clip, plan.objects[:1], sink)  # warm-up: kernels, allocator, autocast caches
    reset_peak_memory(device)
    seconds = []
    for _ in range(TIMED):
        sunk.clear()
        synchronize(device)
        start = time.perf_counter()
        segmenter.propagate(clip, plan.objects, sink)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    elapsed = statistics.median(seconds)
    object_frames = sum(sunk)
    yield result(NAME, "propagation_s", elapsed, "s")
    yield result(NAME, "propagation_fps", clip.num_frames / elapsed, "frames/s")
    yield result(NAME, "object_frames_per_s", object_frames / elapsed, "object-frames/s")
    yield result(
        NAME,
        "every_object_on_every_frame",
        float(object_frames),
        "object-frames",
        ok=object_frames == len(plan.objects) * clip.num_frames,
    )
    yield result(NAME, "frames_encoded_per_pass", segmenter.last_encoded_frames, "frames")
    yield peak_memory(NAME, device)


STAGE = Stage(NAME, sam2_assets.requirements, run)
