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
from dataclasses import dataclass
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

_FIX = "Run `make data` to generate the default world, or pass DATA_DIR pointing to a world folder."


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
        raise ValueError(f"{meta_path} is missing or unreadable ({exc}); it says which days the world covers. "
                         f"{_FIX}") from exc


def _table(name: str) -> Table:
    if name not in TABLES:
        raise ValueError(f"Unknown table {name!r}; the world's tables are: {', '.join(TABLE_ORDER)}.")
    return TABLES[name]


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """``data_dir`` itself, else ``$OPSBOOK_DATA_DIR``, else the repo's ``datasets/``."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(data_dir).expanduser()


def _folder(data_dir: str | Path | None) -> Path:
    folder = resolve_data_dir(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"No world folder at {folder.resolve()}. {_FIX}")
    return folder


def _load(table: Table, folder: Path) -> pd.DataFrame:
    path = folder / table.filename
    if not path.is_file():
        raise FileNotFoundError(f"{table.filename} is missing: looked for {path.resolve()}. {_FIX}")
    try:
        header = compare_header(list(pd.read_csv(path, nrows=0).columns), table)
        if header is None:
            return read_table(path, table)
    except (*READ_ERRORS, ValueError, TypeError, OverflowError) as exc:
        raise ValueError(_cannot_load(table, folder, describe_read_error(exc))) from exc
    raise ValueError(_cannot_load(table, folder, header))


def _cannot_load(table: Table, folder: Path, reason: str) -> str:
    return (f"{table.filename} in {folder} cannot be loaded: {reason}. "
            f"`opsbook world validate {folder}` lists every problem; `make data` regenerates the default world.")
