"""``opsbook world generate|validate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsbook.world.config import ACCEPTED, WorldConfig, out_of_range


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook world generate`` and ``opsbook world validate``."""
    world = subparsers.add_parser("world", help="generate or validate a synthetic product world")
    commands = world.add_subparsers(dest="world_command", required=True, metavar="ACTION")
    defaults = WorldConfig()

    generate = commands.add_parser("generate", help="generate a world into a folder")
    generate.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    generate.add_argument("--users", type=_accepted("n_users"), default=defaults.n_users, metavar="N",
                          help="users, {:,} to {:,} (default %(default)s)".format(*ACCEPTED["n_users"]))
    generate.add_argument("--days", type=_accepted("days"), default=defaults.days, metavar="N",
                          help="days from 1 January, {} to {} (default %(default)s)".format(*ACCEPTED["days"]))
    generate.add_argument("--locale", choices=_locales(), default=defaults.locale,
                          help="locale of names and text (default %(default)s)")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the tables into")
    generate.add_argument("--key", type=Path, help="where to write the instructor answer key (JSON)")
    generate.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    generate.set_defaults(func=_generate)

    validate = commands.add_parser("validate", help="check a world folder against the schema and checksums")
    validate.add_argument("data_dir", type=Path, metavar="DIR", help="the world folder, e.g. datasets")
    validate.add_argument("--no-manifest", action="store_true", help="skip the MANIFEST.sha256 checksums")
    validate.set_defaults(func=_validate)


def _generate(args: argparse.Namespace) -> int:
    from opsbook.world.generate import generate_world, write_world

    config = WorldConfig(seed=args.seed, n_users=args.users, days=args.days, locale=args.locale)
    world = generate_world(config, progress=not args.no_progress)
    paths = write_world(world, args.out, key_path=args.key)
    print(f"Wrote {len(paths)} files to {args.out}")
    return _report(args.out, check_manifest=True)


def _validate(args: argparse.Namespace) -> int:
    return _report(args.data_dir, check_manifest=not args.no_manifest)


def _report(data_dir: Path, check_manifest: bool) -> int:
    """Print OK with the size of the world, or its problems; return the exit code."""
    from opsbook.world.validate import format_problems, run_checks

    report = run_checks(data_dir, check_manifest)
    if report.problems:
        print(format_problems(report.problems, data_dir), file=sys.stderr)
        return 1
    print(f"OK: {len(report.row_counts)} tables, {sum(report.row_counts.values()):,} rows in {data_dir}")
    return 0


def _accepted(name: str):
    """An argparse type: a whole number inside ``ACCEPTED[name]`` (else a one-line error, exit code 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        problem = out_of_range(name, value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    parse.__name__ = name
    return parse


def _locales() -> tuple[str, ...]:
    from opsbook.world.locales import available
    return available()
