"""The ``cpu`` platform for verl: device ``cpu``, collectives on gloo, fake Ray GPUs as scheduling slots.

verl resolves one platform per process (``verl.plugin.platform.get_platform``): ``VERL_PLATFORM`` when set, else
the first registered platform whose ``is_platform_available(use_smi_check=True)`` holds, else ``nvidia``. This
platform never answers that probe, so registering it changes no process that did not ask for it: a run selects it
with ``VERL_PLATFORM=cpu`` (:data:`omni_r1_verl.platform.CPU_PLATFORM_ENV`), which ``omni-r1 demo`` sets for the
``main_ppo`` driver and the ``cpu_tiny`` platform config sets for every Ray process through the job's runtime
environment. A run on a machine that does have a GPU therefore still trains on CPU when asked to. Like verl's own
platforms, it registers itself when this module is imported (by our plugin's
:func:`omni_r1_verl.platform.register.register`).

verl's resource pools insist on Ray ``GPU`` resources, so the CPU platform keeps ``GPU`` as its Ray resource name
and the recipe declares logical GPUs (``ray_kwargs.ray_init.num_gpus``): each one is a scheduling slot for one
FSDP rank, not a device.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from omni_r1_verl.platform import PLATFORM_NAME, cpu_device

logger = logging.getLogger(__name__)


class PlatformCPU(PlatformBase):
    """verl platform for CPU-only runs: torch CPU tensors, gloo collectives, no device memory (opt-in)."""

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
        """Never claims a host in verl's auto-detection: the platform is chosen only by ``VERL_PLATFORM=cpu``."""
        return False

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


# Registered at the end of the import, like verl's own platforms, so that the class exists even when this module's
# import is what started verl's (and so our plugin's) import. A name another plugin registered first is kept.
if PlatformRegistry.get(PLATFORM_NAME) is None:
    PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
elif PlatformRegistry.get(PLATFORM_NAME) is not PlatformCPU:
    logger.warning("verl platform %r is already registered; omni-r1-verl's is not", PLATFORM_NAME)
