"""verl's fused log-prob kernels without verl's package imports.

``import verl`` pulls in Ray, tensordict and more; a GPU machine may have none of them. The two kernels the thinker
calls (``verl.utils.kernel.linear_cross_entropy``, Triton, and ``verl.utils.experimental.torch_functional``, torch)
and their own imports (``verl.utils.device``, ``verl.plugin.platform``) need torch only. :func:`load` registers the
parent packages as empty namespaces over verl's own directories (their ``__init__`` files, which import the rest of
verl, are not run), so ``from verl.utils.kernel.linear_cross_entropy import linear_cross_entropy`` works as usual.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

#: Packages registered without running their ``__init__``.
PARENTS = ("verl", "verl.utils", "verl.models", "verl.models.transformers")


def load() -> str:
    """Make verl's kernels importable.

    Returns:
        ``full`` when verl itself is already imported, else ``kernels-only``.

    Raises:
        ModuleNotFoundError: When verl is not installed (its files are not found).
    """
    if "verl" in sys.modules and getattr(sys.modules["verl"], "__file__", None):
        return "full"
    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("verl is not installed (carry its wheel in .whl/, see docs/cluster.md)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in PARENTS:
        if name in sys.modules:
            continue
        path = str(root.joinpath(*name.split(".")[1:]))
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        module.__spec__.submodule_search_locations = [path]
        module.__path__ = [path]
        module.__package__ = name
        sys.modules[name] = module
        if "." in name:
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)
    return "kernels-only"
