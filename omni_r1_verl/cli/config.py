"""Print the reference of every omni-r1-verl config section (keys, defaults, meanings), or regenerate its files.

The defaults live in the typed config dataclasses only. `--write` regenerates the two files made from them in a
checkout: conf/omni_r1/sections.yaml (composed by every recipe, so any key can be overridden on the command line)
and docs/config.md; `--check` exits 1 when either is out of date.

examples:
  omni-r1 config                 # the reference, as Markdown
  omni-r1 config --write         # after changing a config dataclass
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "config"
HELP = "print every config key with its default and meaning; --write regenerates conf/ and docs/ reference files"


def _checkout_root() -> Path:
    import omni_r1_verl

    return Path(omni_r1_verl.__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="regenerate the generated files in the checkout")
    group.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    group.add_argument("--yaml", action="store_true", help="print the generated sections YAML instead of Markdown")
    parser.add_argument("--root", type=Path, default=None, help="checkout root (default: the one holding this code)")


def run(args: argparse.Namespace) -> int:
    """Print or regenerate the reference.

    Args:
        args: Parsed arguments.

    Returns:
        0, or 1 when ``--check`` finds stale files, 2 when the root is not a checkout.
    """
    from omni_r1_verl import config_reference

    if not (args.write or args.check):
        sys.stdout.write(config_reference.render_yaml() if args.yaml else config_reference.render_docs())
        return 0
    root = (args.root or _checkout_root()).resolve()
    if not (root / "conf").is_dir() or not (root / "docs").is_dir():
        print(
            f"omni-r1 config: {root} is not an omni-r1-verl checkout (no conf/ and docs/); pass --root", file=sys.stderr
        )
        return 2
    if args.check:
        stale = config_reference.stale(root)
        for path in stale:
            print(f"out of date: {path} (run `omni-r1 config --write`)")
        return 1 if stale else 0
    for path in config_reference.write(root):
        print(f"wrote {root / path}")
    return 0
