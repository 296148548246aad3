"""Build tiny random checkpoints with the real architectures, offline and deterministically.

Writes OUT_DIR/qwen2_5_omni_thinker (Qwen2.5-Omni thinker + processor with the real Qwen BPE tokenizer),
OUT_DIR/sam2 (SAM2.1 config + checkpoint for the `sam2` package), OUT_DIR/sam2_hf (transformers Sam2VideoModel),
OUT_DIR/sam3 (transformers Sam3VideoModel + processor, the layout of facebook/sam3) and OUT_DIR/manifest.json.
Then it warm-starts two copies of the thinker with a short, seeded supervised pass on synthetic data (2-3
minutes on 2 CPU cores): OUT_DIR/policy_warm on System-1 answers in the recipe's schema (so that sampled answers often
parse) and OUT_DIR/grounder_warm on box answers (the demo's System-2 grounding model). Nothing is downloaded.

example:
  omni-r1 make-tiny ~/.cache/omni-r1/tiny
"""

from __future__ import annotations

import argparse
import importlib.util
import time

NAME = "make-tiny"
HELP = "build tiny random Qwen2.5-Omni thinker, SAM2 and SAM 3 checkpoints offline (for CPU tests and the demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument("out_dir", help="output directory (created)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random initialisation (default: 0)")
    parser.add_argument(
        "--no-sam2-package",
        action="store_true",
        help="skip the checkpoint for the `sam2` package (built automatically only when `sam2` is installed)",
    )
    parser.add_argument(
        "--no-warm-start",
        action="store_true",
        help="only the random models: skip the warm-started policy_warm/ and grounder_warm/ (saves 2-3 minutes)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the assets and print where they are.

    Args:
        args: Parsed arguments.

    Returns:
        Exit status.
    """
    from omni_r1_verl.models.tiny import make_tiny
    from omni_r1_verl.models.warm_start import add_warm_start

    with_sam2 = not args.no_sam2_package and importlib.util.find_spec("sam2") is not None
    start = time.perf_counter()
    assets = make_tiny(args.out_dir, seed=args.seed, with_sam2_package=with_sam2)
    if not args.no_warm_start:
        assets = add_warm_start(assets)
    print(f"tiny assets written to {assets.root} in {time.perf_counter() - start:.1f} s")
    print(f"  thinker     {assets.thinker}")
    if with_sam2:
        print(f"  sam2        {assets.sam2_config}")
        print(f"              {assets.sam2_checkpoint}")
    print(f"  sam2 (hf)   {assets.sam2_hf}")
    for name, path in assets.extra.items():
        print(f"  {name:<11} {path}")
    return 0
