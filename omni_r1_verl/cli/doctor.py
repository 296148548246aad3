"""Check an omni-r1-verl install: versions, the verl plugin (here and inside a fresh Ray worker), GPUs, decoders,
and, given Hydra overrides, the checkpoints and data files that config points to.

Exits non-zero when an error-level check fails; each failure prints a one-line fix. The Ray worker runs on the
cluster this machine's drivers join (RAY_ADDRESS, or the head of the latest `ray start`), else on a throw-away local
cluster; RAY_ADDRESS=local checks on a local cluster beside a running one.

examples:
  omni-r1 doctor
  omni-r1 doctor +recipe=omni_r1 actor_rollout_ref.model.path=/ckpt/Qwen2.5-Omni-7B data.train_files=/data/revos.parquet
"""

from __future__ import annotations

import argparse

NAME = "doctor"
HELP = "check the install (versions, verl plugin, Ray, GPUs, decoders) and the checkpoints a config points to"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides of verl's ppo_trainer config, e.g. +recipe=omni_r1 key=value"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the check inside a fresh Ray worker")


def run(args: argparse.Namespace) -> int:
    """Run the checks and print a report.

    Args:
        args: Parsed arguments.

    Returns:
        1 when an error-level check failed, else 0.
    """
    from omni_r1_verl.doctor import run_all

    checks = run_all(args.overrides, with_ray=not args.no_ray)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.severity == "error" else "warn")
        print(f"[{mark}] {check.name:<{width}}  {check.detail}")
        if not check.ok and check.fix:
            print(f"       {'':<{width}}  fix: {check.fix}")
    failed = [c for c in checks if c.failed]
    print(f"\n{len(failed)} problem(s) found" if failed else "\nall checks passed")
    return 1 if failed else 0
