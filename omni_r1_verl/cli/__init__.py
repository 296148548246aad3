"""The ``omni-r1`` command line.

Each sub-command lives in its own module of this package and exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; add the module name to :data:`COMMANDS` to expose it.
Heavy imports happen inside ``run`` so that ``omni-r1 --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Sequence

from omni_r1_verl import __version__

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "make_tiny", "doctor", "prepare", "synth", "eval", "infer", "cluster", "config")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``omni-r1`` argument parser with every sub-command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="omni-r1",
        description="Omni-R1 on verl: prepare data, build tiny offline assets, check an install, run the recipe.",
        epilog="Training itself runs through verl: python -m verl.trainer.main_ppo +recipe=omni_r1 [overrides]",
    )
    parser.add_argument("--version", action="version", version=f"omni-r1-verl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"omni_r1_verl.cli.{name}")
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omni-r1`` console script.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns:
        The process exit status.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "overrides", None), list) and all(_is_override(x) for x in extra):
        args.overrides.extend(extra)  # KEY=VALUE after options: argparse ends the positionals at the first option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    return int(args._run(args) or 0)


def _is_override(item: str) -> bool:
    return not item.startswith("-") and "=" in item
