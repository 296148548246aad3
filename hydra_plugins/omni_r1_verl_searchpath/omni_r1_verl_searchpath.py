"""Hydra search-path plugin: makes ``+recipe=omni_r1`` resolvable in every Hydra app (e.g. verl's ``main_ppo``).

Hydra imports every module under the ``hydra_plugins`` namespace package at start-up, so this module must stay
import-light: no torch, no verl.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

#: Provider name shown by ``--info searchpath``.
PROVIDER = "omni_r1_verl"
#: Where the recipe configs live once the package is installed (the top-level ``conf/`` folder of the project).
SEARCH_PATH = "pkg://omni_r1_verl.conf"


def resolve_search_path() -> str:
    """Return the config location: the installed ``omni_r1_verl.conf`` package, or the checkout's ``conf/``.

    The second case covers a checkout whose source folder shadows a non-editable install (e.g. running from the
    project root): there ``omni_r1_verl`` is the source folder, which has no ``conf`` sub-package.

    Returns:
        A Hydra search-path entry (``pkg://...`` or ``file://...``).
    """
    try:
        if importlib.util.find_spec("omni_r1_verl.conf") is not None:
            return SEARCH_PATH
        package = importlib.util.find_spec("omni_r1_verl")
    except ImportError:
        return SEARCH_PATH
    if package is not None and package.origin:
        checkout_conf = Path(package.origin).resolve().parent.parent / "conf"
        if checkout_conf.is_dir():
            return f"file://{checkout_conf}"
    return SEARCH_PATH


class OmniR1VerlSearchPathPlugin(SearchPathPlugin):
    """Appends omni-r1-verl's configs to the config search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """Append our configs after the application's own, so verl's defaults stay primary.

        Args:
            search_path: The search path Hydra is assembling.
        """
        search_path.append(provider=PROVIDER, path=resolve_search_path())
