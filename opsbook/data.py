"""Load the world's tables as typed pandas frames.

    from opsbook.data import load_world
    world = load_world(DATA_DIR)          # {"users": DataFrame, "events": ..., ...}
    orders = world["orders"]

Times are ``datetime64`` (business time, Asia/Shanghai, no zone), ids
``int64``, optional ids and scores nullable ``Int64``, flags ``bool``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from opsbook.paths import DATASETS
from opsbook.world.io import read_table
from opsbook.world.schema import TABLE_ORDER, TABLES, Table
from opsbook.world.validate import READ_ERRORS, compare_header, describe_read_error

DEFAULT_DATA_DIR = DATASETS
"""The repository's default world, ``datasets/`` next to the ``opsbook`` package."""
DATA_DIR_ENV = "OPSBOOK_DATA_DIR"
"""When set, the world a notebook with ``DATA_DIR = None`` loads (graders use it for per-student worlds)."""

_TEXT = {
    "fix": {"en": "Run `make data` to generate the default world, or pass DATA_DIR pointing to a world folder.",
            "zh": "运行 `make data` 生成默认数据世界，或把 DATA_DIR 设为一个数据世界的文件夹。"},
    "no_meta": {"en": "{path} is missing or unreadable ({error}); it says which days the world covers. {fix}",
                "zh": "{path} 缺失或无法读取（{error}）；它记录了数据世界覆盖哪些日期。{fix}"},
    "unknown": {"en": "Unknown table {name!r}; the world's tables are: {tables}.",
                "zh": "没有名为 {name!r} 的数据表；数据世界的表有：{tables}。"},
    "no_folder": {"en": "No world folder at {folder}. {fix}", "zh": "{folder} 处没有数据世界文件夹。{fix}"},
    "no_file": {"en": "{file} is missing: looked for {path}. {fix}", "zh": "缺少 {file}：找过 {path}。{fix}"},
    "cannot_load": {"en": "{file} in {folder} cannot be loaded: {reason}. `opsbook world validate {folder}` lists "
                          "every problem; `make data` regenerates the default world.",
                    "zh": "{folder} 里的 {file} 无法读取：{reason}。`opsbook world validate {folder} --lang zh` "
                          "会列出所有问题；`make data` 会重新生成默认数据世界。"},
    "making": {"en": "Making the world of this edition in {folder} (once; about half a minute)...",
               "zh": "正在生成中文版的数据世界：{folder}（只需一次，约半分钟）……"},
}


def _say(key: str, **fields: object) -> str:
    from opsbook import language

    return language.pick(_TEXT[key], fix=language.pick(_TEXT["fix"]), **fields)


def load_table(name: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """Load one table of the world in ``data_dir`` (default: see ``resolve_data_dir``)."""
    return _load(_table(name), _folder(data_dir))


@dataclass(frozen=True)
class Period:
    """The calendar days a world covers, in business time: ``[first_day, end)``, ``last_day`` included."""

    first_day: pd.Timestamp
    last_day: pd.Timestamp

    @property
    def end(self) -> pd.Timestamp:
        """Midnight after the last day: the exclusive end of the data."""
        return self.last_day + pd.Timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


class World(dict):
    """The loaded tables by name (a plain ``dict``), plus ``period`` (the days the world covers) and ``dir``
    (the world's folder, for tools that read it themselves, such as the simulator)."""

    period: Period
    dir: str


def load_world(data_dir: str | Path | None = None, tables: Iterable[str] | None = None) -> World:
    """Load the named tables (default: all, in schema order) into a dict of typed frames.

    ``world.period`` gives the first and last day of the data (from the world's ``world.json``).
    """
    names = [tables] if isinstance(tables, str) else list(tables or TABLE_ORDER)
    chosen = [_table(name) for name in names]
    folder = _folder(data_dir)
    world = World({table.name: _load(table, folder) for table in chosen})
    world.period = data_period(folder)
    world.dir = str(folder.resolve())
    return world


def data_period(data_dir: str | Path | None = None) -> Period:
    """The days the world in ``data_dir`` covers, read from its ``world.json`` (start and number of days)."""
    folder = _folder(data_dir)
    meta_path = folder / "world.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        first = pd.Timestamp(meta["start"])
        return Period(first, first + pd.Timedelta(days=int(meta["days"]) - 1))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(_say("no_meta", path=meta_path, error=exc)) from exc


def _table(name: str) -> Table:
    if name not in TABLES:
        raise ValueError(_say("unknown", name=name, tables=", ".join(TABLE_ORDER)))
    return TABLES[name]


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """``data_dir`` itself, else ``$OPSBOOK_DATA_DIR``, else the default world of the current language
    (``datasets/`` in English; ``datasets/zh/`` in Chinese, made on first use)."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or edition_world()
    return Path(data_dir).expanduser()


EDITION_LOCALES = {"zh": "zh_CN"}
"""The world of each language edition besides English: the default world's simulation, with names, titles,
comments and campaign text in that locale (the numbers are the same)."""


def edition_world(lang: str | None = None) -> Path:
    """The default world of language ``lang`` (default: the current one), generated on first use."""
    from opsbook import language

    lang = lang or language.get()
    if lang not in EDITION_LOCALES:
        return DEFAULT_DATA_DIR
    folder = DEFAULT_DATA_DIR / lang
    if not (folder / "world.json").is_file():
        make_edition_world(lang)
    return folder


def make_edition_world(lang: str) -> Path:
    """Generate ``datasets/<lang>/`` from the default world's settings, and check it against the checksums
    committed in ``datasets/<lang>.MANIFEST.sha256`` (the same seed and pins give the same bytes)."""
    import sys
    import tempfile

    from opsbook.world.generate import config_from_meta, generate_world, write_world

    folder = DEFAULT_DATA_DIR / lang
    expected = DEFAULT_DATA_DIR / f"{lang}.MANIFEST.sha256"
    meta = json.loads((DEFAULT_DATA_DIR / "world.json").read_text(encoding="utf-8"))
    config = replace(config_from_meta(meta), locale=EDITION_LOCALES[lang])
    print(_TEXT["making"].get(lang, _TEXT["making"]["en"]).format(folder=folder), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=DEFAULT_DATA_DIR, prefix=f".{lang}-") as tmp, \
            tempfile.TemporaryDirectory() as no_key:  # a learner's copy: the answer key is not kept
        write_world(generate_world(config, progress=False), tmp, Path(no_key) / "answer-key.json")
        if expected.is_file() and _manifest_entries(Path(tmp) / "MANIFEST.sha256") != _manifest_entries(expected):
            raise ValueError(f"the {lang} world made here differs from {expected.name}: the installed versions are "
                             "not the course's pins (`make install`), or run `make data` to renew the checksums")
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        Path(tmp).rename(folder)
    return folder


def _manifest_entries(path: Path) -> dict[str, str]:
    """file name -> sha256 of a checksum file in the ``MANIFEST.sha256`` format."""
    pairs = (line.split(maxsplit=1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _folder(data_dir: str | Path | None) -> Path:
    folder = resolve_data_dir(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(_say("no_folder", folder=folder.resolve()))
    return folder


def _load(table: Table, folder: Path) -> pd.DataFrame:
    path = folder / table.filename
    if not path.is_file():
        raise FileNotFoundError(_say("no_file", file=table.filename, path=path.resolve()))
    try:
        header = compare_header(list(pd.read_csv(path, nrows=0).columns), table)
        if header is None:
            return read_table(path, table)
    except (*READ_ERRORS, ValueError, TypeError, OverflowError) as exc:
        raise ValueError(_cannot_load(table, folder, describe_read_error(exc))) from exc
    raise ValueError(_cannot_load(table, folder, header))


def _cannot_load(table: Table, folder: Path, reason: str) -> str:
    return _say("cannot_load", file=table.filename, folder=folder, reason=reason)
