"""What verl looks like in a fresh interpreter, with or without our plugin: platform, registries, wrapped functions.

:func:`probe` runs :data:`PROBE` in a subprocess (``VERL_USE_EXTERNAL_PLUGINS`` chooses whether verl loads the
plugin) and returns its JSON report, cached per environment for the test session (each probe imports most of verl);
:func:`prefetch` runs several at once.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

#: Runs in the probed interpreter; prints one JSON object.
PROBE = r"""
import json, sys

def name(obj):
    target = getattr(obj, "target", None)  # omni-r1-verl's LazyClass stands for the class it names
    if isinstance(target, str):
        return target
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"

def code_file(function):
    return function.__code__.co_filename.replace("\\", "/")

import verl
report = {"modules_after_import_verl": sorted(sys.modules)}

from verl.plugin.platform import PlatformRegistry
from verl.plugin.platform.platform_manager import _detect_platform_name
from verl.utils.device import get_device_name, get_nccl_backend
import verl.utils.distributed as distributed

report["platform"] = {
    "detected": _detect_platform_name(),
    "device_name": get_device_name(),
    "process_group_backend": get_nccl_backend(),
    "init_process_group_defined_in": code_file(distributed.initialize_global_process_group_ray),
    "registered": list(PlatformRegistry.registered_names()),
}
if "--platform-only" in sys.argv:
    print("PROBE-JSON " + json.dumps(report))
    sys.exit(0)

from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
from verl.workers.engine.base import EngineRegistry
from verl.workers.rollout.base import _ROLLOUT_REGISTRY
from verl.workers.rollout.replica import RolloutReplicaRegistry
import verl.models.transformers.monkey_patch, verl.trainer.ppo.utils, verl.utils.model, verl.workers.config.model
import verl.workers.rollout.utils

def registries():
    engines = {
        f"{model_type}/{backend}/{device}": name(cls)
        for model_type, backends in EngineRegistry._engines.items()
        for backend, devices in backends.items()
        for device, cls in devices.items()
    }
    return {
        "platforms": {key: name(cls) for key, cls in PlatformRegistry._platforms.items()},
        "reward_managers": {key: name(cls) for key, cls in REWARD_MANAGER.items()},
        "agent_loops": {key: str(dict(value)) for key, value in _agent_loop_registry.items()},
        "rollout_classes": {"/".join(key): value for key, value in _ROLLOUT_REGISTRY.items()},
        "rollout_replicas": {key: name(loader) for key, loader in RolloutReplicaRegistry._registry.items()},
        "engines": engines,
    }

report["registries"] = registries()
report["functions_defined_in"] = {
    f"{module}.{attr}": code_file(getattr(sys.modules[module], attr))
    for module, attr in [
        ("verl.utils.tokenizer.tokenizer", "hf_processor"),
        ("verl.utils", "hf_processor"),
        ("verl.workers.config.model", "hf_processor"),
        ("verl.utils.model", "get_hf_auto_model_class"),
        ("verl.workers.rollout.utils", "qwen2_5_vl_dedup_image_tokens"),
        ("verl.trainer.ppo.utils", "create_rl_sampler"),
        ("verl.models.transformers.monkey_patch", "patch_forward_with_backends"),
    ]
}
report["modules_after_registries"] = sorted(sys.modules)

if "--use-our-names" in sys.argv:
    # What a run that uses our names imports: each class then registers itself.
    import omni_r1_verl.reward.manager, omni_r1_verl.rollout.agent_loop
    report["registries_after_use"] = registries()
    report["reward_manager_is_the_class"] = (
        REWARD_MANAGER["omni_r1"] is omni_r1_verl.reward.manager.OmniR1RewardManager
    )

print("PROBE-JSON " + json.dumps(report))
"""


def probe(plugin: bool, verl_platform: Optional[str] = None, *, platform_only: bool = False) -> dict[str, Any]:
    """verl's state in a fresh interpreter.

    Args:
        plugin: Whether verl loads our plugin (``VERL_USE_EXTERNAL_PLUGINS=omni_r1_verl`` vs ``none``).
        verl_platform: ``VERL_PLATFORM`` of the interpreter; None leaves it unset.
        platform_only: Report ``import verl`` and the platform only (a few seconds instead of most of verl).

    Returns:
        The report (see :data:`PROBE`).
    """
    return _probe(plugin, verl_platform, platform_only)


@functools.cache  # keyed on all three arguments, however the caller spelled them
def _probe(plugin: bool, verl_platform: Optional[str], platform_only: bool) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "VERL_PLATFORM"}
    env["VERL_USE_EXTERNAL_PLUGINS"] = "omni_r1_verl" if plugin else "none"
    if verl_platform is not None:
        env["VERL_PLATFORM"] = verl_platform
    # With the plugin and no platform asked for, the probe also imports our reward manager and agent loop.
    flags = ["--platform-only"] if platform_only else ["--use-our-names"] if plugin and verl_platform is None else []
    command = [sys.executable, "-c", PROBE, *flags]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE-JSON ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("PROBE-JSON "))


def prefetch(*calls: tuple[bool, Optional[str], bool]) -> None:
    """Run several probes concurrently (``(plugin, verl_platform, platform_only)`` each) so later calls hit the cache.

    Args:
        *calls: Arguments of :func:`probe`.
    """
    with ThreadPoolExecutor(len(calls)) as pool:
        list(pool.map(lambda call: _probe(*call), calls))
