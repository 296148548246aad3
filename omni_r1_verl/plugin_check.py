"""Loud check that verl loaded our plugin (verl itself ignores plugin import errors).

Used by the tests, by ``omni-r1 doctor`` (in the driver and inside a fresh Ray worker) and by anyone who wants to
fail fast before a long run: ``python -c "from omni_r1_verl.plugin_check import assert_plugin_loaded as a; a()"``.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field

from omni_r1_verl import registration
from omni_r1_verl.platform import PLATFORM_NAME
from omni_r1_verl.platform.register import ROLLOUT_NAME
from omni_r1_verl.utils.modules import hook_failures

#: Name of our entry point in the ``verl.plugins`` group.
ENTRY_POINT_NAME = "omni_r1_verl"
#: Module the entry point loads.
PLUGIN_MODULE = "omni_r1_verl.verl_plugin"
#: Names our plugin must register in verl's reward-loop registry.
REWARD_MANAGERS: tuple[str, ...] = tuple(registration.REWARD_MANAGERS)
#: Names our plugin must register in verl's agent-loop registry.
AGENT_LOOPS: tuple[str, ...] = tuple(registration.AGENT_LOOPS)
#: Rollout backends our plugin must register in verl's ``RolloutReplicaRegistry``.
ROLLOUTS: tuple[str, ...] = (ROLLOUT_NAME,)


class PluginNotLoadedError(RuntimeError):
    """Raised when verl did not load the omni-r1-verl plugin in this process."""


@dataclass
class PluginStatus:
    """What verl registered in this process, and why something is missing.

    Attributes:
        loaded: True when every expected name is registered.
        problems: One line per problem.
        fixes: One line per problem: how to fix it.
        pid: Process id the status was taken in.
    """

    loaded: bool
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)


def _entry_point_registered() -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == ENTRY_POINT_NAME for ep in entry_points(group="verl.plugins"))


def _import_error() -> str | None:
    """Import the plugin module directly to recover the exception verl swallowed."""
    if PLUGIN_MODULE in sys.modules:
        return None
    try:
        importlib.import_module(PLUGIN_MODULE)
    except Exception:  # noqa: BLE001 - we report whatever verl would have hidden
        return traceback.format_exc(limit=3).strip().splitlines()[-1]
    return None


def plugin_status() -> PluginStatus:
    """Inspect verl's registries in the current process.

    Imports ``verl`` (which runs the plugin) and, when the plugin loaded, the registries it fills when verl imports
    them (a few seconds in a fresh process).

    Returns:
        A :class:`PluginStatus`; ``loaded`` is False with a fix for each problem when the plugin is missing.
    """
    import verl  # noqa: F401  runs verl's plugin discovery

    problems: list[str] = []
    fixes: list[str] = []

    def problem(what: str, fix: str) -> None:
        problems.append(what)
        fixes.append(fix)

    policy = os.getenv("VERL_USE_EXTERNAL_PLUGINS", "auto").strip().lower()
    if PLUGIN_MODULE not in sys.modules:
        if policy == "none":
            problem("VERL_USE_EXTERNAL_PLUGINS=none disables verl plugins", "unset it or set it to 'auto'")
        elif policy != "auto" and ENTRY_POINT_NAME not in {p.strip() for p in policy.split(",")}:
            problem(f"VERL_USE_EXTERNAL_PLUGINS={policy} does not list '{ENTRY_POINT_NAME}'", "add it, or set 'auto'")
        elif not _entry_point_registered():
            problem(
                "the 'verl.plugins' entry point of omni-r1-verl is not installed for this interpreter",
                f"{sys.executable} -m pip install omni-r1-verl (or `pip install -e .` in a checkout)",
            )
        else:
            problem(
                f"verl failed to import {PLUGIN_MODULE}: {_import_error()}",
                f"run `python -c 'import {PLUGIN_MODULE}'` for the full traceback and fix that error",
            )
    else:
        from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
        from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
        from verl.plugin.platform import PlatformRegistry
        from verl.workers.rollout.replica import RolloutReplicaRegistry

        registries = {
            "reward managers": (REWARD_MANAGERS, REWARD_MANAGER),
            "agent loops": (AGENT_LOOPS, _agent_loop_registry),
            "rollouts": (ROLLOUTS, RolloutReplicaRegistry._registry),
            "platforms": ((PLATFORM_NAME,), PlatformRegistry.registered_names()),
        }
        for kind, (names, registry) in registries.items():
            missing = [name for name in names if name not in registry]
            if missing:
                problem(f"{kind} {missing} are not registered", "reinstall omni-r1-verl")
        for failure in hook_failures():
            problem(
                f"binding {failure.hook} failed when {failure.module} was imported: {failure.error}",
                "check that the installed verl is the version omni-r1-verl supports (pip check)",
            )
    return PluginStatus(loaded=not problems, problems=problems, fixes=fixes)


def assert_plugin_loaded() -> None:
    """Raise unless verl loaded our plugin in this process.

    Raises:
        PluginNotLoadedError: With one line per problem and its fix.
    """
    status = plugin_status()
    if not status.loaded:
        lines = [f"{what} (fix: {fix})" for what, fix in zip(status.problems, status.fixes)]
        raise PluginNotLoadedError("omni-r1-verl plugin not loaded by verl:\n  " + "\n  ".join(lines))
