"""Convert a public dataset, in its published layout, into verl parquet rows plus a ground-truth mask store.

Writes, under OUT: SPLIT.parquet (rows for verl's data.train_files / data.val_files), SPLIT.gt/ (masks by key,
for datasets with masks), SPLIT.media/ (images extracted from refCOCOg), and SPLIT.report.json / .report.txt
(every problem found: missing or corrupt frames, masks and audio, RLE size and frame-count mismatches, empty
expressions, unknown splits, duplicate ids, paths escaping the root). Layouts: docs/data.md.

exit status:
  0  written; every skipped sample is listed in the report
  1  errors with --on-error fail (nothing written but the report), or no sample could be converted
  2  bad command line, or the dataset cannot be read at all (e.g. its metadata file is missing)

examples:
  omni-r1 prepare revos --root data/ReVOS --split train --out prepared/revos
  omni-r1 prepare refavs --root data/RefAVS --split train --out prepared/refavs --max-samples 1600
  omni-r1 prepare mevis --root data/mevis --split valid_u --out prepared/mevis --on-error fail
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "prepare"
HELP = "convert ReVOS / MeViS / RefAVS / refCOCOg into verl parquet rows, a mask store and a validation report"

#: Dataset names and their splits (kept here so --help stays instant; checked against the registry in tests).
DATASETS: dict[str, tuple[str, ...]] = {
    "revos": ("train", "valid"),
    "mevis": ("train", "valid_u"),
    "refavs": ("train", "val", "test_s", "test_u", "test_n"),
    "refcocog": ("train",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    splits = "; ".join(f"{d}: {', '.join(s)}" for d, s in DATASETS.items())
    parser.add_argument("dataset", choices=sorted(DATASETS), help="dataset layout to read")
    parser.add_argument("--root", type=Path, required=True, help="dataset root, as published")
    parser.add_argument("--split", required=True, help=f"split to convert ({splits})")
    parser.add_argument("--out", type=Path, required=True, help="output directory (created)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all usable CPUs)")
    parser.add_argument(
        "--on-error",
        choices=("skip", "fail"),
        default="skip",
        help="skip: write what converts and list the rest (default); fail: write nothing if anything is wrong",
    )
    parser.add_argument(
        "--verify-media",
        choices=("exists", "header", "full"),
        default="header",
        help="exists: files exist; header: headers parse (default); full: decode every frame and audio track",
    )
    parser.add_argument(
        "--max-samples", type=int, default=None, help="keep a deterministic seeded subset of this many samples"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --max-samples (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--unit-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="kill a worker stuck this long on one unit (a video, a chunk of images), retry the unit once, then skip "
        "it as worker_died (default: 1800; 0: no limit; not applied with --workers 1)",
    )


def run(args: argparse.Namespace) -> int:
    """Convert the split and print the summary.

    Args:
        args: Parsed arguments.

    Returns:
        Exit status (see the module docstring).
    """
    if args.split not in DATASETS[args.dataset]:
        print(f"omni-r1 prepare: {args.dataset} has splits {', '.join(DATASETS[args.dataset])}", file=sys.stderr)
        return 2
    from omni_r1_verl.data.prepare import PrepareConfig, default_workers, prepare

    try:
        config = PrepareConfig(
            dataset=args.dataset,
            root=args.root,
            split=args.split,
            out=args.out,
            workers=args.workers or default_workers(),
            on_error=args.on_error,
            verify_media=args.verify_media,
            max_samples=args.max_samples,
            seed=args.seed,
            progress=not args.no_progress,
            unit_timeout_s=args.unit_timeout or None,
        )
    except ValueError as err:
        print(f"omni-r1 prepare: {err}", file=sys.stderr)
        return 2
    result = prepare(config)
    print(result.report.summary())
    if result.exit_code == 0:
        print(f"rows:   {result.paths.parquet}")
    print(f"report: {result.paths.report_json}")
    return result.exit_code
