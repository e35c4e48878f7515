"""``opsbook world generate|validate``.

Their messages are in the current language (``opsbook.language``): English, or Chinese with
``OPSBOOK_LANG=zh`` or ``--lang zh``; the texts of both are in ``_TEXT``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from opsbook import language
from opsbook.world.config import ACCEPTED, WorldConfig, out_of_range

_TEXT = {
    "wrote": {"en": "Wrote {count} files to {out}", "zh": "已将 {count} 个文件写入 {out}"},
    "ok": {"en": "OK: {tables} tables, {rows:,} rows in {data_dir}",
           "zh": "OK：{data_dir} 中共有 {tables} 张表、{rows:,} 行"},
    "not_whole": {"en": "must be a whole number, got {text!r}", "zh": "必须是整数，输入的是 {text!r}"},
    "out_of_range": {"en": "{problem}", "zh": "{name} 必须在 {lo:,} 到 {hi:,} 之间（输入的是 {value:,}）：{why}"},
    "error": {"en": "{prog}: error: {message}", "zh": "{prog}：错误：{message}"},
}
"""Every message of ``opsbook world``, in English and Chinese (``str.format`` templates)."""

_WHY_ZH = {"n_users": "世界再小就显示不出预设的效应，再大就超出了笔记本电脑的承受能力",
           "days": "时间范围必须包含 618 大促及其后的一周，并且不超过一年"}
"""Why a world outside ``ACCEPTED`` is refused, in Chinese (the English is ``out_of_range``'s)."""

_ARGPARSE_ZH = (
    (re.compile(r"^argument (\S+): "), r"参数 \1："),
    (re.compile(r"^the following arguments are required: "), "缺少必需的参数："),
    (re.compile(r"invalid choice: (.*) \(choose from (.*)\)$"), r"无效的选项：\1（可选：\2）"),
    (re.compile(r"expected one argument$"), "需要一个值"),
)
"""argparse's own words in a one-line error, in Chinese (the rest of the line is ours, already translated)."""


class _CommandParser(argparse.ArgumentParser):
    """The parser of an ``opsbook world`` command. It reads ``--lang`` before the other options, so that
    every message of the command, argparse's one-line errors included, is in that language wherever
    ``--lang`` stands on the command line."""

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        chosen = _language_option(list(sys.argv[1:] if args is None else args))
        if chosen in language.LANGUAGES:
            language.set(chosen)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if language.get() == "en":
            super().error(message)
        for pattern, words in _ARGPARSE_ZH:
            message = pattern.sub(words, message)
        self.print_usage(sys.stderr)
        self.exit(2, language.pick(_TEXT["error"], prog=self.prog, message=message) + "\n")


def _language_option(args: list[str]) -> str | None:
    """The value of the last ``--lang X`` or ``--lang=X`` among ``args`` (None when there is none)."""
    chosen = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            chosen = args[i + 1]
        elif arg.startswith("--lang="):
            chosen = arg.split("=", 1)[1]
    return chosen


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook world generate`` and ``opsbook world validate``."""
    world = subparsers.add_parser("world", help="generate or validate a synthetic product world")
    commands = world.add_subparsers(dest="world_command", required=True, metavar="ACTION",
                                    parser_class=_CommandParser)
    defaults = WorldConfig()

    generate = commands.add_parser("generate", help="generate a world into a folder")
    generate.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    generate.add_argument("--users", type=accepted("n_users"), default=defaults.n_users, metavar="N",
                          help="users, {:,} to {:,} (default %(default)s)".format(*ACCEPTED["n_users"]))
    generate.add_argument("--days", type=accepted("days"), default=defaults.days, metavar="N",
                          help="days from 1 January, {} to {} (default %(default)s)".format(*ACCEPTED["days"]))
    generate.add_argument("--locale", choices=_locales(), default=defaults.locale,
                          help="locale of names and text (default %(default)s)")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the tables into")
    generate.add_argument("--key", type=Path, help="where to write the instructor answer key (JSON)")
    generate.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    _add_language(generate)
    generate.set_defaults(func=_generate)

    validate = commands.add_parser("validate", help="check a world folder against the schema and checksums")
    validate.add_argument("data_dir", type=Path, metavar="DIR", help="the world folder, e.g. datasets")
    validate.add_argument("--no-manifest", action="store_true", help="skip the MANIFEST.sha256 checksums")
    _add_language(validate)
    validate.set_defaults(func=_validate)


def _add_language(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=language.LANGUAGES, default=language.get(),
                        help=f"language of the messages: en or zh (default: ${language.LANGUAGE_ENV} or en)")


def _generate(args: argparse.Namespace) -> int:
    from opsbook.world.generate import generate_world, write_world

    language.set(args.lang)
    config = WorldConfig(seed=args.seed, n_users=args.users, days=args.days, locale=args.locale)
    world = generate_world(config, progress=not args.no_progress)
    paths = write_world(world, args.out, key_path=args.key)
    print(language.pick(_TEXT["wrote"], count=len(paths), out=args.out))
    return _report(args.out, check_manifest=True)


def _validate(args: argparse.Namespace) -> int:
    language.set(args.lang)
    return _report(args.data_dir, check_manifest=not args.no_manifest)


def _report(data_dir: Path, check_manifest: bool) -> int:
    """Print OK with the size of the world, or its problems; return the exit code."""
    from opsbook.world.validate import format_problems, run_checks

    report = run_checks(data_dir, check_manifest)
    if report.problems:
        print(format_problems(report.problems, data_dir), file=sys.stderr)
        return 1
    print(language.pick(_TEXT["ok"], tables=len(report.row_counts), rows=sum(report.row_counts.values()),
                        data_dir=data_dir))
    return 0


def accepted(name: str) -> Callable[[str], int]:
    """An argparse type: a whole number inside ``ACCEPTED[name]`` (else a one-line error, exit code 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(language.pick(_TEXT["not_whole"], text=text)) from None
        problem = out_of_range(name, value)
        if problem:
            lo, hi = ACCEPTED[name]
            raise argparse.ArgumentTypeError(language.pick(
                _TEXT["out_of_range"], problem=problem, name=name, lo=lo, hi=hi, value=value,
                why=_WHY_ZH[name]))
        return value
    parse.__name__ = name
    return parse


def _locales() -> tuple[str, ...]:
    from opsbook.world.locales import available
    return available()
