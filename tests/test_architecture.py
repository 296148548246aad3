"""The house's floors, as docs/architecture.md states them, checked against every import in the package.

A package may import only the packages of the floors below it (and third-party libraries its row allows); pure
layers never import verl, Ray or torch; nothing imports upward into the verl adapters; no folders import each other
in a circle. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import omni_r1_verl

PACKAGE = Path(omni_r1_verl.__file__).resolve().parent

#: package -> packages of ours it may import (None: anything, the top floor).
MAY_IMPORT: dict[str, set[str] | None] = {
    "contracts": set(),
    "utils": set(),
    "scoring": {"contracts", "utils"},
    "metrics": {"contracts", "utils", "scoring"},
    "data": {"contracts", "utils"},
    "visualize": {"contracts", "utils", "data", "scoring"},
    "detail": {"contracts", "utils", "data"},
    "models": {"contracts", "utils", "data"},
    "platform": {"contracts", "utils", "models"},
    "reward": {"contracts", "utils", "scoring", "visualize"},
    "cluster": set(),
    "rollout": {"contracts", "utils", "scoring", "detail", "models", "data"},
    "evaluation": {"contracts", "utils", "data", "scoring", "metrics", "detail", "models", "platform", "visualize"},
    # The top floor: entry points and tools.
    "cli": None,
    "demo": None,
    "demo_report": None,
    "doctor": None,
    "config_reference": None,
    "plugin_check": None,
    "ray_cluster": None,
    "registration": None,
    "verl_plugin": None,
}

#: Third-party roots a package must never import (even lazily).
FORBIDDEN: dict[str, set[str]] = {
    "contracts": {"verl", "ray", "torch", "numpy", "omegaconf"},
    "utils": {"verl", "ray", "torch"},
    "scoring": {"verl", "ray", "torch"},
    "metrics": {"verl", "ray", "torch"},
    "data": {"ray"},
    "visualize": {"verl", "ray", "torch"},
    "cluster": {"verl", "torch"},
    "detail": {"verl"},
    "evaluation": {"verl"},
    "demo_report": {"verl", "ray", "torch", "numpy"},
}

#: The only modules of a package allowed a third-party root its package otherwise must not use.
EXCEPTIONS: dict[tuple[str, str], set[str]] = {("data", "verl"): {"omni_r1_verl.data.dataset"}}


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports() -> dict[str, set[str]]:
    """module -> every module it imports (absolute names; relative imports resolved)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("omni_r1_verl", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found[module].update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")
                    if path.name == "__init__.py" and node.level > 1:
                        base = base[: -(node.level - 1)]
                    name = ".".join([*base, node.module] if node.module else base)
                else:
                    name = node.module or ""
                if name == "omni_r1_verl":
                    found[module].update(f"omni_r1_verl.{alias.name}" for alias in node.names)
                else:
                    found[module].add(name)
    return found


IMPORTS = _imports()


def test_every_package_has_a_row():
    packages = {_package_of(m) for m in IMPORTS} - {""}
    assert packages <= set(MAY_IMPORT), f"add a row for {sorted(packages - set(MAY_IMPORT))} (and to the docs)"


@pytest.mark.parametrize("package", sorted(p for p, allowed in MAY_IMPORT.items() if allowed is not None))
def test_no_import_runs_up_a_floor(package):
    allowed = MAY_IMPORT[package] | {package}
    bad = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if _package_of(module) == package
        for name in names
        if name.startswith("omni_r1_verl.") and _package_of(name) not in allowed
    )
    assert not bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_pure_layers_never_import_the_frameworks(package):
    bad = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if _package_of(module) == package
        for name in names
        if name.split(".")[0] in FORBIDDEN[package]
        and module not in EXCEPTIONS.get((package, name.split(".")[0]), set())
    )
    assert not bad


def test_no_folders_import_each_other_in_a_circle():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, names in IMPORTS.items():
        for name in names:
            if name.startswith("omni_r1_verl.") and _package_of(name) != _package_of(module):
                graph[_package_of(module)].add(_package_of(name))
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*path[path.index(nxt) :], nxt]) if nxt in path else nxt)
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_docs_table_matches():
    docs = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    for package, allowed in MAY_IMPORT.items():
        if allowed is None:
            continue
        ours = ", ".join(f"`{p}`" for p in sorted(allowed)) or "nothing of ours"
        assert f"| `{package}/` " in docs or f"| `{package}.py` " in docs, package
        row = next(line for line in docs.splitlines() if line.startswith((f"| `{package}/` ", f"| `{package}.py` ")))
        assert ours in row, (package, row)
