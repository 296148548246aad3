"""Launch a CPU ``main_ppo`` run and read back what verl printed: the harness of the e2e test and the benchmark.

:func:`run_command` runs a ``python -m verl.trainer.main_ppo ...`` command line (e.g. the one of ``omni-r1 demo``,
:func:`omni_r1_verl.demo.demo_overrides`) in a subprocess on the CPU platform (``VERL_PLATFORM=cpu``), samples the
memory of its whole process tree (driver, Ray daemons, every actor) and parses verl's console metrics per step.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import psutil

from omni_r1_verl.platform import CPU_PLATFORM_ENV

_STEP = re.compile(r"step:(\d+) - (.*)$")
_NUMBER = re.compile(r"^(?:np\.\w+\()?([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))\)?$")


@dataclass
class RunResult:
    """What a run did.

    Attributes:
        returncode: Exit status of ``main_ppo``.
        wall_s: Wall time of the whole command (Ray start and shutdown included).
        metrics: verl's console metrics by training step.
        log: Combined stdout and stderr.
        peak_pss_bytes: Peak of the summed proportional set size (PSS: shared pages split between the processes
            that map them) of the run's process tree: the memory the run really occupies.
        peak_rss_bytes: Peak of the summed resident memory of the run's process tree (shared pages counted once
            per process, so an upper bound).
        peak_processes: Most processes alive at once in the tree.
        peak_breakdown: ``(process, PSS bytes)`` of every process at the PSS peak, largest first; the process is
            named by its command line (Ray workers by their actor title, e.g. ``ray::WorkerDict``).
    """

    returncode: int
    wall_s: float
    metrics: dict[int, dict[str, float]]
    log: str
    peak_rss_bytes: int = 0
    peak_pss_bytes: int = 0
    peak_processes: int = 0
    steps: list[int] = field(default_factory=list)
    peak_breakdown: list[tuple[str, int]] = field(default_factory=list)

    def metric(self, step: int, key: str) -> float:
        """One metric of one step.

        Raises:
            KeyError: With the available keys when the metric is missing.
        """
        values = self.metrics.get(step, {})
        if key not in values:
            raise KeyError(
                f"no metric {key!r} at step {step}; steps {sorted(self.metrics)}, keys {sorted(values)[:20]}"
            )
        return values[key]


def parse_console_metrics(text: str) -> dict[int, dict[str, float]]:
    """Parse the ``step:N - key:value - ...`` lines of verl's console logger.

    Args:
        text: Output of a run (Ray's ``(Actor pid=...)`` prefixes are fine).

    Returns:
        Numeric metrics by step; non-numeric values are skipped.
    """
    metrics: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        match = _STEP.search(line)
        if match is None:
            continue
        step = metrics.setdefault(int(match.group(1)), {})
        for item in match.group(2).split(" - "):
            key, sep, value = item.partition(":")
            number = _NUMBER.match(value.strip()) if sep else None
            if number is not None:
                step[key.strip()] = float(number.group(1))
    return metrics


class _TreeMemorySampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval_s: float = 0.5):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.peak_breakdown: list[tuple[str, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = pss = 0
            breakdown = []
            for process in processes:
                try:
                    info = process.memory_full_info()  # PSS comes from /proc/<pid>/smaps_rollup on Linux
                    total += info.rss
                    pss += getattr(info, "pss", info.rss)
                    breakdown.append((_label(process), getattr(info, "pss", info.rss)))
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, total)
            if pss > self.peak_pss:
                self.peak_pss = pss
                self.peak_breakdown = sorted(breakdown, key=lambda item: -item[1])
            self.peak_processes = max(self.peak_processes, len(processes))
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _label(process: psutil.Process) -> str:
    """A short name for a process: its command line (Ray sets actor titles such as ``ray::WorkerDict`` there)."""
    try:
        cmdline = process.cmdline()
    except psutil.Error:
        cmdline = []
    if not cmdline:
        return process.name()
    head = Path(cmdline[0]).name if "/" in cmdline[0] else cmdline[0]
    return " ".join([head, *cmdline[1:3]])[:80]


def _kill_tree(pid: int) -> None:
    """Kill a process and every descendant (Ray daemons may leave the process group)."""
    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=30)


def run_command(
    command: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    env: Optional[Mapping[str, str]] = None,
    timeout_s: Optional[float] = None,
    log_path: Optional[Path] = None,
) -> RunResult:
    """Run a ``main_ppo`` command line and collect its metrics and memory.

    Args:
        command: The full command (e.g. :meth:`CpuRunSpec.command`, or ``omni-r1 demo``'s).
        cwd: Working directory (verl writes ``outputs/`` there); defaults to the current one.
        env: Environment of the run; defaults to this process's. ``VERL_PLATFORM=cpu`` is added (the driver
            resolves verl's platform when it starts; Ray's workers inherit it).
        timeout_s: Kill the run's process tree after this many seconds (``returncode`` is then negative).
        log_path: Also write the output here.

    Returns:
        The result; a failed run is returned, not raised, so callers can show its log.
    """
    env = {**(os.environ if env is None else env), **CPU_PLATFORM_ENV}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    sampler = _TreeMemorySampler(proc.pid)
    sampler.start()
    try:
        log, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        log, _ = proc.communicate()
        log += f"\n[cpu_run] killed after {timeout_s} s\n"
    finally:
        sampler.stop()
    wall = time.perf_counter() - start
    if log_path is not None:
        Path(log_path).write_text(log)
    metrics = parse_console_metrics(log)
    return RunResult(
        returncode=proc.returncode,
        wall_s=wall,
        metrics=metrics,
        log=log,
        peak_rss_bytes=sampler.peak_rss,
        peak_pss_bytes=sampler.peak_pss,
        peak_processes=sampler.peak_processes,
        peak_breakdown=sampler.peak_breakdown,
        steps=sorted(metrics),
    )


def summarize(result: RunResult, keys: Sequence[str]) -> str:
    """A small per-step table of selected metrics.

    Args:
        result: A run.
        keys: Metric names (missing ones print as ``-``).

    Returns:
        The table as text.
    """
    lines = ["step " + " ".join(f"{key:>28}" for key in keys)]
    for step in result.steps:
        values = result.metrics[step]
        cells = []
        for key in keys:
            value = values.get(key, math.nan)
            cells.append(f"{value:>28.6g}" if not math.isnan(value) else f"{'-':>28}")
        lines.append(f"{step:>4} " + " ".join(cells))
    return "\n".join(lines)
