"""Train the tiny Qwen2.5-Omni thinker for a few GRPO steps on CPU: the whole recipe, no GPU, no downloads.

Builds (once) tiny random checkpoints and small synthetic Ref-AVS (frame + audio) and ReVOS (video) datasets under
OUT_DIR, then runs verl's own trainer on them:

  VERL_PLATFORM=cpu python -m verl.trainer.main_ppo +recipe=omni_r1 +recipe/platform=cpu_tiny \\
      actor_rollout_ref.model.path=... data.train_files=[...] ... [OVERRIDES]

Anything after OUT_DIR is passed to main_ppo as a Hydra override and wins over the demo's values.

Output: main_ppo's whole output (stdout and stderr, about a thousand lines of Ray and verl) goes to
OUT_DIR/logs/main_ppo-YYYYmmdd-HHMMSS.log; the terminal shows one line per finished training step
(`step 3/20  score 0.41  parsed 55%  12.3 s/step  ETA 2m10s`), tracebacks, error lines and omni-r1's own lines.
At the end it prints a table, one row per step and one for the latest validation: the score, each reward term,
the share of parseable answers, System-2 calls and failures, the step time; then where the checkpoints
(OUT_DIR/checkpoints), the log and the rollout gallery (when there is one) are. When main_ppo fails it prints the
last 40 lines of the log instead and exits with main_ppo's status. --verbose shows the whole output as it comes.

Ray: with RAY_ADDRESS set, or a `ray start` head running on this machine, the run attaches to that cluster (the
platform's cluster sizes are dropped; the cluster must offer the 16 logical CPUs and 1 logical GPU the platform
declares, e.g. `ray start --head --num-cpus=16 --num-gpus=1`). RAY_ADDRESS=local runs it on a cluster of its own
beside a running one.

examples:
  omni-r1 demo /tmp/omni-r1-demo
  omni-r1 demo /tmp/omni-r1-demo --steps 3 actor_rollout_ref.rollout.n=4
  omni-r1 demo /tmp/omni-r1-demo --print-command
  omni-r1 demo /tmp/omni-r1-demo --verbose
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from omni_r1_verl.demo_report import (
    Kind,
    LineFilter,
    RunMetrics,
    clean,
    format_duration,
    noise_reason,
    parse_metric_line,
    progress_line,
    render_table,
    validation_line,
)

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
    parser.add_argument(
        "--verbose",
        dest="full_output",
        action="store_true",
        help="show main_ppo's whole output as it comes (it always goes to OUT_DIR/logs/ too)",
    )


def run(args: argparse.Namespace) -> int:
    """Prepare the inputs and run ``main_ppo`` in a subprocess, its output logged and summarised.

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
    return run_and_report(
        command,
        cwd=paths.root,
        env=env,
        root=paths.root,
        checkpoints=_checkpoints(paths.root, overrides),
        total_steps=_total_steps(overrides),
        verbose=args.full_output,
    )


#: Lines of the log printed when ``main_ppo`` fails (known noise left out).
TAIL_LINES = 40


def _last_override(overrides: Sequence[str], key: str) -> str | None:
    values = [item.split("=", 1)[1] for item in overrides if item.split("=", 1)[0].lstrip("+~") == key]
    return values[-1] if values else None


def _total_steps(overrides: Sequence[str]) -> int | None:
    value = _last_override(overrides, "trainer.total_training_steps")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _checkpoints(root: Path, overrides: Sequence[str]) -> Path:
    value = _last_override(overrides, "trainer.default_local_dir")
    return root / (value if value else "checkpoints")


def log_path(root: Path, now: datetime.datetime | None = None) -> Path:
    """``root/logs/main_ppo-YYYYmmdd-HHMMSS.log`` (``-2``, ``-3``... when a run of the same second has one).

    Args:
        root: The demo directory.
        now: The time in the name; the current time when omitted.

    Returns:
        A path that does not exist yet (its folder is created).
    """
    folder = Path(root) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"main_ppo-{(now or datetime.datetime.now()):%Y%m%d-%H%M%S}"
    path, n = folder / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.log"
    return path


def gallery_path(root: Path, checkpoints: Path) -> Path | None:
    """The rollout gallery folder of a run, if it wrote one (under the checkpoints folder or the demo directory).

    Args:
        root: The demo directory.
        checkpoints: ``trainer.default_local_dir``.

    Returns:
        The folder, or ``None``.
    """
    for base in (checkpoints, root):
        for name in ("rollout_gallery", "gallery"):
            if (base / name).is_dir():
                return base / name
    return None


def stream(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    log: Path,
    total_steps: int | None,
    verbose: bool,
    out: TextIO,
) -> tuple[int, RunMetrics, list[str]]:
    """Run a command, its stdout and stderr written to ``log``, a filtered live view (or everything) to ``out``.

    Args:
        command: The command line.
        cwd: Its working directory.
        env: Its environment (``None``: this process's).
        log: The log file (written as the output comes).
        total_steps: The run's last step, for the progress line's ETA.
        verbose: Show every line instead of the filtered view.
        out: The terminal.

    Returns:
        ``(exit status, verl's metrics, the last TAIL_LINES lines that are not known noise)``.
    """
    metrics, lines = RunMetrics(), LineFilter()
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for raw in proc.stdout:
                sink.write(raw)
                sink.flush()
                text = raw.decode("utf-8", errors="replace")
                _show(text, metrics, lines, total_steps, verbose, out)
                if noise_reason(text) is None:
                    tail.append(clean(text))
        except KeyboardInterrupt:  # the child got the Ctrl-C too: keep what it prints while it stops
            sink.write(proc.stdout.read())
        finally:
            proc.stdout.close()
            returncode = proc.wait()
    return returncode, metrics, list(tail)


def _show(text: str, metrics: RunMetrics, lines: LineFilter, total: int | None, verbose: bool, out: TextIO) -> None:
    """Record a line's metrics and print what the terminal shows of it."""
    kind = lines.classify(text)
    shown: list[str] = []
    if kind is Kind.METRICS:
        step, values = parse_metric_line(text)
        validated = metrics.validation_step
        if metrics.add(step, values):
            shown.append(progress_line(metrics, step, total))
        if metrics.validation_step is not None and metrics.validation_step != validated:
            shown.append(validation_line(metrics))
    elif kind is Kind.KEEP:
        shown.append(clean(text))
    if verbose:
        shown = [text.rstrip("\r\n")]
    for line in shown:
        print(line, file=out, flush=True)


def run_and_report(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    root: Path,
    checkpoints: Path,
    total_steps: int | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run ``main_ppo`` (:func:`stream`), then print the table and where things are, or the log's tail on failure.

    Args:
        command: The ``main_ppo`` command line.
        cwd: Its working directory.
        env: Its environment (``None``: this process's).
        root: The demo directory (the log goes to ``root/logs/``).
        checkpoints: ``trainer.default_local_dir``.
        total_steps: ``trainer.total_training_steps``, for the ETA.
        verbose: Show the whole output as it comes.
        out: Where to print; ``sys.stdout`` when omitted.

    Returns:
        The command's exit status.
    """
    out = out or sys.stdout
    log = log_path(root)
    steps = f" for {total_steps} steps" if total_steps is not None else ""
    where = "" if verbose else " (--verbose shows it here too); a line per finished step follows"
    print(f"omni-r1 demo: running main_ppo{steps}; its output goes to {log}{where}", file=out, flush=True)
    start = time.monotonic()
    returncode, metrics, tail = stream(
        command, cwd=cwd, env=env, log=log, total_steps=total_steps, verbose=verbose, out=out
    )
    took = format_duration(time.monotonic() - start)
    if returncode != 0:
        print(f"omni-r1 demo: main_ppo failed (exit status {returncode}) after {took}", file=out)
        if not verbose:
            print(f"omni-r1 demo: the last {len(tail)} lines of the log (known noise left out):", file=out)
            print("\n".join(tail), file=out)
        print(f"log:         {log}", file=out, flush=True)
        return returncode
    print(f"omni-r1 demo: main_ppo finished in {took}", file=out)
    print(render_table(metrics), file=out)
    print(f"checkpoints: {checkpoints}", file=out)
    print(f"log:         {log}", file=out)
    gallery = gallery_path(root, checkpoints)
    if gallery is not None:
        print(f"gallery:     {gallery}", file=out)
    out.flush()
    return returncode
