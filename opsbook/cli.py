"""The ``opsbook`` command: a thin view over the commands each room registers.

Each entry of ``COMMANDS`` is (name, "module:function"); ``function(subparsers)``
adds the ``name`` subcommand with ``set_defaults(func=handler)``, where
``handler(args) -> int`` returns the exit code. Modules are imported on every
run, so keep them light at import (import nbgrader, papermill... inside the
handlers). A module that cannot be imported still gets its name, and running
it explains why it is unavailable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: tuple[tuple[str, str], ...] = (
    ("world", "opsbook.world.cli:register"),
    ("course", "opsbook.course.cli:register"),
    ("grade", "opsbook.grading.selfgrade:register"),
    ("progress", "opsbook.progress:register"),
    ("lab", "opsbook.lab:register"),
    ("class", "opsbook.classroom.cli:register"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``opsbook`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command of ``COMMANDS`` registered."""
    parser = argparse.ArgumentParser(prog="opsbook", description="Internet operations analytics course tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, target in COMMANDS:
        module_name, function = target.split(":")
        try:
            register = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as exc:
            _register_unavailable(subparsers, name, f"{target} cannot be loaded ({exc})")
            continue
        register(subparsers)
    return parser


def _register_unavailable(subparsers: argparse._SubParsersAction, name: str, reason: str) -> None:
    def unavailable(args: argparse.Namespace) -> int:
        print(f"opsbook {name} is not available: {reason}", file=sys.stderr)
        return 1

    # No option prefix: every argument, "-h" included, lands in `rest` and the reason is shown.
    command = subparsers.add_parser(name, help="(unavailable)", add_help=False, prefix_chars="\0")
    command.add_argument("rest", nargs="*")
    command.set_defaults(func=unavailable)
