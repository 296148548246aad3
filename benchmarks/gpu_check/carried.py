"""Install what the machine lacks from wheels and source archives carried in the working tree (no network).

Every ``NAME-VERSION*.whl`` / ``NAME-VERSION.tar.gz`` in the folder whose distribution is not installed goes into a
target directory (put on ``PYTHONPATH`` for the stages); installed distributions are left alone, so carrying a
package the machine has changes nothing. Source archives build without isolation (``sam2`` with
``SAM2_BUILD_CUDA=0``: no CUDA extension), after the wheels, ``sam2`` last.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)-.+\.whl$")
_SDIST = re.compile(r"^(?P<name>.+)-(?P<version>[0-9][^-]*)\.(?:tar\.gz|zip)$")


@dataclass(frozen=True)
class Carried:
    """One carried file.

    Attributes:
        path: The file.
        name: Its distribution name (normalised: lower case, ``-``).
        version: Its version.
        wheel: A wheel (else a source archive).
    """

    path: Path
    name: str
    version: str
    wheel: bool


def normalise(name: str) -> str:
    """PEP 503 name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find(folder: Path) -> list[Carried]:
    """The carried files of a folder, wheels first, ``sam2`` last; other files are ignored.

    Args:
        folder: E.g. ``.whl`` in the repository root.

    Returns:
        The files.
    """
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _WHEEL.match(path.name) or _SDIST.match(path.name)
        if match:
            found.append(Carried(path, normalise(match["name"]), match["version"], path.suffix == ".whl"))
    return sorted(found, key=lambda c: (not c.wheel, c.name == "sam2", c.name))


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plan(carried: list[Carried], lookup: Callable[[str], str | None] = installed_version) -> list[tuple[Carried, str]]:
    """Decide, per carried file, ``install`` or ``present VERSION``.

    Args:
        carried: :func:`find` output.
        lookup: Installed version by distribution name.

    Returns:
        ``(file, decision)`` pairs.
    """
    decisions = []
    for item in carried:
        version = lookup(item.name)
        decisions.append((item, "install" if version is None else f"present {version}"))
    return decisions


def install(items: list[Carried], target: Path) -> None:
    """pip-install files into ``target`` offline: wheels in one call, then each source archive.

    Args:
        items: Files to install.
        target: Target directory (created).

    Raises:
        subprocess.CalledProcessError: When pip fails (its output is on stderr).
    """
    target.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    base += ["--no-cache-dir", "--disable-pip-version-check", "--target", str(target)]
    wheels = [str(c.path) for c in items if c.wheel]
    if wheels:
        subprocess.run([*base, *wheels], check=True, stdout=sys.stderr)
    env = {**os.environ, "SAM2_BUILD_CUDA": "0", "PYTHONPATH": os.pathsep.join([str(target), *sys.path])}
    for item in items:
        if not item.wheel:
            subprocess.run([*base, "--no-build-isolation", str(item.path)], check=True, env=env, stdout=sys.stderr)
