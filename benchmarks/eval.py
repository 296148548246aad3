"""Evaluation throughput: samples/s of ``omni-r1 eval`` and the share of time in System 1, grounding, SAM2 and the
metrics (the eval counterpart of ``cpu_e2e.py``), measured on synthetic ReVOS splits in one run.

Three passes over the same rows, each its own baseline, so every stage is exercised (the tiny random thinker rarely
writes a valid moment, so the ``model`` pass alone would hardly reach SAM2):

* ``model``: System 1 (tiny thinker, greedy) + System 2 on its keyframes;
* ``first-frame``: System 2's grounding model on the first frame, then SAM2 over the video;
* ``oracle-box``: SAM2 prompted with ground-truth boxes, then the metrics (SAM2 and metrics alone).

``--gpu-large`` runs the ``oracle-box`` pass on a GPU with SAM2.1-L-shaped random weights on 720p videos (the
shape of a real evaluation); without CUDA it prints why it skipped and exits 0.

usage:
  nice -n 10 python benchmarks/eval.py [--tiny-dir DIR] [--videos 3] [--frames 12] [--gpu-large]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("system1", "grounding", "sam2", "metrics", "load_frames", "save")


def _prepare(root: Path, videos: int, frames: int, height: int, width: int) -> Path:
    from omni_r1_verl.data import synthetic
    from omni_r1_verl.data.prepare import OutputPaths, PrepareConfig, prepare

    raw = root / "raw"
    sizes = {"train_videos": 0, "valid_videos": videos, "min_frames": frames, "max_frames": frames}
    synthetic.write_revos(raw, seed=5, height=height, width=width, **sizes)
    prepare(PrepareConfig(dataset="revos", root=raw, split="valid", out=root / "prep", workers=1, progress=False))
    return OutputPaths(root / "prep", "valid").parquet


def _run(settings) -> dict:
    from omni_r1_verl.evaluation.runner import run_eval

    start = time.perf_counter()
    run_eval(settings)
    wall = time.perf_counter() - start
    timings = json.loads((settings.out / "timings.json").read_text())
    return {"wall": wall, "samples": timings["samples"], "seconds": timings["seconds"]}


def _print(name: str, run: dict) -> None:
    total = sum(run["seconds"].get(s, 0.0) for s in STAGES) or 1.0
    shares = ", ".join(f"{s} {100 * run['seconds'].get(s, 0.0) / total:.0f}%" for s in STAGES)
    print(
        f"{name:12s} {run['samples'] / run['wall']:7.3f} samples/s ({run['samples']} in {run['wall']:.1f} s): {shares}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny-dir", type=Path, default=None, help="existing `omni-r1 make-tiny` directory")
    parser.add_argument("--videos", type=int, default=3, help="synthetic videos (about 5 expressions each)")
    parser.add_argument("--frames", type=int, default=12, help="frames per video")
    parser.add_argument("--limit", type=int, default=8, help="rows per pass")
    parser.add_argument("--gpu-large", action="store_true", help="SAM2.1-L-shaped weights on 720p videos (GPU)")
    args = parser.parse_args(argv)

    import torch

    from omni_r1_verl.detail.config import DetailConfig
    from omni_r1_verl.evaluation.config import EvalConfig
    from omni_r1_verl.evaluation.runner import EvalSettings
    from omni_r1_verl.models.tiny import TinyAssets, make_tiny

    work = Path(tempfile.mkdtemp(prefix="omni_r1_eval_bench_"))
    if args.gpu_large:
        if not torch.cuda.is_available():
            print("--gpu-large: skipped, no CUDA device is visible")
            return 0
        from omni_r1_verl.detail.segmenters.sam2_package import build_sam2_model

        config = "configs/sam2.1/sam2.1_hiera_l.yaml"
        checkpoint = work / "sam2.1_hiera_l_random.pt"
        torch.save({"model": build_sam2_model(config, None).state_dict()}, checkpoint)
        data = _prepare(work / "data", args.videos, args.frames, 720, 1280)
        system2 = DetailConfig.from_dict({"sam2": {"checkpoint": str(checkpoint), "config": config}})
        settings = EvalSettings(
            "revos", "valid", data, work / "oracle-box", baseline="oracle-box", system2=system2,
            limit=args.limit, progress=False, device="cuda", evaluation=EvalConfig(),
        )  # fmt: skip
        _print("oracle-box L", _run(settings))
        return 0

    torch.set_num_threads(1)
    tiny = TinyAssets.load(args.tiny_dir) if args.tiny_dir else make_tiny(work / "tiny")
    data = _prepare(work / "data", args.videos, args.frames, 96, 160)
    system2 = DetailConfig.from_dict(
        {
            "placement": {"mode": "cpu"},
            "sam2": {"checkpoint": str(tiny.sam2_checkpoint), "config": str(tiny.sam2_config)},
            "grounding": {"backend": "transformers", "model_path": str(tiny.thinker), "max_new_tokens": 16},
        }
    )
    evaluation = EvalConfig.from_dict({"system1": {"max_new_tokens": 32}})
    print(f"synthetic ReVOS: {args.videos} videos x {args.frames} frames at 96x160, first {args.limit} rows per pass")
    for baseline in ("model", "first-frame", "oracle-box"):
        settings = EvalSettings(
            "revos", "valid", data, work / baseline, model=str(tiny.thinker), baseline=baseline, system2=system2,
            evaluation=evaluation, limit=args.limit, progress=False, device="cpu",
        )  # fmt: skip
        _print(baseline, _run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
