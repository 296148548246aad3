"""Train the tiny Qwen2.5-Omni thinker for a few GRPO steps on CPU: the whole recipe, no GPU, no downloads.

Builds (once) tiny random checkpoints and small synthetic Ref-AVS (frame + audio) and ReVOS (video) datasets under
OUT_DIR, then runs verl's own trainer on them:

  VERL_PLATFORM=cpu python -m verl.trainer.main_ppo +recipe=omni_r1 +recipe/platform=cpu_tiny \\
      actor_rollout_ref.model.path=... data.train_files=[...] ... [OVERRIDES]

Anything after OUT_DIR is passed to main_ppo as a Hydra override and wins over the demo's values.

Ray: with RAY_ADDRESS set, or a `ray start` head running on this machine, the run attaches to that cluster (the
platform's cluster sizes are dropped; the cluster must offer the 16 logical CPUs and 1 logical GPU the platform
declares, e.g. `ray start --head --num-cpus=16 --num-gpus=1`). RAY_ADDRESS=local runs it on a cluster of its own
beside a running one.

examples:
  omni-r1 demo /tmp/omni-r1-demo
  omni-r1 demo /tmp/omni-r1-demo --steps 3 actor_rollout_ref.rollout.n=4
  omni-r1 demo /tmp/omni-r1-demo --print-command
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

NAME = "demo"
HELP = "train the tiny Omni thinker for 2 GRPO steps on CPU with synthetic omnimodal data (verl main_ppo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument("out_dir", help="directory for tiny assets, synthetic data, checkpoints (created, reused)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for main_ppo (applied last)")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps (default: 2)")
    parser.add_argument(
        "--trainer",
        choices=("v1", "legacy"),
        default="v1",
        help="verl trainer: v1 (default, TransferQueue) or legacy (trainer.use_v1=false)",
    )
    parser.add_argument("--tiny-dir", default=None, help="reuse an `omni-r1 make-tiny` directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tiny models and data (default: 0)")
    parser.add_argument("--print-command", action="store_true", help="prepare, print the main_ppo command, exit")


def run(args: argparse.Namespace) -> int:
    """Prepare the inputs and run ``main_ppo`` in a subprocess, streaming its output.

    Args:
        args: Parsed arguments.

    Returns:
        ``main_ppo``'s exit status.
    """
    from omni_r1_verl.demo import cluster_problem, demo_overrides, prepare_demo
    from omni_r1_verl.platform import CPU_PLATFORM_ENV
    from omni_r1_verl.ray_cluster import attach_address

    if args.steps < 1:
        print("omni-r1 demo: --steps must be >= 1", file=sys.stderr)
        return 2
    paths = prepare_demo(args.out_dir, seed=args.seed, tiny_dir=args.tiny_dir)
    address = attach_address()
    run_kwargs = {"steps": args.steps, "use_v1": args.trainer == "v1"}
    overrides = demo_overrides(paths, **run_kwargs, attach=address is not None) + list(args.overrides)
    if address is not None:
        print(
            f"omni-r1 demo: attaching to the Ray cluster at {address} (RAY_ADDRESS or the latest `ray start` head); "
            "RAY_ADDRESS=local runs the demo on a cluster of its own instead",
            flush=True,
        )
        sized = demo_overrides(paths, **run_kwargs) + list(args.overrides)
        problem = None if args.print_command else cluster_problem(address, sized)
        if problem:
            print(f"omni-r1 demo: {problem}", file=sys.stderr)
            return 2
    command = [sys.executable, "-m", "verl.trainer.main_ppo", *overrides]
    selection = [f"{key}={value}" for key, value in CPU_PLATFORM_ENV.items()]
    print("$ " + shlex.join([*selection, *command]), flush=True)
    if args.print_command:
        return 0
    # The cpu platform is opt-in: the driver resolves verl's platform on import, before Hydra reads the config.
    env = {**os.environ, **CPU_PLATFORM_ENV}
    env.setdefault("HF_HUB_OFFLINE", "1")
    # verl writes Hydra's outputs/ into the working directory: keep them with the demo.
    return subprocess.call(command, cwd=paths.root, env=env)
