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
from .schema import DTYPES, PAID_CHANNELS, TABLES, Column, Rule, Table

LIMIT = 3
REGENERATE = "`make data` regenerates the default world"

READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)
"""What reading a damaged ``.csv.gz`` raises (checked before a wrong value's ValueError)."""

_PARSE_ERRORS = (ValueError, TypeError, OverflowError)
_WHO = {"user_id": "user", "author_id": "author", "inviter_id": "inviter"}
Frames = dict[str, pd.DataFrame]


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
        kind = DTYPES[column.dtype].expects
        problems += _rows(table.filename, column.name, unparsed[column.name],
                          lambda i, text=text, kind=kind: f"'{text.iat[i]}' is not {kind}")
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
    elif DTYPES[column.dtype].time_format:
        typed = pd.to_datetime(text, format=DTYPES[column.dtype].time_format, errors="coerce")
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
            problems += _rows(file, c.name, outside,
                              lambda i, values=values, allowed=allowed: f"'{values.iat[i]}' is not one of: {allowed}")
        if c.minimum is not None:
            problems += _rows(file, c.name, values < c.minimum,
                              lambda i, values=values, c=c: f"{values.iat[i]} is below the minimum {c.minimum:g}")
        if c.maximum is not None:
            problems += _rows(file, c.name, values > c.maximum,
                              lambda i, values=values, c=c: f"{values.iat[i]} is above the maximum {c.maximum:g}")
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
                              lambda i, noun=noun, values=values, parent=parent:
                              f"{noun} {values.iat[i]} is not in {parent}.csv.gz")
    return problems


def _check_rules(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """Every rule the schema states, each by its registered check (skipped when a table it needs is unreadable)."""
    problems = []
    for table in TABLES.values():
        if table.name not in frames:
            continue
        for rule in table.rules:
            problems += CHECKS[rule.check](frames, table, rule)
    return problems


def _signup_times(users: pd.DataFrame) -> pd.Series:
    """signup_time indexed by user_id (first row of a repeated id)."""
    users = users.dropna(subset=["user_id"]).drop_duplicates("user_id")
    return pd.Series(users["signup_time"].to_numpy(), index=users["user_id"].to_numpy())


def _lookup(frames: Frames, table: str, key: str, column: str) -> pd.Series:
    """``column`` of ``table`` indexed by its ``key`` (first row of a repeated key)."""
    df = frames[table].dropna(subset=[key]).drop_duplicates(key)
    return pd.Series(df[column].to_numpy(), index=df[key].to_numpy())


def _after_signup(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "users" not in frames:
        return []
    time_column, user_column = rule.args
    df = frames[table.name]
    users, times = df[user_column], df[time_column]
    joined = users.map(_signup_times(frames["users"]))
    who = _WHO.get(user_column, "user")
    return _rows(table.filename, time_column, times < joined,
                 lambda i: f"{times.iat[i]} is before {who} {users.iat[i]} signed up at {joined.iat[i]}")


def _referrer_iff_referral(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    users = frames[table.name]
    referral = users["channel"] == "referral"
    has = users["referrer_id"].notna()
    channel, referrer = users["channel"], users["referrer_id"]
    return _rows(table.filename, "referrer_id", referral & ~has,
                 lambda i: "empty, but channel is 'referral' (a referred user has a referrer)") + _rows(
        table.filename, "referrer_id", has & ~referral,
        lambda i: f"{referrer.iat[i]} is set, but channel is '{channel.iat[i]}' (only referral users have a referrer)",
    )


def _unique(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    key = frames[table.name][list(rule.args)]
    repeated = key.duplicated() & key.notna().all(axis=1)

    def describe(i: int) -> str:
        values = ", ".join(f"{k}={key[k].iat[i]}" for k in rule.args)
        return f"{values} repeats an earlier row ({rule.text})"

    return _rows(table.filename, ", ".join(rule.args), repeated, describe)


def _invitee_after_invite(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "users" not in frames:
        return []
    invites = frames[table.name]
    invitee, sent = invites["signed_up_user_id"], invites["sent_time"]
    joined = invitee.map(_signup_times(frames["users"]))
    return _rows(
        table.filename, "signed_up_user_id", joined < sent,
        lambda i: f"user {invitee.iat[i]} signed up at {joined.iat[i]}, before this invite was sent at {sent.iat[i]}",
    )


def mask_phone(phone: pd.Series) -> pd.Series:
    """``13812345678`` -> ``138****5678``: the masking of ``invites.invitee_contact``."""
    return phone.str.slice(0, 3) + "****" + phone.str.slice(-4)


def _invitee_contact_matches(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "users" not in frames:
        return []
    invites = frames[table.name]
    invitee, contact = invites["signed_up_user_id"], invites["invitee_contact"]
    expected = invitee.map(mask_phone(_lookup(frames, "users", "user_id", "phone")))
    wrong = expected.notna() & (contact != expected)
    return _rows(table.filename, "invitee_contact", wrong,
                 lambda i: f"'{contact.iat[i]}' is not the masked phone '{expected.iat[i]}' of user {invitee.iat[i]}")


def _paid_funnel(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    """A paid channel's clicks <= impressions and installs <= clicks."""
    spend = frames[table.name]
    paid = spend["channel"].isin(PAID_CHANNELS)
    problems = []
    for wide, narrow in (("impressions", "clicks"), ("clicks", "installs")):
        a, b = spend[wide], spend[narrow]
        problems += _rows(table.filename, narrow, paid & (b > a),
                          lambda i, a=a, b=b, wide=wide, narrow=narrow: f"{narrow} {b.iat[i]} > {wide} {a.iat[i]}")
    return problems


def _signups_within_installs(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "users" not in frames:
        return []
    users, spend = frames["users"], frames[table.name]
    signups = users.groupby([users["signup_time"].dt.normalize().rename("date"), "channel"]).size()
    key = pd.MultiIndex.from_arrays([spend["date"], spend["channel"]])
    count = pd.Series(signups.reindex(key).fillna(0).to_numpy(), index=spend.index)
    installs = spend["installs"]
    return _rows(table.filename, "installs", count > installs,
                 lambda i: f"{installs.iat[i]} installs, but {int(count.iat[i])} users of this channel signed up "
                           "that day")


def _ends_after_start(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    df = frames[table.name]
    start_column, end_column = rule.args
    start, end = df[start_column], df[end_column]
    return _rows(table.filename, end_column, end <= start,
                 lambda i: f"{end.iat[i]} is not after {start_column} {start.iat[i]}")


def _post_matches_content(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "content" not in frames:
        return []
    events = frames[table.name]
    post = (events["event_type"] == "post") & events["content_id"].notna()
    author = events["content_id"].map(_lookup(frames, "content", "content_id", "author_id"))
    created = events["content_id"].map(_lookup(frames, "content", "content_id", "created_time"))
    ok = (author == events["user_id"]).fillna(False) & (created == events["event_time"]).fillna(False)
    cid, user = events["content_id"], events["user_id"]

    def describe(i: int) -> str:
        by = "the editorial team" if pd.isna(author.iat[i]) else f"user {int(author.iat[i])}"
        return (f"post event of user {user.iat[i]} at {events['event_time'].iat[i]} names content {cid.iat[i]}, "
                f"created by {by} at {created.iat[i]}")

    return _rows(table.filename, "content_id", post & ~ok, describe)


def _official_iff_no_author(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    content = frames[table.name]
    official, no_author = content["is_official"], content["author_id"].isna()
    return _rows(table.filename, "is_official", official != no_author,
                 lambda i: f"{official.iat[i]}, but author_id is "
                           f"{'empty' if no_author.iat[i] else content['author_id'].iat[i]}")


def _targets_signed_up(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if not {"users", "campaigns"} <= frames.keys():
        return []
    targets = frames[table.name]
    start = targets["campaign_id"].map(_lookup(frames, "campaigns", "campaign_id", "start_time"))
    joined = targets["user_id"].map(_signup_times(frames["users"]))
    user = targets["user_id"]
    return _rows(table.filename, "user_id", joined >= start,
                 lambda i: f"user {user.iat[i]} signed up at {joined.iat[i]}, not before the campaign started at "
                           f"{start.iat[i]}")


def _after_thread(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "threads" not in frames:
        return []
    (time_column,) = rule.args
    df = frames[table.name]
    created = df["thread_id"].map(_lookup(frames, "threads", "thread_id", "created_time"))
    times = df[time_column]
    return _rows(table.filename, time_column, times < created,
                 lambda i: f"{times.iat[i]} is before thread {df['thread_id'].iat[i]} was posted at {created.iat[i]}")


def _member_at_time(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    """The user belonged to the group (of the row, or of its thread) at that time."""
    if "group_members" not in frames or ("group_id" not in frames[table.name] and "threads" not in frames):
        return []
    time_column, user_column = rule.args
    df = frames[table.name]
    group = df["group_id"] if "group_id" in df else df["thread_id"].map(_lookup(frames, "threads", "thread_id",
                                                                                "group_id"))
    members = frames["group_members"].dropna(subset=["group_id", "user_id"]).drop_duplicates(["group_id", "user_id"])
    rows = pd.DataFrame({"group_id": group.to_numpy(), "user_id": df[user_column].to_numpy(),
                         "time": df[time_column].to_numpy()})
    found = rows.merge(members, on=["group_id", "user_id"], how="left")
    still_in = found["leave_time"].isna() | (found["time"] < found["leave_time"])
    inside = (found["join_time"] <= found["time"]) & still_in
    found["group_id"] = found["group_id"].astype("Int64")
    return _rows(table.filename, user_column, ~inside.fillna(False).to_numpy(),
                 lambda i: f"user {rows['user_id'].iat[i]} was not a member of group {found['group_id'].iat[i]} "
                           f"at {rows['time'].iat[i]}")


def _moderated_target(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    actions = frames[table.name]
    posted = pd.Series(pd.NaT, index=actions.index, dtype="datetime64[ns]")
    known = pd.Series(True, index=actions.index)
    for kind, source, key, time_column in (("thread", "threads", "thread_id", "created_time"),
                                           ("reply", "replies", "reply_id", "reply_time")):
        if source not in frames:
            known &= actions["target_type"] != kind
            continue
        rows = actions["target_type"] == kind
        posted[rows] = actions.loc[rows, "target_id"].map(_lookup(frames, source, key, time_column))
    kind, target, at = actions["target_type"], actions["target_id"], actions["action_time"]
    missing = known & posted.isna() & kind.isin(["thread", "reply"])
    return _rows(table.filename, "target_id", missing,
                 lambda i: f"{kind.iat[i]} {target.iat[i]} does not exist") + _rows(
        table.filename, "action_time", at < posted,
        lambda i: f"{at.iat[i]} is before {kind.iat[i]} {target.iat[i]} was posted at {posted.iat[i]}")


def _kept_leads_only(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    leads = frames[table.name]
    kept, status = leads["clean_status"] == "kept", leads["clean_status"]
    return _rows(table.filename, "tier", kept & leads["tier"].isna(),
                 lambda i: "empty, but the lead was kept (every kept lead is scored)") + _rows(
        table.filename, "tier", ~kept & leads["tier"].notna(),
        lambda i: f"'{leads['tier'].iat[i]}' is set, but the lead was dropped as '{status.iat[i]}'") + _rows(
        table.filename, "first_followup_time", ~kept & leads["first_followup_time"].notna(),
        lambda i: f"a dropped lead ('{status.iat[i]}') was followed up")


def _lead_order(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    leads = frames[table.name]
    created, follow, converted = leads["created_time"], leads["first_followup_time"], leads["converted_time"]
    amount = leads["amount"]
    return (
        _rows(table.filename, "first_followup_time", follow < created,
              lambda i: f"{follow.iat[i]} is before the lead was created at {created.iat[i]}")
        + _rows(table.filename, "converted_time", converted.notna() & ~(converted >= follow).fillna(False),
                lambda i: f"{converted.iat[i]} is not after a follow-up (first_followup_time {follow.iat[i]})")
        + _rows(table.filename, "amount", converted.notna() != amount.notna(),
                lambda i: f"{amount.iat[i]}, but converted_time is {converted.iat[i]} (amount is set exactly "
                          "when the lead converted)")
    )


CHECKS: dict[str, Callable[[dict[str, pd.DataFrame], Table, Rule], list[Problem]]] = {
    "after_signup": _after_signup,
    "referrer_iff_referral": _referrer_iff_referral,
    "unique": _unique,
    "invitee_after_invite": _invitee_after_invite,
    "invitee_contact_matches": _invitee_contact_matches,
    "paid_funnel": _paid_funnel,
    "signups_within_installs": _signups_within_installs,
    "ends_after_start": _ends_after_start,
    "post_matches_content": _post_matches_content,
    "official_iff_no_author": _official_iff_no_author,
    "targets_signed_up": _targets_signed_up,
    "after_thread": _after_thread,
    "member_at_time": _member_at_time,
    "moderated_target": _moderated_target,
    "kept_leads_only": _kept_leads_only,
    "lead_order": _lead_order,
}
"""The validator's check for each kind of schema rule: ``check(frames, table, rule) -> problems``."""


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
