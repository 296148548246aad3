"""Evaluate System 1 + System 2 on a prepared split with the benchmark's official metrics.

Reads the rows and ground-truth store `omni-r1 prepare` wrote; System 1 answers greedily on the evaluation clip
(evaluation.clip_frames uniformly spaced frames at the training resolution), System 2 grounds the chosen keyframes
at full resolution and SAM2 propagates the boxes in both directions through every frame of the video at its native
resolution. Writes, under --out:

  samples.jsonl   one record per sample: answer, parsed moments, keyframes (clip and video frames), boxes,
                  J/F per expression and per object, timings per stage, status and reason (append-only)
  results.json    every figure as the benchmark's official evaluation computes it, the config, package versions
                  and checkpoint sha256 (the same bytes after a killed and resumed run)
  results.md      the figures in the paper's table layout, the paper's numbers beside them
  timings.json    seconds per stage (System 1, grounding, SAM2, metrics) and samples/s
  masks/          with --save-masks: predicted masks per sample as COCO RLE (omni_r1_verl.visualize.masks_io)
  gallery/        with --visualize K: the K best and K worst samples (timeline, stills, overlay video, metrics);
                  samples recorded without masks are re-segmented by SAM2 from their recorded boxes
  submission.zip  MeViS with evaluation.mevis_submission=true: the online server's PNG layout

A rerun with the same --out resumes: samples already recorded are skipped. A failed sample (corrupt video, missing
ground truth, model error) is recorded with its reason and scored as the official scripts score a missing
prediction; the run goes on.

overrides (KEY=VALUE, YAML values):
  system2.*        System 2 (docs/config.md): checkpoints, grounding prompt style, SAM2 propagation, pool
  evaluation.*     this command: system1.engine (hf | vllm | auto), system1.max_new_tokens, clip_frames,
                   answer.max_keyframes, oracle_keyframes, refavs_size, mevis_submission, ...
  data.omni_r1.*   System-1 inputs: video_max_pixels, fps, prompt_forcing, ...

exit status: 0 done (failed samples are counted in the results), 2 bad command line or config

examples:
  omni-r1 eval --benchmark revos --split valid --data prepared/revos/valid.parquet --model ckpt/Omni-R1-7B \
      --out runs/revos_valid system2.sam2.checkpoint=ckpt/sam2.1_hiera_large.pt \
      system2.grounding.model_path=ckpt/Qwen2.5-Omni-7B
  omni-r1 eval --benchmark refavs --split test_s --data prepared/refavs/test_s.parquet --baseline oracle ...
  omni-r1 eval ... --workers 4 --system1-replicas 4        # Ray: every GPU of the node or cluster
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "eval"
HELP = "evaluate on a prepared ReVOS / MeViS / Ref-AVS / refCOCOg split with the official metrics"

#: Benchmarks and baselines (kept here so --help stays instant; checked against the package in tests).
BENCHMARKS = ("revos", "mevis", "refavs", "refcocog")
BASELINES = ("model", "zero-shot", "oracle", "oracle-box", "first-frame")
#: Override prefixes and the section each one sets.
SECTIONS = {"system2.": "system2", "evaluation.": "evaluation", "data.omni_r1.": "data"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument("--benchmark", choices=BENCHMARKS, required=True, help="benchmark conventions and table")
    parser.add_argument("--split", required=True, help="split name, for the report (e.g. valid, valid_u, test_s)")
    parser.add_argument(
        "--data", type=Path, required=True, help="the split's prepared rows: SPLIT.parquet of omni-r1 prepare"
    )
    parser.add_argument("--model", default="", help="System-1 checkpoint (thinker-only or full Qwen2.5-Omni)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; resumed when it has records)")
    parser.add_argument(
        "--baseline",
        choices=BASELINES,
        default="model",
        help="model: --model as System 1 (default); zero-shot: the same with the base Qwen2.5-Omni as --model; "
        "oracle: keyframes where the target is visible, original query; oracle-box: the same with ground-truth "
        "boxes (SAM2 alone); first-frame: System 2 alone on the first frame with the original query",
    )
    parser.add_argument("--save-masks", action="store_true", help="write predicted masks as COCO RLE under OUT/masks")
    parser.add_argument(
        "--visualize",
        type=int,
        default=0,
        metavar="K",
        help="then draw the K best and K worst samples as a gallery in OUT/gallery (implies --save-masks; on a "
        "finished run, rerun the same command with it)",
    )
    parser.add_argument(
        "--no-resume", dest="resume", action="store_false", help="start anew (default: skip recorded samples)"
    )
    parser.add_argument("--limit", type=int, default=0, help="evaluate the first N rows only (default: all)")
    parser.add_argument("--workers", type=int, default=1, help="System-2 workers (more than 1: Ray)")
    parser.add_argument("--system1-replicas", type=int, default=1, help="System-1 replicas (more than 1: Ray)")
    parser.add_argument("--ray", action="store_true", help="use Ray even with one worker (joins RAY_ADDRESS if set)")
    parser.add_argument("--device", default="auto", help="device without Ray: auto (default), cpu, cuda[:N]")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (see above)")


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``KEY=VALUE`` items -> nested dicts per section (values parsed as YAML).

    Raises:
        ValueError: On an item without ``=`` or with an unknown prefix.
    """
    import yaml

    out: dict[str, dict] = {name: {} for name in SECTIONS.values()}
    for item in items:
        key, sep, raw = item.partition("=")
        prefix = next((p for p in SECTIONS if key.startswith(p)), None)
        if not sep or prefix is None or key == prefix:
            raise ValueError(f"override {item!r}: expected KEY=VALUE with KEY under {', '.join(SECTIONS)}")
        node = out[SECTIONS[prefix]]
        parts = key[len(prefix) :].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(raw) if raw else ""
    return out


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and print where the results are.

    Args:
        args: Parsed arguments.

    Returns:
        Exit status (see the module docstring).
    """
    from omni_r1_verl.data.omni_data_config import OmniDataConfig
    from omni_r1_verl.detail.config import DetailConfig
    from omni_r1_verl.evaluation.config import EvalConfig
    from omni_r1_verl.evaluation.runner import EvalSettings, run_eval
    from omni_r1_verl.utils.config import ConfigError

    try:
        sections = parse_overrides(args.overrides)
        settings = EvalSettings(
            benchmark=args.benchmark,
            split=args.split,
            data=args.data,
            out=args.out,
            model=args.model,
            baseline=args.baseline,
            evaluation=EvalConfig.from_dict(sections["evaluation"]),
            system2=DetailConfig.from_dict(sections["system2"]),
            omni_data=OmniDataConfig.from_dict(sections["data"]),
            save_masks=args.save_masks or args.visualize > 0,
            resume=args.resume,
            limit=args.limit,
            workers=args.workers,
            system1_replicas=args.system1_replicas,
            use_ray=args.ray,
            progress=not args.no_progress,
            device=args.device,
        )
        if args.visualize < 0:
            raise ValueError(f"--visualize {args.visualize}: give a number of samples >= 1")
        if not args.data.is_file():
            raise ValueError(f"--data {args.data} is not a file (SPLIT.parquet of omni-r1 prepare)")
        settings.system2.check_paths()
    except (ConfigError, ValueError, FileNotFoundError) as err:
        print(f"omni-r1 eval: {err}", file=sys.stderr)
        return 2
    results = run_eval(settings)
    samples = results["samples"]
    print(f"{samples['total']} samples, {samples['scored']} scored, {len(results['failures'])} failed")
    print((args.out / "results.md").read_text())
    print(f"results: {args.out / 'results.json'}")
    if args.visualize:
        from omni_r1_verl.evaluation.gallery import VisualizeError, visualize_run

        try:
            page = visualize_run(settings, args.visualize, progress=settings.progress)
        except VisualizeError as err:
            print(f"omni-r1 eval: {err}", file=sys.stderr)
            return 2
        print(f"gallery: {page}")
    return 0
