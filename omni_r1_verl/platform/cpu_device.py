"""The ``torch.cuda``-style device API of the CPU platform (what verl reaches through ``get_torch_device()``).

verl treats a platform's ``device_module`` like ``torch.cuda``: it synchronises, empties caches, seeds, reads memory
statistics and saves RNG state. :mod:`torch.cpu` provides the stream and synchronisation part; this module adds the
rest with CPU meanings:

* "device memory" is this process's resident memory (RSS); its peak is the process's peak RSS since start (Linux
  cannot reset it, so ``reset_peak_memory_stats`` is a no-op); the "total" is the host's RAM;
* caches, IPC handles and memory fractions do not exist on CPU, so those calls do nothing;
* the RNG is torch's CPU generator.

The module object itself is the platform's ``device_module``, so ``get_torch_device().memory_allocated()`` in
verl's memory logging returns real numbers instead of raising ``AttributeError`` as ``torch.cpu`` would.
"""

from __future__ import annotations

import platform as _platform
import resource
from typing import NamedTuple

import psutil
import torch
from torch.cpu import (  # noqa: F401  re-exported: the device module mirrors torch.cuda's names
    Event,
    Stream,
    StreamContext,
    current_device,
    current_stream,
    device_count,
    is_available,
    set_device,
    stream,
    synchronize,
)

_BYTES_PER_KIB = 1024


class DeviceProperties(NamedTuple):
    """What ``torch.cuda.get_device_properties`` reports, for the host CPU.

    Attributes:
        name: Processor name.
        total_memory: Host RAM in bytes.
    """

    name: str
    total_memory: int


def _rss() -> int:
    return psutil.Process().memory_info().rss


def _peak_rss() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _BYTES_PER_KIB


def memory_allocated(device: object = None) -> int:
    """Resident memory of this process in bytes (the CPU counterpart of allocated device memory)."""
    return _rss()


def memory_reserved(device: object = None) -> int:
    """Same as :func:`memory_allocated`: the CPU allocator keeps no separate reserve verl could release."""
    return _rss()


def max_memory_allocated(device: object = None) -> int:
    """Peak resident memory of this process since it started, in bytes."""
    return _peak_rss()


def max_memory_reserved(device: object = None) -> int:
    """Same as :func:`max_memory_allocated`."""
    return _peak_rss()


def mem_get_info(device: object = None) -> tuple[int, int]:
    """``(free, total)`` host memory in bytes, like ``torch.cuda.mem_get_info``."""
    memory = psutil.virtual_memory()
    return memory.available, memory.total


def memory_stats(device: object = None) -> dict[str, int]:
    """A small ``torch.cuda.memory_stats``-like dict with the counters above."""
    return {"allocated_bytes.all.current": _rss(), "allocated_bytes.all.peak": _peak_rss()}


def reset_peak_memory_stats(device: object = None) -> None:
    """No-op: the kernel's peak-RSS counter cannot be reset."""


def reset_accumulated_memory_stats(device: object = None) -> None:
    """No-op: there are no accumulated allocator statistics on CPU."""


def empty_cache() -> None:
    """No-op: the CPU allocator has no cache verl could release."""


def ipc_collect() -> None:
    """No-op: there are no CUDA IPC handles on CPU."""


def set_per_process_memory_fraction(fraction: float, device: object = None) -> None:
    """No-op: host memory is not partitioned per process."""


def get_device_name(device: object = None) -> str:
    """Processor name (verl's FLOPs table has no CPU entry, so MFU reads 0)."""
    return _platform.processor() or "CPU"


def get_device_properties(device: object = None) -> DeviceProperties:
    """Name and host RAM of the CPU."""
    return DeviceProperties(name=get_device_name(), total_memory=psutil.virtual_memory().total)


def manual_seed(seed: int) -> None:
    """Seed torch's CPU generator."""
    torch.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed torch's CPU generator (there is only one CPU "device")."""
    torch.manual_seed(seed)


def get_rng_state(device: object = None) -> torch.Tensor:
    """State of torch's CPU generator."""
    return torch.get_rng_state()


def set_rng_state(new_state: torch.Tensor, device: object = None) -> None:
    """Restore torch's CPU generator."""
    torch.set_rng_state(new_state)
