"""Helpers for modules: code that runs once a Python module is imported, and a ``torch.nn.Module``'s forward swap."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, NamedTuple

import wrapt

logger = logging.getLogger(__name__)


class HookFailure(NamedTuple):
    """A post-import hook that raised.

    Attributes:
        module: The module whose import ran the hook.
        hook: Qualified name of the hook.
        error: ``repr`` of the exception.
    """

    module: str
    hook: str
    error: str


_failures: list[HookFailure] = []


def after_import(module_name: str, hook: Callable[[ModuleType], None]) -> None:
    """Call ``hook(module)`` as soon as ``module_name`` is imported, or now if it already is.

    The hook runs right after the module's code, before the statement that imported it continues (wrapt's
    post-import hooks), so ``from module import name`` elsewhere already sees what the hook changed. Nothing is
    imported here: a module no one imports costs nothing. The module is someone else's (verl's), so an exception in
    the hook does not fail its import: it is logged and listed by :func:`hook_failures`.

    Args:
        module_name: Fully qualified module name.
        hook: Called once with the module.
    """

    def guarded(module: ModuleType) -> None:
        try:
            hook(module)
        except Exception as error:  # noqa: BLE001 - never break the import of another package's module
            failure = HookFailure(module_name, getattr(hook, "__qualname__", repr(hook)), repr(error))
            _failures.append(failure)
            logger.warning("omni-r1-verl: hook %s on import of %s failed: %s", failure.hook, module_name, error)

    wrapt.register_post_import_hook(guarded, module_name)


def hook_failures() -> list[HookFailure]:
    """The post-import hooks of :func:`after_import` that raised in this process, oldest first."""
    return list(_failures)


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
