"""The renderers stay pure: importing them loads no framework (verl, Ray, torch) and no model code."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_framework():
    code = (
        "import sys, omni_r1_verl.visualize\n"
        "heavy = ('verl', 'ray', 'torch', 'transformers', 'omni_r1_verl.scoring', 'omni_r1_verl.detail')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == ""
