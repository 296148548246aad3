"""The README's two set-up commands stay true: CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_cmds = [b.strip().splitlines()[-1] for b in _code_blocks(readme) if b.strip().startswith("# tests")]
    assert len(test_cmds) == 1, "README needs exactly one '# tests' block"
    assert test_cmds[0] in (ROOT / ".ci" / "run").read_text()


def test_readme_has_a_main_job_block():
    readme = (ROOT / "README.md").read_text()
    assert any(b.strip().startswith("# main job") for b in _code_blocks(readme))


def test_recipe_pins_the_verl_range_of_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    required = (ROOT / "recipe" / "omni_r1" / "REQUIRED_VERL.txt").read_text().strip()
    assert f'"{required}"' in pyproject


def test_test_module_names_are_unique():
    """``pytest tests`` imports test modules by basename (no ``__init__.py``): two ``test_x.py`` in different folders
    stop the whole collection, which running one folder at a time does not show."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == "conftest.py" or "__pycache__" in path.parts:
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
        seen.setdefault(path.name, path)
    assert not clashes, "same test module name in two folders: " + "; ".join(clashes)
