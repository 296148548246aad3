"""Grouped vs per-rollout System-2 passes: the GRPO batching trick, measured in one run, SAM2 next to SAM 3.

A GRPO group of R rollouts x B keyframe boxes on one clip is segmented two ways with the same engine:

* naive: one job per rollout (R passes, as the reference's one-request-per-rollout server);
* grouped: one job for the group (one pass, image features shared, objects batched, identical prompts once).

Two scenarios: ``distinct`` (every rollout's boxes differ slightly) and ``agreeing`` (a fraction of rollouts repeat
the first rollout's boxes, as a greedy System 2 does whenever rollouts agree). Each backend of ``--backend`` gets
its rows: naive time, grouped time, their ratio, unique/total objects and rollout-frames per second of the grouped
pass; ratios are what to compare across machines. Backends: ``sam2``, ``hf_sam2``, ``sam3_tracker`` (boxes given,
SAM 3 masks) and ``sam3_text`` (SAM 3 boxes from the keyframe descriptions, then SAM 3 masks: grounding is timed
too). ``--sam3-video`` adds transformers' one-model ``Sam3VideoModel`` (the descriptions as text prompts on every
frame; naive = one session per rollout, grouped = one session with the group's distinct descriptions), the
alternative the ``sam3_text`` mode was measured against.

Examples::

    python benchmarks/detail_pool.py                                  # tiny random SAM2 and SAM 3 on CPU
    python benchmarks/detail_pool.py --backend sam2,hf_sam2,sam3_tracker,sam3_text --sam3-video
    python benchmarks/detail_pool.py --preset gpu-large               # SAM2.1-L and SAM 3 shapes, random weights
    python benchmarks/detail_pool.py --through-pool                   # the same through the Ray pool
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PRESETS = {
    "cpu-tiny": {"frames": 12, "height": 240, "width": 320, "rollouts": 8, "boxes": 4},
    "gpu-large": {
        "frames": 24,
        "height": 720,
        "width": 1280,
        "rollouts": 8,
        "boxes": 4,
        "config": "configs/sam2.1/sam2.1_hiera_l.yaml",
        "random_weights": True,
        "device": "cuda",
    },
}
#: Backends that load a transformers SAM 3 checkpoint (``sam3_text``: SAM 3 boxes and masks from one checkpoint).
SAM3_BACKENDS = ("sam3_tracker", "sam3_text")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-tiny", help="defaults for the knobs below")
    parser.add_argument(
        "--backend",
        default="sam2,sam3_tracker",
        help="comma-separated: sam2 (package, batched), hf_sam2, sam3_tracker (batched), sam3_text (SAM 3 boxes too)",
    )
    parser.add_argument("--tiny-dir", default=os.getenv("OMNI_R1_TINY_DIR", ""), help="omni-r1 make-tiny output")
    parser.add_argument("--config", help="sam2 config (package name or YAML); default: the tiny one")
    parser.add_argument("--checkpoint", help="sam2 .pt / hf_sam2 directory; default: the tiny one")
    parser.add_argument("--sam3-checkpoint", help="transformers SAM 3 directory (facebook/sam3); default: the tiny one")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="random weights: --config for sam2, facebook/sam3's shape for SAM 3",
    )
    parser.add_argument("--score-threshold", type=float, default=0.25, help="SAM 3 detection threshold (sam3_text)")
    parser.add_argument("--sam3-video", action="store_true", help="also time Sam3VideoModel (text on every frame)")
    parser.add_argument("--frames", type=int, help="clip frames")
    parser.add_argument("--height", type=int, help="frame height")
    parser.add_argument("--width", type=int, help="frame width")
    parser.add_argument("--rollouts", type=int, help="rollouts per GRPO group")
    parser.add_argument("--boxes", type=int, help="keyframe boxes per rollout")
    parser.add_argument("--agree", type=float, default=0.5, help="fraction of rollouts repeating rollout 0 (agreeing)")
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16")
    parser.add_argument("--trials", type=int, default=3, help="timed repetitions (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--through-pool", action="store_true", help="time through a local Ray pool (1 worker)")
    args = parser.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key, None) in (None, False):
            setattr(args, key, value)
    args.device = args.device or "auto"
    args.backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    return args


def write_dataset(root: Path, frames: int, height: int, width: int, seed: int = 0):
    """A clip of moving rectangles (PNG) and its ground truth (npz); returns frame paths, masks and the GT key."""
    from omni_r1_verl.detail.ground_truth import NpzGroundTruth

    rng = np.random.default_rng(seed)
    masks = np.zeros((2, frames, height, width), dtype=bool)
    (root / "clip").mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(frames):
        img = (rng.random((height, width, 3)) * 60).astype(np.uint8)
        y, x = int(height * (0.2 + 0.01 * t)), int(width * (0.1 + 0.02 * t))
        masks[0, t, y : y + height // 4, x : x + width // 5] = True
        masks[1, t, height // 2 : height // 2 + height // 5, width // 2 : width // 2 + width // 6] = True
        img[masks[0, t]] = (220, 70, 60)
        img[masks[1, t]] = (60, 200, 90)
        paths.append(f"clip/{t:05d}.png")
        Image.fromarray(img).save(root / paths[-1])
    NpzGroundTruth.write(root, "gt/clip", masks)
    return paths, masks


def make_group(root: Path, paths, masks, rollouts: int, boxes: int, agree: float, seed: int = 0):
    """Requests of one GRPO group; the first ``agree`` fraction of rollouts repeat rollout 0's boxes and words."""
    from omni_r1_verl.contracts.system2 import DetailRequest, KeyframeQuery
    from omni_r1_verl.detail.boxes import mask_box

    rng = np.random.default_rng(seed)
    frames = len(paths)
    keyframes = np.linspace(0, frames - 1, boxes + 2).astype(int)[1:-1] if boxes < frames else np.arange(frames)
    repeats = int(round(agree * rollouts))
    requests = []
    for r in range(rollouts):
        jitter = 0 if r < max(repeats, 1) else int(r)
        queries = []
        for k in keyframes[:boxes]:
            x1, y1, x2, y2 = mask_box(masks[0, k])
            dx, dy = rng.integers(-3, 4, size=2) if jitter else (0, 0)
            box = [x1 + dx + jitter, y1 + dy, x2 + dx + jitter, y2 + dy]
            words = "the red box" if not jitter else f"the red box {jitter}"
            queries.append(KeyframeQuery(int(k), words, boxes=[box]))
        requests.append(
            DetailRequest(
                group_key="bench",
                rollout_id=f"r{r}",
                dataset_root=str(root),
                frame_paths=list(paths),
                frame_indices=list(range(frames)),
                gt_key="gt/clip",
                keyframes=queries,
                group_size=rollouts,
            )
        )
    return requests


def without_boxes(requests):
    """The same requests with descriptions only: the grounding model boxes them (``sam3_text``)."""
    return [
        dataclasses.replace(r, keyframes=[dataclasses.replace(k, boxes=None) for k in r.keyframes]) for r in requests
    ]


def build_config(args, workdir: Path, backend: str):
    from omni_r1_verl.detail.config import DetailConfig

    sam2 = {"backend": "sam3_tracker" if backend == "sam3_text" else backend, "dtype": args.dtype}
    grounding = {}
    if backend == "sam2":
        if args.random_weights:
            sam2.update(config=args.config, checkpoint=str(random_checkpoint(args.config, workdir)))
        else:
            tiny = tiny_assets(args.tiny_dir) if not (args.config and args.checkpoint) else None
            sam2.update(
                config=args.config or str(tiny.sam2_config), checkpoint=args.checkpoint or str(tiny.sam2_checkpoint)
            )
    elif backend in SAM3_BACKENDS:
        sam2["checkpoint"] = sam3_checkpoint(args, workdir)
        if backend == "sam3_text":
            grounding = {
                "backend": "sam3_text",
                "model_path": sam2["checkpoint"],
                "score_threshold": args.score_threshold,
                "dtype": args.dtype,
            }
    else:
        sam2["checkpoint"] = args.checkpoint or str(tiny_assets(args.tiny_dir).sam2_hf)
    return DetailConfig.from_dict(
        {
            "sam2": sam2,
            "grounding": grounding,
            "placement": {"mode": "cpu" if args.device == "cpu" else "auto", "cpus_per_worker": args.threads},
            "pool": {"name": f"detail_pool_benchmark_{backend}", "batch_window_s": 0.0},
            "gt_store": "omni_r1_verl.detail.ground_truth:NpzGroundTruth",
        }
    )


def tiny_assets(tiny_dir: str):
    from omni_r1_verl.models.tiny import TinyAssets, make_tiny

    if tiny_dir:
        try:
            return TinyAssets.load(tiny_dir)
        except FileNotFoundError:
            return make_tiny(tiny_dir)
    return make_tiny(Path(tempfile.mkdtemp(prefix="omni_r1_tiny_")))


def sam3_checkpoint(args, workdir: Path) -> str:
    """``--sam3-checkpoint``, random weights of facebook/sam3's shape (``--random-weights``), or the tiny SAM 3."""
    from omni_r1_verl.models.tiny_sam3 import SAM3_DIR, build_sam3

    if args.sam3_checkpoint:
        return args.sam3_checkpoint
    if args.random_weights:
        from transformers import Sam3VideoConfig

        path = workdir / "random_sam3"
        if not path.is_dir():
            build_sam3(path, config=Sam3VideoConfig())
        return str(path)
    tiny = tiny_assets(args.tiny_dir)
    return str(tiny.extra.get(SAM3_DIR) or build_sam3(workdir / SAM3_DIR))


def random_checkpoint(config: str, workdir: Path) -> Path:
    """Random weights of the config's architecture, in the official checkpoint format."""
    import torch

    from omni_r1_verl.detail.segmenters.sam2_package import build_sam2_model

    torch.manual_seed(0)
    model = build_sam2_model(config, None)
    path = workdir / "random_sam2.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


def count_objects(requests, cfg) -> tuple[int, int]:
    """Unique and total objects of a group's given boxes, with the engine's association and de-duplication."""
    from omni_r1_verl.detail.association import associate, plan_objects

    per_rollout = [
        associate([(k.clip_index, k.boxes) for k in r.keyframes], cfg.sam2.association, cfg.sam2.association_iou)
        for r in requests
    ]
    plan = plan_objects(per_rollout)
    return plan.unique, plan.total


def _check(results, text: bool) -> None:
    """Every rollout ran (with text grounding, random weights may find no box on a keyframe: ``no_boxes``)."""
    assert all(r.status == "ok" or (text and r.ran) for r in results), [r.message for r in results]


def time_engine(engine, requests, trials: int, text: bool) -> tuple[float, float, tuple[int, int]]:
    """Median seconds of naive (one job per rollout) and grouped (one job) passes, interleaved; and the objects."""
    engine.run_job(requests[:1])  # warm-up (allocations, lazy imports)
    naive, grouped = [], []
    for _ in range(trials):
        start = time.perf_counter()
        for request in requests:
            engine.run_job([request])
        naive.append(time.perf_counter() - start)
        start = time.perf_counter()
        outcome = engine.run_job(requests)
        grouped.append(time.perf_counter() - start)
        _check(outcome.results, text)
    return statistics.median(naive), statistics.median(grouped), (outcome.unique_objects, outcome.total_objects)


def time_pool(cfg, scenarios, trials: int, text: bool) -> list[tuple[float, float, None]]:
    """The same through a local Ray pool: naive = one rollout at a time, grouped = the group submitted at once."""
    import ray

    from omni_r1_verl.detail.pool import DetailPool

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    try:
        pool = DetailPool.get_or_create(cfg)
        ray.get(pool.router.start.remote())
        timings = []
        for requests in scenarios:
            alone = [dataclasses.replace(r, group_key=r.rollout_id, group_size=1) for r in requests]
            pool.run(alone[:1])
            naive, grouped = [], []
            for _ in range(trials):
                start = time.perf_counter()
                for request in alone:
                    pool.run([request])
                naive.append(time.perf_counter() - start)
                start = time.perf_counter()
                results = pool.run(requests)
                grouped.append(time.perf_counter() - start)
                _check(results, text)
            timings.append((statistics.median(naive), statistics.median(grouped), None))
        pool.shutdown()
        return timings
    finally:
        ray.shutdown()


def time_sam3_video(args, cfg, scenarios, trials: int) -> list[tuple[float, float, None]]:
    """transformers' one-model SAM 3 (detector on every frame + tracker), the descriptions as text prompts."""
    import torch
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    from omni_r1_verl.detail.clip import load_clip
    from omni_r1_verl.detail.devices import compute_dtype, resolve_device

    device = resolve_device(args.device)
    dtype = compute_dtype(args.dtype, device)
    path = cfg.sam2.checkpoint
    model = Sam3VideoModel.from_pretrained(path, dtype=dtype).to(device).eval()
    model.score_threshold_detection = model.new_det_thresh = args.score_threshold
    processor = Sam3VideoProcessor.from_pretrained(path)
    head = scenarios[0][0]
    frames = load_clip(head.dataset_root, head.frame_paths).frames

    def run(descriptions: list[str]) -> None:
        with torch.inference_mode():
            session = processor.init_video_session(video=frames, inference_device=device, dtype=dtype)
            processor.add_text_prompt(session, sorted(set(descriptions)))
            for out in model.propagate_in_video_iterator(session):
                processor.postprocess_outputs(session, out)

    timings = []
    for requests in scenarios:
        words = [[k.description for k in r.keyframes] for r in requests]
        run(words[0])
        naive, grouped = [], []
        for _ in range(trials):
            start = time.perf_counter()
            for own in words:
                run(own)
            naive.append(time.perf_counter() - start)
            start = time.perf_counter()
            run([w for own in words for w in own])
            grouped.append(time.perf_counter() - start)
        timings.append((statistics.median(naive), statistics.median(grouped), None))
    return timings


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from omni_r1_verl.detail.engine import DetailEngine

    workdir = Path(tempfile.mkdtemp(prefix="detail_bench_"))
    paths, masks = write_dataset(workdir, args.frames, args.height, args.width)
    scenarios = [
        ("distinct", make_group(workdir, paths, masks, args.rollouts, args.boxes, 0.0)),
        ("agreeing", make_group(workdir, paths, masks, args.rollouts, args.boxes, args.agree)),
    ]
    load = os.getloadavg()[0]
    print(
        f"detail pool benchmark: clip {args.frames} x {args.height}x{args.width}, {args.rollouts} rollouts x "
        f"{args.boxes} keyframes, torch threads={args.threads}, 1-min load avg {load:.1f}, "
        f"{'through a local Ray pool (1 worker)' if args.through_pool else 'in-process'}"
    )
    rows = []
    for backend in args.backends + (["sam3_video"] if args.sam3_video else []):
        cfg = build_config(args, workdir, "sam3_text" if backend == "sam3_video" else backend)
        text = backend in ("sam3_text", "sam3_video")
        groups = [without_boxes(r) if text else r for _, r in scenarios]
        if backend == "sam3_video":
            timings = time_sam3_video(args, cfg, groups, args.trials)
        elif args.through_pool:
            timings = time_pool(cfg, groups, args.trials, text)
        else:
            engine = DetailEngine(cfg, device=args.device)
            print(f"{backend}: {engine.describe()['segmenter']}")
            timings = [time_engine(engine, requests, args.trials, text) for requests in groups]
            del engine
        for (name, requests), (naive, grouped, objects) in zip(scenarios, timings):
            if objects is None and not text:
                objects = count_objects(requests, cfg)
            rows.append((backend, name, objects, naive, grouped))
    print(
        f"{'backend':<13} {'scenario':<10} {'unique/total':>12} {'naive s':>9} {'grouped s':>10} {'ratio':>7} "
        f"{'rollout-frames/s':>17}"
    )
    for backend, name, objects, naive, grouped in rows:
        counted = f"{objects[0]}/{objects[1]}" if objects else "-"
        fps = args.frames * args.rollouts / grouped
        print(
            f"{backend:<13} {name:<10} {counted:>12} {naive:>9.2f} {grouped:>10.2f} {naive / grouped:>6.2f}x "
            f"{fps:>17.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
