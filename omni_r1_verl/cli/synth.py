"""Generate small synthetic datasets in the published layouts of ReVOS, MeViS, RefAVS and refCOCOg.

Moving shapes with exact masks (occlusion, objects entering and leaving), audio tones that identify the sounding
object (RefAVS), and referring expressions naming colour, shape, motion or sound. Seeded and offline: the same
command writes the same files. Convert them with `omni-r1 prepare`.

examples:
  omni-r1 synth all data/synthetic
  omni-r1 synth revos data/synthetic/revos --videos 8 --frames 16 40
  omni-r1 synth refavs data/refavs_real --metadata refavs_metadata.csv --max-videos 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "synth"
HELP = "generate small synthetic datasets in the four published layouts (tests, benchmarks, CPU demo)"

_NAMES = ("revos", "mevis", "refavs", "refcocog")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument("dataset", choices=(*_NAMES, "all"), help="layout to write (all: one folder per dataset)")
    parser.add_argument("out", type=Path, help="dataset root to create (for 'all': the parent folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument(
        "--videos",
        type=int,
        default=None,
        help="training videos (ReVOS/MeViS, default 4) or videos (RefAVS, default 10)",
    )
    parser.add_argument(
        "--frames",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(12, 40),
        help="frames per ReVOS/MeViS video (default: 12 40)",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        default=(96, 160),
        help="frame size (default: 96 160; refCOCOg images are H x H)",
    )
    parser.add_argument("--audio-seconds", type=float, default=10.0, help="RefAVS audio length (default: 10)")
    parser.add_argument("--images", type=int, default=16, help="refCOCOg images (default: 16)")
    parser.add_argument(
        "--metadata", type=Path, default=None, help="RefAVS: synthesise media for this metadata.csv instead"
    )
    parser.add_argument(
        "--max-videos", type=int, default=None, help="with --metadata: only the first N videos get media"
    )


def _write(name: str, out: Path, args: argparse.Namespace) -> Path:
    from omni_r1_verl.data import synthetic

    height, width = args.size
    if name in ("revos", "mevis"):
        videos = args.videos or 4
        return synthetic.SYNTHESIZERS[name](
            out,
            seed=args.seed,
            train_videos=videos,
            valid_videos=max(1, videos // 2),
            min_frames=args.frames[0],
            max_frames=args.frames[1],
            height=height,
            width=width,
        )
    if name == "refavs" and args.metadata is not None:
        root, chosen = synthetic.write_refavs_media(
            out,
            args.metadata,
            max_videos=args.max_videos,
            seed=args.seed,
            height=height,
            width=width,
            audio_seconds=args.audio_seconds,
        )
        print(f"  media synthesised for {len(chosen)} videos of {args.metadata}")
        return root
    if name == "refavs":
        return synthetic.write_refavs(
            out, seed=args.seed, videos=args.videos or 10, height=height, width=width, audio_seconds=args.audio_seconds
        )
    return synthetic.write_refcocog(out, seed=args.seed, images=args.images, size=height)


def run(args: argparse.Namespace) -> int:
    """Write the dataset(s).

    Args:
        args: Parsed arguments.

    Returns:
        Exit status.
    """
    if args.frames[0] < 1 or args.frames[1] < args.frames[0]:
        print("omni-r1 synth: --frames needs 1 <= MIN <= MAX")
        return 2
    names = _NAMES if args.dataset == "all" else (args.dataset,)
    for name in names:
        out = args.out / name if args.dataset == "all" else args.out
        print(f"{name}: {_write(name, out, args)}")
    return 0
