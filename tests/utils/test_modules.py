"""``after_import``: code that runs when a module is imported, never breaking that import."""

from __future__ import annotations

import importlib
import sys

import pytest

from omni_r1_verl.utils import modules
from omni_r1_verl.utils.modules import after_import, hook_failures


@pytest.fixture
def fresh_module(tmp_path, monkeypatch):
    """A module name no one has imported yet: ``value = 1`` and ``double()``, importable from ``tmp_path``."""
    name = f"omni_r1_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("value = 1\n\ndef double():\n    return value * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(modules, "_failures", [])
    yield name
    sys.modules.pop(name, None)


def test_the_hook_runs_once_when_the_module_is_imported_and_not_before(fresh_module):
    seen = []
    after_import(fresh_module, lambda module: seen.append(module.value))
    assert seen == [] and fresh_module not in sys.modules
    module = importlib.import_module(fresh_module)
    importlib.import_module(fresh_module)
    assert seen == [1] and module.double() == 2


def test_the_hook_runs_before_the_importer_reads_the_module(fresh_module, tmp_path):
    def patch(module):
        module.value = 21

    after_import(fresh_module, patch)
    consumer = f"{fresh_module}_consumer"
    (tmp_path / f"{consumer}.py").write_text(f"from {fresh_module} import double, value\n")
    try:
        imported = importlib.import_module(consumer)
        assert imported.value == 21 and imported.double() == 42
    finally:
        sys.modules.pop(consumer, None)


def test_a_hook_on_an_imported_module_runs_at_once(fresh_module):
    importlib.import_module(fresh_module)
    seen = []
    after_import(fresh_module, lambda module: seen.append(module.__name__))
    assert seen == [fresh_module]


def test_a_failing_hook_is_reported_and_the_import_still_succeeds(fresh_module, caplog):
    def broken(module):
        raise KeyError("no such attribute")

    after_import(fresh_module, broken)
    module = importlib.import_module(fresh_module)
    assert module.double() == 2
    [failure] = hook_failures()
    assert failure.module == fresh_module and failure.hook.endswith("broken") and "no such attribute" in failure.error
    assert "no such attribute" in caplog.text
