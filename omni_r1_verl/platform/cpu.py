"""The ``cpu`` platform for verl: device ``cpu``, collectives on gloo, fake Ray GPUs as scheduling slots.

verl resolves one platform per process (``verl.plugin.platform.get_platform``): ``VERL_PLATFORM`` when set, else
the first registered platform whose ``is_platform_available(use_smi_check=True)`` holds, else ``nvidia``. This
platform is registered after verl's built-ins, so auto-detection only reaches it when no NVIDIA, Ascend or AMD
accelerator answered, and it then claims the process only if the host has no accelerator device at all (instead of
verl's fallback to a CUDA platform that cannot work there). Recipes select it explicitly: the ``cpu_tiny`` platform
config sets ``VERL_PLATFORM=cpu`` for every Ray process through the job's runtime environment, so a run on a
machine that does have a GPU still trains on CPU when asked to.

verl's resource pools insist on Ray ``GPU`` resources, so the CPU platform keeps ``GPU`` as its Ray resource name
and the recipe declares logical GPUs (``ray_kwargs.ray_init.num_gpus``): each one is a scheduling slot for one
FSDP rank, not a device.
"""

from __future__ import annotations

import glob
import os
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from omni_r1_verl.platform import cpu_device

#: Name of the platform in verl's registry and the value of ``VERL_PLATFORM`` that selects it.
PLATFORM_NAME = "cpu"

#: Device nodes whose presence means the host has an accelerator (NVIDIA, AMD ROCm, Ascend). They exist even in
#: Ray actors that were given no GPU, unlike ``torch.cuda.is_available()``.
ACCELERATOR_DEVICE_GLOBS: tuple[str, ...] = ("/dev/nvidia[0-9]*", "/dev/kfd", "/dev/davinci[0-9]*")


def host_has_accelerator() -> bool:
    """Whether the host has an accelerator device, whether or not this process may use it.

    Returns:
        True when a CUDA device is visible to torch or an accelerator device node exists.
    """
    if torch.cuda.is_available():
        return True
    return any(glob.glob(pattern) for pattern in ACCELERATOR_DEVICE_GLOBS)


def cpu_platform_selected() -> bool:
    """Whether verl will resolve the CPU platform in this process (same rule as verl's detection).

    Returns:
        True when ``VERL_PLATFORM=cpu``, or when ``VERL_PLATFORM`` is unset and the host has no accelerator.
    """
    requested = os.environ.get("VERL_PLATFORM", "").strip().lower()
    if requested:
        return requested == PLATFORM_NAME
    return not host_has_accelerator()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """verl platform for hosts without accelerators: torch CPU tensors, gloo collectives, no device memory."""

    @property
    def device_name(self) -> str:
        """Torch device type."""
        return "cpu"

    @property
    def vendor_name(self) -> str:
        """Vendor key of verl's engine registry."""
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        """The ``torch.cuda``-style API for CPU (:mod:`omni_r1_verl.platform.cpu_device`)."""
        return cpu_device

    def is_available(self) -> bool:
        """A CPU is always usable."""
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        """Auto-detection: claim only hosts without any accelerator (see the module docstring)."""
        return not host_has_accelerator()

    def current_device(self) -> str:
        """The device verl moves tensors to (``torch.device(get_device_id())``): ``"cpu"``, not an index."""
        return "cpu"

    def device_count(self) -> int:
        """One CPU device per process."""
        return 1

    def set_device(self, device_index: int) -> None:
        """No-op: there is one CPU device."""

    def synchronize(self, device_index: Optional[int] = None) -> None:
        """No-op: CPU kernels run synchronously."""

    def manual_seed(self, seed: int) -> None:
        """Seed torch's CPU generator."""
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        """Seed torch's CPU generator."""
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        """No-op: CUDA allocator settings (expandable segments) do not apply."""

    def empty_cache(self) -> None:
        """No-op: there is no device cache."""

    def get_device_capability(self, device_index: int = 0) -> tuple[Optional[int], Optional[int]]:
        """No compute capability on CPU."""
        return None, None

    def communication_backend_name(self) -> str:
        """torch.distributed backend for CPU tensors."""
        return "gloo"

    def visible_devices_envvar(self) -> str:
        """Ray sets ``CUDA_VISIBLE_DEVICES`` for the logical GPUs; it is harmless on CPU."""
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        """No profiler ranges on CPU."""
        yield

    def profiler_start(self) -> None:
        """No device profiler on CPU."""

    def profiler_stop(self) -> None:
        """No device profiler on CPU."""

    def ray_resource_name(self) -> str:
        """verl's pools request Ray ``GPU`` resources; on CPU they are logical slots (``ray_init.num_gpus``)."""
        return "GPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        """Actor options for ``num_gpus`` logical slots."""
        return {"num_gpus": num_gpus}

    def ray_noset_envvars(self) -> list[str]:
        """Nothing to keep Ray from setting."""
        return []

    def is_ipc_supported(self) -> bool:
        """No CUDA IPC on CPU."""
        return False

    def cudart(self) -> Any:
        """No CUDA runtime."""
        return None
