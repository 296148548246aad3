"""Our names in verl's reward-manager and agent-loop registries, registered without importing what they name.

verl loads our plugin in every process of every run, so the plugin registers each name with the class path behind
it, when verl imports the registry, and the class's module (the reward scoring, the System-2 pool, the Omni agent
loop) is imported only when a run instantiates it:

* agent loop ``omni_r1_agent``: verl's registry stores ``{"_target_": "module.qualname"}`` and builds loops with
  Hydra, so the entry is exactly what the class's own ``@register`` writes;
* reward manager ``omni_r1``: verl's registry stores classes; until the class is imported the entry is a
  :class:`LazyClass` that imports it when verl calls or reads it. The class's own ``@register`` (verl raises when a
  name is registered twice with different classes) finds the stand-in equal and replaces it with the class, so
  the registry ends up the same whichever ran first.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from omni_r1_verl.utils.modules import after_import

#: Reward managers: name -> class path (the class registers itself under the same name when imported).
REWARD_MANAGERS: dict[str, str] = {"omni_r1": "omni_r1_verl.reward.manager.OmniR1RewardManager"}

#: Agent loops: name -> class path (the class registers itself under the same name when imported).
AGENT_LOOPS: dict[str, str] = {"omni_r1_agent": "omni_r1_verl.rollout.agent_loop.OmniR1AgentLoop"}

#: verl's registry modules.
REWARD_MANAGER_REGISTRY = "verl.experimental.reward_loop.reward_manager.registry"
AGENT_LOOP_REGISTRY = "verl.experimental.agent_loop.agent_loop"


def qualified_name(cls: Any) -> str | None:
    """``module.qualname`` of a class (the form verl's agent-loop registry stores), None for anything else."""
    return f"{cls.__module__}.{cls.__qualname__}" if isinstance(cls, type) else None


class LazyClass:
    """Stands in for a class in a class-valued registry until the class is needed.

    Calling it instantiates the class; reading an attribute reads the class's (e.g. a classmethod); either imports
    the class's module first. It compares equal to the class it names.

    Args:
        target: ``module.qualname`` of the class.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def resolve(self) -> type:
        """Import and return the class."""
        module, _, name = self.target.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "target":  # copy/pickle probes, and ``target`` before __init__
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyClass):
            return other.target == self.target
        return qualified_name(other) == self.target

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return f"LazyClass({self.target!r})"


def _register_reward_managers(registry: ModuleType) -> None:
    for name, target in REWARD_MANAGERS.items():
        registry.REWARD_MANAGER.setdefault(name, LazyClass(target))


def _register_agent_loops(agent_loop: ModuleType) -> None:
    for name, target in AGENT_LOOPS.items():
        agent_loop._agent_loop_registry.setdefault(name, {"_target_": target})


def register() -> None:
    """Register our reward managers and agent loops when verl imports their registries."""
    after_import(REWARD_MANAGER_REGISTRY, _register_reward_managers)
    after_import(AGENT_LOOP_REGISTRY, _register_agent_loops)
