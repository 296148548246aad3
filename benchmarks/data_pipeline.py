"""Data pipeline budgets, each measured against a baseline in the same run (ratios do not depend on the machine).

1. Conversion throughput: ``omni-r1 prepare`` on a synthetic ReVOS with N workers vs 1 worker (target >= 1.7x on
   2 idle cores): 48 rendered videos listed 4 times each (192 videos, ~1.5k samples), runs alternating, median of
   the per-pair ratios (and the ratio of the best runs). Each conversion pair is followed by a pair of an ideally
   parallel CPU-bound job, whose speed-up is what this machine gives any N-process job at that moment (virtual
   cores give less than N x); the efficiency is the conversion's speed-up over that ceiling.
2. One training sample on one core: 24 720p JPEG frames decoded and resized to the System-1 budget and 10 s of
   audio loaded (target < 200 ms), with the breakdown, against the baseline of decoding frames at full size.
3. Ground-truth store reads (what detail workers and evaluators do per sample): a sample's masks for 24 frames vs
   the reference path (JSON RLE + pycocotools), and boxes / areas straight from the runs vs decoding.

Single-core figures are CPU time of this process (``time.process_time``), so other processes waiting for the CPU
do not inflate them (cache sharing still does); conversion figures are wall time. The load average is printed
with the results.

example:
  python benchmarks/data_pipeline.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU time of ``fn`` in this process over ``repeat`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _replicate_train_split(root: Path, copies: int) -> int:
    """List every ReVOS training video ``copies`` times (hard-linked frames, cloned annotations).

    Rendering a synthetic video costs more than converting it, so a set large enough for conversion time to
    dwarf process start-up is made from a few rendered videos; each copy is converted like a distinct video.

    Returns:
        Training videos after replication.
    """
    meta_path, masks_path, fg_path = (
        root / "meta_expressions_train_.json",
        root / "mask_dict.json",
        root / "mask_dict_foreground.json",
    )
    meta, masks, foreground = (json.loads(p.read_text()) for p in (meta_path, masks_path, fg_path))
    next_anno = max(int(k) for k in masks) + 1
    videos = dict(meta["videos"])
    for name, video in meta["videos"].items():
        for copy in range(1, copies):
            clone = f"{name}_copy{copy}"
            (root / clone).mkdir(parents=True)
            for frame in video["frames"]:
                os.link(root / name / f"{frame}.jpg", root / clone / f"{frame}.jpg")
            remap: dict[int, int] = {}
            expressions = {}
            for key, expr in video["expressions"].items():
                for anno in expr["anno_id"]:
                    if anno not in remap:
                        remap[anno], masks[str(next_anno)] = next_anno, masks[str(anno)]
                        next_anno += 1
                expressions[key] = dict(expr, anno_id=[remap[a] for a in expr["anno_id"]])
            videos[clone] = dict(video, expressions=expressions)
            foreground[clone] = foreground[name]
    meta["videos"] = videos
    for path, data in ((meta_path, meta), (masks_path, masks), (fg_path, foreground)):
        path.write_text(json.dumps(data))
    return len(videos)


def bench_conversion(tmp: Path, videos: int, copies: int, workers: int, size: tuple[int, int], repeat: int) -> dict:
    """``omni-r1 prepare`` wall time with 1 and ``workers`` workers, next to the machine's parallel ceiling.

    Each repetition runs a conversion pair (1 worker, then ``workers``) and a ceiling pair (an ideally parallel
    CPU-bound job, 1 vs ``workers`` processes) back to back, so both ratios see the same machine state; the
    efficiency is the median of the per-repetition ratio of the two speed-ups.
    """
    from omni_r1_verl.data.prepare import PrepareConfig, prepare
    from omni_r1_verl.data.synthetic import write_revos

    root = write_revos(
        tmp / "revos", train_videos=videos, valid_videos=1, min_frames=24, max_frames=40, height=size[0], width=size[1]
    )
    total_videos = _replicate_train_split(root, copies)
    # Warm-up: first-use imports (pyarrow's pandas shim, PIL plugins) must not be charged to one side.
    prepare(PrepareConfig("revos", root, "valid", tmp / "warmup", workers=1, progress=False))

    samples = []

    def convert(n: int) -> None:
        result = prepare(PrepareConfig("revos", root, "train", tmp / f"out{n}", workers=n, progress=False))
        assert result.exit_code == 0, result.report.summary()
        samples.append(result.report.samples_written)

    times = _paired_times({"conversion": convert, "ceiling": _ceiling_job()}, workers, repeat)
    conversion, ceiling = _speedup(times["conversion"], workers), _speedup(times["ceiling"], workers)
    efficiency = [
        c / i for c, i in zip(_pair_ratios(times["conversion"], workers), _pair_ratios(times["ceiling"], workers))
    ]
    return {
        "videos": total_videos,
        "rendered_videos": videos,
        "samples": samples[-1],
        "frame_size": list(size),
        **conversion,
        "parallel_ceiling": ceiling,
        "efficiency_vs_ceiling": round(statistics.median(efficiency), 2),
    }


def _paired_times(
    runs: dict[str, Callable[[int], object]], workers: int, repeat: int
) -> dict[str, dict[int, list[float]]]:
    """Wall times of each ``run(1)`` and ``run(workers)``, interleaved, so drifting machine speed hits all alike."""
    times: dict[str, dict[int, list[float]]] = {name: {1: [], workers: []} for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            for n in (1, workers):
                start = time.perf_counter()
                run(n)
                times[name][n].append(time.perf_counter() - start)
    return times


def _pair_ratios(times: dict[int, list[float]], workers: int) -> list[float]:
    return [one / many for one, many in zip(times[1], times[workers])]


def _speedup(times: dict[int, list[float]], workers: int) -> dict:
    """Median of the per-pair ratios (each pair ran back to back) and the ratio of the best runs."""
    return {
        "seconds_1_worker": [round(t, 3) for t in times[1]],
        f"seconds_{workers}_workers": [round(t, 3) for t in times[workers]],
        "speedup": round(statistics.median(_pair_ratios(times, workers)), 2),
        "speedup_best_of": round(min(times[1]) / min(times[workers]), 2),
    }


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def _ceiling_job(seconds: float = 2.0, tasks: int = 16) -> Callable[[int], None]:
    """An ideally parallel job: ``tasks`` equal CPU-bound tasks (about ``seconds`` in all) in a fork pool of n.

    Shared and virtual machines deliver less than ``workers``x (hyper-threads, steal time, a single busy core
    boosting higher than two); the conversion speed-up is best read against this ceiling.
    """
    import multiprocessing as mp

    start = time.perf_counter()
    _burn(1_000_000)
    per_task = max(1, int(1_000_000 * seconds / tasks / (time.perf_counter() - start)))

    def run(n: int) -> None:
        with mp.get_context("fork").Pool(n) as pool:
            pool.map(_burn, [per_task] * tasks, chunksize=1)

    return run


def _write_720p_sample(tmp: Path) -> tuple[list[Path], Path]:
    import soundfile as sf
    from PIL import Image

    from omni_r1_verl.data.synthetic.scene import random_scene

    scene = random_scene(np.random.default_rng(0), 720, 1280, 24, 3, allow_absence=False)
    frames, _ = scene.render()
    paths = []
    for i, frame in enumerate(frames):
        path = tmp / f"frame_{i:03d}.jpg"
        Image.fromarray(frame).save(path, quality=90)
        paths.append(path)
    audio = tmp / "audio.wav"
    sf.write(audio, scene.audio([0, 1], 10.0), 16_000)
    return paths, audio


def _gt_store_720p(tmp: Path) -> tuple[Path, str, list[dict]]:
    """A store with one 2-object, 120-frame 720p sample, plus the same masks as COCO RLE dicts (the baseline)."""
    from pycocotools import mask as coco_mask

    from omni_r1_verl.data import rle
    from omni_r1_verl.data.gt_store import GroundTruthWriter
    from omni_r1_verl.data.synthetic.scene import random_scene

    scene = random_scene(np.random.default_rng(1), 720, 1280, 120, 2, allow_absence=False)
    _, masks = scene.render()
    with GroundTruthWriter(tmp / "gt") as writer:
        objs = [writer.add_object(rle.encode(m), 720, 1280) for m in masks]
        writer.add_sample("bench", objs, 120, 720, 1280)
    source = [
        [
            {"size": [720, 1280], "counts": r["counts"].decode()}
            for r in coco_mask.encode(np.asfortranarray(m.transpose(1, 2, 0).astype(np.uint8)))
        ]
        for m in masks
    ]
    return tmp / "gt", "bench", source


def bench_sample(tmp: Path, repeat: int) -> dict:
    """One training sample on one core, with its breakdown."""
    from PIL import Image

    from omni_r1_verl.data.media import load_audio, load_frames, load_image
    from omni_r1_verl.data.sampling import sample_clip_indices
    from omni_r1_verl.utils.vision import VIDEO_FRAME_MAX_PIXELS, VIDEO_FRAME_MIN_PIXELS, smart_resize

    frames, audio = _write_720p_sample(tmp)

    def full_size_baseline() -> np.ndarray:
        h, w = smart_resize(720, 1280, min_pixels=VIDEO_FRAME_MIN_PIXELS, max_pixels=VIDEO_FRAME_MAX_PIXELS)
        return np.stack([np.asarray(load_image(p).resize((w, h), Image.Resampling.BICUBIC)) for p in frames])

    parts = {
        "clip_sampling": _cpu(lambda: sample_clip_indices(300, key="bench", epoch=1), repeat),
        "frames_24x720p": _cpu(lambda: load_frames(frames), repeat),
        "audio_10s": _cpu(lambda: load_audio(audio), repeat),
    }
    baseline = _cpu(full_size_baseline, repeat)
    total = sum(parts.values())
    return {
        "breakdown_cpu_ms": {k: round(v * 1e3, 1) for k, v in parts.items()},
        "total_cpu_ms": round(total * 1e3, 1),
        "budget_ms": 200,
        "jpeg_kib_per_frame": round(sum(p.stat().st_size for p in frames) / len(frames) / 1024),
        "frames_full_size_decode_cpu_ms": round(baseline * 1e3, 1),
        "frames_speedup_vs_full_size_decode": round(baseline / parts["frames_24x720p"], 2),
    }


def bench_store(tmp: Path, repeat: int) -> dict:
    """Store reads vs the reference's path (JSON RLE dicts decoded with pycocotools)."""
    from pycocotools import mask as coco_mask

    from omni_r1_verl.data.gt_store import GroundTruthStore

    root, key, source = _gt_store_720p(tmp / "store")
    store = GroundTruthStore(root)
    frames = np.linspace(0, 119, 24).astype(int)
    text = json.dumps(source)

    def reference_masks() -> np.ndarray:
        objects = json.loads(text)
        return np.stack(
            [np.stack([coco_mask.decode(objects[o][f]).astype(bool) for f in frames]) for o in range(len(objects))]
        )

    def reference_boxes() -> np.ndarray:
        masks = reference_masks()
        return masks.sum(axis=(2, 3))

    assert np.array_equal(store.masks(key, frames), reference_masks())
    t_open = _cpu(lambda: GroundTruthStore(root), repeat)
    t_masks = _cpu(lambda: store.masks(key, frames), repeat)
    t_ref = _cpu(reference_masks, repeat)
    t_runs = _cpu(lambda: (store.boxes(key, frames), store.areas(key, frames)), repeat)
    t_ref_boxes = _cpu(reference_boxes, repeat)
    return {
        "open_cpu_ms": round(t_open * 1e3, 2),
        "masks_24x720p_2obj_cpu_ms": round(t_masks * 1e3, 2),
        "reference_json_pycocotools_cpu_ms": round(t_ref * 1e3, 2),
        "masks_speedup": round(t_ref / t_masks, 2),
        "boxes_and_areas_cpu_ms": round(t_runs * 1e3, 2),
        "boxes_speedup_vs_decoding": round(t_ref_boxes / t_runs, 2),
        "store_bytes_per_720p_mask": round((root / "objects.bin").stat().st_size / 240),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers to compare with 1")
    parser.add_argument("--videos", type=int, default=48, help="rendered synthetic ReVOS training videos (default: 48)")
    parser.add_argument(
        "--copies", type=int, default=4, help="times each rendered video is listed for conversion (default: 4)"
    )
    parser.add_argument("--size", type=int, nargs=2, default=(360, 640), metavar=("H", "W"), help="ReVOS frame size")
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions per measurement (median)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results: dict = {"load_average_before": [round(v, 2) for v in os.getloadavg()], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["conversion"] = bench_conversion(
            tmp, args.videos, args.copies, args.workers, tuple(args.size), args.repeat
        )
        print("conversion:", json.dumps(results["conversion"]))
        core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else None
        if core is not None:
            previous = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {core})  # "on one core"
        try:
            (tmp / "sample").mkdir()
            results["sample"] = bench_sample(tmp / "sample", args.repeat)
            print("training sample (one core):", json.dumps(results["sample"]))
            (tmp / "store").mkdir()
            results["gt_store"] = bench_store(tmp, args.repeat)
            print("ground-truth store:", json.dumps(results["gt_store"]))
        finally:
            if core is not None:
                os.sched_setaffinity(0, previous)
    results["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    conv, sample = results["conversion"], results["sample"]
    print(
        f"\nconversion speedup {conv['speedup']}x (best runs {conv['speedup_best_of']}x) with {args.workers} workers "
        f"(target >= 1.7x on 2 idle cores; an ideally parallel job got {conv['parallel_ceiling']['speedup']}x "
        f"in the same pairs, efficiency {conv['efficiency_vs_ceiling']}); "
        f"sample {sample['total_cpu_ms']} ms CPU (budget 200 ms); load average {results['load_average_before']} -> "
        f"{results['load_average_after']}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
