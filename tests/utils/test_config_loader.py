"""The one config loader: typed sections, unknown keys and invalid values named in full."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from omegaconf import OmegaConf

from omni_r1_verl.utils.config import ConfigError, build, check, field_docs, grpo_group_size, load_section, select


@dataclass(frozen=True)
class Inner:
    """Inner.

    Attributes:
        rate: A positive rate,
            over two lines.
        names: Some names.
    """

    rate: float = 1.0
    names: tuple[str, ...] = ("a",)

    def __post_init__(self) -> None:
        check(self.rate > 0, f"rate={self.rate}: must be > 0")


@dataclass(frozen=True)
class Outer:
    """Outer.

    Attributes:
        inner: The inner section.
        label: A label.
    """

    SECTION: ClassVar[str] = "top.outer"

    inner: Inner = field(default_factory=Inner)
    label: str = "x"


def test_nested_sections_from_plain_and_omegaconf_mappings():
    expected = Outer(Inner(2.0, ("b", "c")), "y")
    plain = {"inner": {"rate": 2.0, "names": ["b", "c"]}, "label": "y"}
    assert build(Outer, plain) == expected
    assert build(Outer, OmegaConf.create(plain)) == expected
    assert build(Outer, None) == Outer() and build(Outer, expected) is expected


def test_unknown_keys_and_invalid_values_name_the_full_key():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) top\.outer\.inner\.speed; known: names, rate"):
        build(Outer, {"inner": {"speed": 1}})
    with pytest.raises(ConfigError, match=r"^top\.outer\.inner: rate=-1: must be > 0$"):
        build(Outer, {"inner": {"rate": -1}})
    with pytest.raises(ConfigError, match=r"^top\.outer\.inner must be a mapping, got int$"):
        build(Outer, {"inner": 3})
    with pytest.raises(ConfigError, match=r"^custom\.path\.inner: "):
        build(Outer, {"label": "y", "inner": {"rate": "fast"}}, "custom.path")


def test_load_section_reads_the_section_of_a_whole_tree():
    tree = OmegaConf.create({"top": {"outer": {"label": "z"}}, "actor_rollout_ref": {"rollout": {"n": 8}}})
    assert load_section(tree, Outer).label == "z"
    assert load_section({}, Outer) == Outer()
    assert select(tree, "top.outer.label") == "z" and select(tree, "top.missing.x", 5) == 5
    assert grpo_group_size(tree) == 8 and grpo_group_size({}) == 1


def test_field_docs_reads_attribute_lines():
    assert field_docs(Inner) == {"rate": "A positive rate, over two lines.", "names": "Some names."}
