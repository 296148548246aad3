"""The wheel ships the Hydra configs, the search-path plugin and the entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(proc.stdout[-2000:] + proc.stderr[-2000:])
    (path,) = out.glob("omni_r1_verl-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_contains_configs_and_hydra_plugin(wheel):
    names = set(wheel.namelist())
    assert "omni_r1_verl/conf/recipe/omni_r1.yaml" in names
    assert "hydra_plugins/omni_r1_verl_searchpath/omni_r1_verl_searchpath.py" in names
    assert "hydra_plugins/__init__.py" not in names  # must stay a namespace package
    for src in (ROOT / "conf").rglob("*.yaml"):
        assert f"omni_r1_verl/conf/{src.relative_to(ROOT / 'conf')}" in names


def test_wheel_declares_entry_points(wheel):
    (ep_file,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(ep_file).decode()
    assert "[verl.plugins]\nomni_r1_verl = omni_r1_verl.verl_plugin" in text
    assert "omni-r1 = omni_r1_verl.cli:main" in text


def test_wheel_has_no_tests_or_benchmarks(wheel):
    assert not [n for n in wheel.namelist() if n.startswith(("tests/", "benchmarks/", "recipe/"))]
