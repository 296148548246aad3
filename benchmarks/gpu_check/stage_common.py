"""What every stage shares: the stage record type, device synchronisation and peak-memory reporting."""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.gpu_check.report import Record, result


@dataclass(frozen=True)
class Stage:
    """A stage of the check.

    Attributes:
        name: Stage name (``--only`` selects by it).
        requirements: ``gpu -> missing pieces`` (empty: it can run).
        run: ``(gpu, workdir) -> records``.
    """

    name: str
    requirements: Callable[[bool], list[str]]
    run: Callable[[bool, Path], Iterator[Record]]


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window (GPU only; host RSS peaks cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(stage: str, device: torch.device, name: str = "peak_mem") -> Record:
    """Peak GPU memory allocated since the last reset, or on the CPU the process's peak RSS."""
    if device.type == "cuda":
        return result(stage, f"{name}_gib", torch.cuda.max_memory_allocated(device) / 2**30, "GiB")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result(stage, f"{name}_rss_gib", kib / 2**20 if sys.platform != "darwin" else kib / 2**30, "GiB")
