"""Our reward-manager and agent-loop names, registered before (and without) importing the classes they name."""

from __future__ import annotations

import collections
import pickle

import pytest
from verl.experimental.reward_loop.reward_manager import registry as reward_registry

from omni_r1_verl.registration import AGENT_LOOPS, REWARD_MANAGERS, LazyClass, qualified_name


class Scorer:
    """A stand-in reward manager."""

    def __init__(self, scale: int) -> None:
        self.scale = scale

    @classmethod
    def describe(cls) -> str:
        return cls.__name__


def test_lazy_class_stands_for_its_class():
    lazy = LazyClass(qualified_name(Scorer))
    assert lazy == Scorer and lazy == LazyClass(qualified_name(Scorer)) and hash(lazy) == hash(qualified_name(Scorer))
    assert lazy != collections.OrderedDict and lazy != qualified_name(Scorer)
    made = lazy(scale=3)
    assert type(made) is Scorer and made.scale == 3
    assert lazy.describe() == "Scorer"
    with pytest.raises(AttributeError):
        lazy.missing_attribute  # noqa: B018


def test_lazy_class_imports_nothing_for_dunder_probes():
    lazy = LazyClass("omni_r1_verl.no_such_module.Thing")
    assert not hasattr(lazy, "__deepcopy__")
    assert pickle.loads(pickle.dumps(lazy)) == lazy
    with pytest.raises(ModuleNotFoundError):
        lazy()


def test_verls_decorator_replaces_the_stand_in_and_still_refuses_a_different_class(monkeypatch):
    monkeypatch.setattr(reward_registry, "REWARD_MANAGER", {"scorer": LazyClass(qualified_name(Scorer))})
    assert reward_registry.register("scorer")(Scorer) is Scorer
    assert reward_registry.get_reward_manager_cls("scorer") is Scorer

    class Other(Scorer):
        pass

    monkeypatch.setattr(reward_registry, "REWARD_MANAGER", {"scorer": LazyClass(qualified_name(Scorer))})
    with pytest.raises(ValueError, match="already been registered"):
        reward_registry.register("scorer")(Other)


def test_every_reward_manager_target_registers_itself_under_its_name():
    for name, target in REWARD_MANAGERS.items():
        cls = LazyClass(target).resolve()
        assert qualified_name(cls) == target
        assert reward_registry.get_reward_manager_cls(name) is cls


def test_every_agent_loop_target_registers_itself_under_its_name():
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    for name, target in AGENT_LOOPS.items():
        cls = LazyClass(target).resolve()
        assert qualified_name(cls) == target
        assert _agent_loop_registry[name] == {"_target_": target}
