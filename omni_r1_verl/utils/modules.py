"""Helpers for ``torch.nn.Module`` instances."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def forward_replaced(module: Any, forward: Callable[..., Any]) -> Iterator[None]:
    """Run ``forward`` instead of ``module.forward`` inside the block (hooks, e.g. FSDP2's, still run around it).

    Args:
        module: The module; its class and other instances are untouched.
        forward: Called with the module's inputs.
    """
    module.forward = forward
    try:
        yield
    finally:
        del module.forward
