"""Check a world folder against the schema: files, types, keys and the rules between tables.

Every problem is written for a learner: it names the file, the column, the
data row (row 1 is the first line after the header) and the offending value.
Each check reports at most ``LIMIT`` rows, the last one saying how many more
rows fail the same way.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .io import MANIFEST, file_sha256, read_manifest, read_table
from .schema import DATE_FORMAT, PAID_CHANNELS, TABLES, TIME_FORMAT, Column, Table

LIMIT = 3
REGENERATE = "`make data` regenerates the default world"

READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)
"""What reading a damaged ``.csv.gz`` raises (checked before a wrong value's ValueError)."""

_PARSE_ERRORS = (ValueError, TypeError, OverflowError)
_KIND = {
    "int": "a whole number",
    "Int": "a whole number (or empty)",
    "float": "a number",
    "bool": "True or False",
    "datetime": "a time like 2025-01-31 08:05:00",
    "date": "a date like 2025-01-31",
}
# (table, time column, user column): nothing happens before that user signed up.
_AFTER_SIGNUP = (
    ("events", "event_time", "user_id"),
    ("orders", "order_time", "user_id"),
    ("content", "created_time", "author_id"),
    ("feedback", "feedback_time", "user_id"),
    ("experiments", "exposure_time", "user_id"),
    ("invites", "sent_time", "inviter_id"),
)
_WHO = {"user_id": "user", "author_id": "author", "inviter_id": "inviter"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a world; ``str()`` gives the learner-facing message."""

    file: str
    message: str
    column: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Report:
    """Everything ``run_checks`` found, and the rows of each table it could read."""

    problems: list[Problem]
    row_counts: dict[str, int]


class WorldValidationError(ValueError):
    """A world folder does not match its schema; ``.problems`` lists why."""

    def __init__(self, problems: list[Problem], data_dir: Path):
        self.problems = problems
        super().__init__(format_problems(problems, data_dir))


def validate_world(data_dir: Path, check_manifest: bool = True) -> list[Problem]:
    """Return every problem of the world in ``data_dir`` (empty when it is valid)."""
    return run_checks(data_dir, check_manifest).problems


def check_world(data_dir: Path, check_manifest: bool = True) -> None:
    """Raise ``WorldValidationError`` with a readable summary when the world is not valid."""
    problems = validate_world(data_dir, check_manifest)
    if problems:
        raise WorldValidationError(problems, Path(data_dir))


def format_problems(problems: list[Problem], data_dir: Path) -> str:
    """A short multi-line summary of ``problems``, one per line."""
    lines = [f"{len(problems)} problem(s) in the world at {data_dir}:"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


def run_checks(data_dir: Path, check_manifest: bool = True) -> Report:
    """Check files, checksums, every column, keys and the rules between tables."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        message = f"No world folder at {data_dir.resolve()}: {REGENERATE}, or give the folder with the *.csv.gz tables."
        return Report([Problem(str(data_dir), message)], {})
    problems = _check_manifest(data_dir) if check_manifest else []
    frames: dict[str, pd.DataFrame] = {}
    for table in TABLES.values():
        df, found = _load(data_dir, table)
        problems += found
        if df is not None:
            frames[table.name] = df
    problems += _check_foreign_keys(frames)
    problems += _check_rules(frames)
    return Report(problems, {name: len(df) for name, df in frames.items()})


def describe_read_error(exc: BaseException) -> str:
    """Say in words why a ``.csv.gz`` file could not be read."""
    if isinstance(exc, EOFError):
        return "the file ends early (the gzip data is truncated)"
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return f"it is not valid gzip data ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "it is empty, without even a header line"
    if isinstance(exc, KeyError):
        return f"column {exc} is missing"
    return str(exc)


def compare_header(found: list[str], table: Table) -> str | None:
    """Describe how a file's header differs from the schema's columns, or None when it matches."""
    expected = [c.name for c in table.columns]
    if found == expected:
        return None
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    parts = [f"missing column {c}" for c in missing] + [f"unexpected column {c}" for c in extra]
    return "; ".join(parts) or f"columns are out of order, expected: {', '.join(expected)}"


def _check_manifest(data_dir: Path) -> list[Problem]:
    if not (data_dir / MANIFEST).exists():
        return []
    try:
        expected = read_manifest(data_dir)
    except (ValueError, UnicodeDecodeError) as exc:
        return [Problem(MANIFEST, f"{MANIFEST} cannot be read ({exc}); {REGENERATE}.")]
    tables = {t.filename for t in TABLES.values()}
    problems = [
        Problem(name, f"{name} is not listed in {MANIFEST}, so it cannot be checked; {REGENERATE}.")
        for name in sorted(tables - expected.keys())
    ]
    for name, digest in expected.items():
        path = data_dir / name
        if not path.exists():
            if name not in tables:  # a missing table is reported by its own check
                problems.append(Problem(name, f"{name} is listed in {MANIFEST} but missing; {REGENERATE}."))
        elif file_sha256(path) != digest:
            problems.append(Problem(name, f"{name} changed since the world was generated "
                                          f"(its sha256 differs from {MANIFEST}); {REGENERATE}."))
    return problems


def _load(data_dir: Path, table: Table) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one table with typed columns, or None when it cannot be checked further."""
    path, file = data_dir / table.filename, table.filename
    if not path.is_file():
        return None, [Problem(file, f"{file} is missing from {data_dir}; {REGENERATE}.")]
    try:
        header = compare_header(list(pd.read_csv(path, nrows=0).columns), table)
        if header:
            return None, [Problem(file, f"{file}: {header}; {REGENERATE}.")]
        df, problems, unparsed = _read(path, table)
    except READ_ERRORS as exc:
        return None, [Problem(file, f"{file} cannot be read: {describe_read_error(exc)}; {REGENERATE}.")]
    return df, problems + _check_columns(df, table, unparsed) + _check_primary_key(df, table)


def _read(path: Path, table: Table) -> tuple[pd.DataFrame, list[Problem], dict[str, np.ndarray]]:
    """The loader's fast typed read; when it rejects a value, a slower parse that names it."""
    try:
        return read_table(path, table), [], {}
    except READ_ERRORS:
        raise
    except _PARSE_ERRORS:
        return _parse_raw(path, table)


def _parse_raw(path: Path, table: Table) -> tuple[pd.DataFrame, list[Problem], dict[str, np.ndarray]]:
    """Parse, column by column, a table the loader rejects: typed frame, problems, unparsable cells."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    df, problems, unparsed = pd.DataFrame(index=raw.index), [], {}
    for column in table.columns:
        text = raw[column.name]
        df[column.name], unparsed[column.name] = _parse_column(text, column)
        kind = _KIND.get(column.dtype)
        problems += _rows(table.filename, column.name, unparsed[column.name],
                          lambda i: f"'{text.iat[i]}' is not {kind}")
    return df, problems, unparsed


def _parse_column(text: pd.Series, column: Column) -> tuple[pd.Series, np.ndarray]:
    """Typed values (missing where unparsable) and the mask of unparsable non-empty cells."""
    present = text.notna()
    if column.dtype in ("int", "Int"):
        ok = text.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).astype(bool)
        typed = text.where(ok).astype("Int64")
    elif column.dtype == "float":
        typed = pd.to_numeric(text, errors="coerce")
        ok = typed.notna()
    elif column.dtype == "bool":
        typed = text.map({"True": True, "False": False}).astype("boolean")
        ok = typed.notna()
    elif column.dtype in ("datetime", "date"):
        fmt = DATE_FORMAT if column.dtype == "date" else TIME_FORMAT
        typed = pd.to_datetime(text, format=fmt, errors="coerce")
        ok = typed.notna()
    else:
        typed, ok = text, present
    return typed, _flags(present & ~ok)


def _check_columns(df: pd.DataFrame, table: Table, unparsed: dict[str, np.ndarray]) -> list[Problem]:
    """Nullability (of cells not already reported as unparsable), allowed values and ranges."""
    problems, file = [], table.filename
    for c in table.columns:
        values = df[c.name]
        if not c.nullable:
            empty = _flags(values.isna()) & ~unparsed.get(c.name, np.zeros(len(df), dtype=bool))
            problems += _rows(file, c.name, empty, lambda i: "empty, but every row needs a value")
        if c.values is not None:
            outside = values.notna() & ~values.isin(c.values)
            allowed = ", ".join(c.values)
            problems += _rows(file, c.name, outside, lambda i: f"'{values.iat[i]}' is not one of: {allowed}")
        if c.minimum is not None:
            problems += _rows(file, c.name, values < c.minimum,
                              lambda i: f"{values.iat[i]} is below the minimum {c.minimum:g}")
        if c.maximum is not None:
            problems += _rows(file, c.name, values > c.maximum,
                              lambda i: f"{values.iat[i]} is above the maximum {c.maximum:g}")
    return problems


def _check_primary_key(df: pd.DataFrame, table: Table) -> list[Problem]:
    if not table.primary_key:
        return []
    key = df[list(table.primary_key)]
    repeated = key.duplicated() & key.notna().all(axis=1)

    def describe(i: int) -> str:
        values = ", ".join(f"{k}={key[k].iat[i]}" for k in table.primary_key)
        return f"{values} repeats an earlier row (the key must be unique)"

    return _rows(table.filename, ", ".join(table.primary_key), repeated, describe)


def _check_foreign_keys(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """Every reference points to an existing row (checked when both tables could be read)."""
    problems = []
    for table in TABLES.values():
        for c in table.columns:
            if c.references is None:
                continue
            parent, key = c.references.split(".")
            if table.name not in frames or parent not in frames:
                continue
            values = frames[table.name][c.name]
            missing = values.notna() & ~values.isin(frames[parent][key].dropna())
            noun = key.removesuffix("_id")
            problems += _rows(table.filename, c.name, missing,
                              lambda i: f"{noun} {values.iat[i]} is not in {parent}.csv.gz")
    return problems


def _check_rules(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """The rules between columns and tables that the schema states in words."""
    problems = []
    if "users" in frames:
        problems += _check_signup_order(frames) + _check_referrers(frames["users"])
    if {"users", "invites"} <= frames.keys():
        problems += _check_invitees(frames["invites"], _signup_times(frames["users"]))
    if "channel_spend" in frames:
        problems += _check_funnel(frames["channel_spend"])
    if "campaigns" in frames:
        problems += _check_campaign_dates(frames["campaigns"])
    return problems


def _signup_times(users: pd.DataFrame) -> pd.Series:
    """signup_time indexed by user_id (first row of a repeated id)."""
    users = users.dropna(subset=["user_id"]).drop_duplicates("user_id")
    return pd.Series(users["signup_time"].to_numpy(), index=users["user_id"].to_numpy())


def _check_signup_order(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    signup = _signup_times(frames["users"])
    problems = []
    for name, time_column, user_column in _AFTER_SIGNUP:
        if name not in frames:
            continue
        df = frames[name]
        users, times = df[user_column], df[time_column]
        joined = users.map(signup)
        who = _WHO[user_column]
        problems += _rows(
            TABLES[name].filename, time_column, times < joined,
            lambda i: f"{times.iat[i]} is before {who} {users.iat[i]} signed up at {joined.iat[i]}",
        )
    return problems


def _check_referrers(users: pd.DataFrame) -> list[Problem]:
    referral = users["channel"] == "referral"
    has = users["referrer_id"].notna()
    channel, referrer = users["channel"], users["referrer_id"]
    return _rows("users.csv.gz", "referrer_id", referral & ~has,
                 lambda i: "empty, but channel is 'referral' (a referred user has a referrer)") + _rows(
        "users.csv.gz", "referrer_id", has & ~referral,
        lambda i: f"{referrer.iat[i]} is set, but channel is '{channel.iat[i]}' (only referral users have a referrer)",
    )


def _check_invitees(invites: pd.DataFrame, signup: pd.Series) -> list[Problem]:
    invitee, sent = invites["signed_up_user_id"], invites["sent_time"]
    joined = invitee.map(signup)
    return _rows(
        "invites.csv.gz", "signed_up_user_id", joined < sent,
        lambda i: f"user {invitee.iat[i]} signed up at {joined.iat[i]}, before this invite was sent at {sent.iat[i]}",
    )


def _check_funnel(spend: pd.DataFrame) -> list[Problem]:
    """A paid channel's clicks <= impressions and installs <= clicks."""
    paid = spend["channel"].isin(PAID_CHANNELS)
    problems = []
    for wide, narrow in (("impressions", "clicks"), ("clicks", "installs")):
        a, b = spend[wide], spend[narrow]
        problems += _rows("channel_spend.csv.gz", narrow, paid & (b > a),
                          lambda i: f"{narrow} {b.iat[i]} > {wide} {a.iat[i]}")
    return problems


def _check_campaign_dates(campaigns: pd.DataFrame) -> list[Problem]:
    start, end = campaigns["start_time"], campaigns["end_time"]
    return _rows("campaigns.csv.gz", "end_time", end <= start,
                 lambda i: f"{end.iat[i]} is not after start_time {start.iat[i]}")


def _flags(mask: pd.Series) -> np.ndarray:
    """A plain boolean array, missing counted as False."""
    return np.asarray(pd.Series(mask).fillna(False), dtype=bool)


def _rows(file: str, column: str, mask: pd.Series | np.ndarray, describe: Callable[[int], str]) -> list[Problem]:
    """One problem per flagged row (0-based positions), at most ``LIMIT``."""
    positions = np.flatnonzero(_flags(mask))
    label = "columns" if ", " in column else "column"
    problems = [
        Problem(file, f"{file}, {label} {column}, row {i + 1}: {describe(int(i))}", column, int(i) + 1)
        for i in positions[:LIMIT]
    ]
    if len(positions) > LIMIT:
        problems[-1] = replace(problems[-1], message=f"{problems[-1].message} "
                                                     f"(and {len(positions) - LIMIT:,} more rows like this)")
    return problems
