"""Check a world folder against the schema: files, types, keys and the rules between tables.

Every problem is written for a learner: it names the file, the column, the
data row (row 1 is the first line after the header) and the offending value.
Each check reports at most ``LIMIT`` rows, the last one saying how many more
rows fail the same way. Messages are written in the current language
(``opsbook.language``: English, or Chinese with ``OPSBOOK_LANG=zh``); the texts
of both are in ``_TEXT``.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from opsbook import language

from .io import MANIFEST, file_sha256, read_manifest, read_table
from .schema import DTYPES, PAID_CHANNELS, TABLES, Column, Rule, Table

LIMIT = 3
REGENERATE = "`make data` regenerates the default world"
"""How to repair the default world (English; ``_say("regenerate")`` gives it in the current language)."""

READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)
"""What reading a damaged ``.csv.gz`` raises (checked before a wrong value's ValueError)."""

_PARSE_ERRORS = (ValueError, TypeError, OverflowError)
_WHO = {"user_id": "user", "author_id": "author", "inviter_id": "inviter"}
Frames = dict[str, pd.DataFrame]

_TEXT = {
    "regenerate": {"en": REGENERATE, "zh": "`make data` 会重新生成默认世界"},
    "no_folder": {"en": "No world folder at {path}: {regenerate}, or give the folder with the *.csv.gz tables.",
                  "zh": "{path} 处没有数据世界文件夹：{regenerate}，或者指定存放 *.csv.gz 数据表的文件夹。"},
    "summary": {"en": "{count} problem(s) in the world at {data_dir}:",
                "zh": "{data_dir} 处的数据世界有 {count} 个问题："},
    # why a .csv.gz file cannot be read
    "truncated": {"en": "the file ends early (the gzip data is truncated)",
                  "zh": "文件提前结束了（gzip 数据被截断）"},
    "not_gzip": {"en": "it is not valid gzip data ({error})", "zh": "它不是有效的 gzip 数据（{error}）"},
    "not_utf8": {"en": "it is not UTF-8 text", "zh": "它不是 UTF-8 文本"},
    "empty_file": {"en": "it is empty, without even a header line", "zh": "它是空的，连表头行都没有"},
    "no_column": {"en": "column {error} is missing", "zh": "缺少列 {error}"},
    # a header that differs from the schema
    "missing_column": {"en": "missing column {column}", "zh": "缺少列 {column}"},
    "extra_column": {"en": "unexpected column {column}", "zh": "多出了列 {column}"},
    "separator": {"en": "; ", "zh": "；"},
    "out_of_order": {"en": "columns are out of order, expected: {expected}", "zh": "列的顺序不对，应为：{expected}"},
    # files and checksums
    "manifest_unreadable": {"en": "{manifest} cannot be read ({error}); {regenerate}.",
                            "zh": "{manifest} 无法读取（{error}）；{regenerate}。"},
    "not_listed": {"en": "{name} is not listed in {manifest}, so it cannot be checked; {regenerate}.",
                   "zh": "{name} 没有列在 {manifest} 中，因此无法校验；{regenerate}。"},
    "listed_missing": {"en": "{name} is listed in {manifest} but missing; {regenerate}.",
                       "zh": "{name} 列在 {manifest} 中，但文件不存在；{regenerate}。"},
    "changed": {"en": "{name} changed since the world was generated (its sha256 differs from {manifest}); "
                      "{regenerate}.",
                "zh": "{name} 在世界生成之后被改动过（它的 sha256 与 {manifest} 中的不一致）；{regenerate}。"},
    "file_missing": {"en": "{file} is missing from {data_dir}; {regenerate}.",
                     "zh": "{data_dir} 中缺少 {file}；{regenerate}。"},
    "bad_header": {"en": "{file}: {header}; {regenerate}.", "zh": "{file}：{header}；{regenerate}。"},
    "unreadable": {"en": "{file} cannot be read: {reason}; {regenerate}.",
                   "zh": "{file} 无法读取：{reason}；{regenerate}。"},
    # one row's problem: where, then what
    "column": {"en": "column", "zh": "列"},
    "columns": {"en": "columns", "zh": "列"},
    "row": {"en": "{file}, {label} {column}, row {row}: {what}", "zh": "{file}，{label} {column}，第 {row} 行：{what}"},
    "more_rows": {"en": "{message} (and {more:,} more rows like this)",
                  "zh": "{message}（另有 {more:,} 行同样的问题）"},
    # values and keys
    "not_kind": {"en": "'{value}' is not {kind}", "zh": "'{value}' 不是{kind}"},
    "empty": {"en": "empty, but every row needs a value", "zh": "为空，但每一行都必须有值"},
    "not_allowed": {"en": "'{value}' is not one of: {allowed}", "zh": "'{value}' 不是允许的取值之一：{allowed}"},
    "below": {"en": "{value} is below the minimum {minimum:g}", "zh": "{value} 小于最小值 {minimum:g}"},
    "above": {"en": "{value} is above the maximum {maximum:g}", "zh": "{value} 大于最大值 {maximum:g}"},
    "repeated_key": {"en": "{values} repeats an earlier row (the key must be unique)",
                     "zh": "{values} 与前面的某一行重复（主键必须唯一）"},
    "no_parent": {"en": "{noun} {value} is not in {parent}.csv.gz", "zh": "{parent}.csv.gz 中没有 {key} = {value}"},
    # the rules between tables
    "user": {"en": "user", "zh": "用户"},
    "author": {"en": "author", "zh": "作者"},
    "inviter": {"en": "inviter", "zh": "邀请人"},
    "before_signup": {"en": "{time} is before {who} {user} signed up at {joined}",
                      "zh": "{time} 早于{who} {user} 的注册时间 {joined}"},
    "no_referrer": {"en": "empty, but channel is 'referral' (a referred user has a referrer)",
                    "zh": "为空，但 channel 是 'referral'（被邀请来的用户一定有邀请人）"},
    "stray_referrer": {"en": "{referrer} is set, but channel is '{channel}' (only referral users have a referrer)",
                       "zh": "值为 {referrer}，但 channel 是 '{channel}'（只有 referral 渠道的用户才有邀请人）"},
    "repeated": {"en": "{values} repeats an earlier row ({rule})", "zh": "{values} 与前面的某一行重复（{rule}）"},
    "invite_after_signup": {"en": "user {user} signed up at {joined}, before this invite was sent at {sent}",
                            "zh": "用户 {user} 在 {joined} 注册，早于这条邀请的发送时间 {sent}"},
    "contact": {"en": "'{contact}' is not the masked phone '{expected}' of user {user}",
                "zh": "'{contact}' 不是用户 {user} 脱敏后的手机号 '{expected}'"},
    "installs": {"en": "{installs} installs, but {count} users of this channel signed up that day",
                 "zh": "installs 为 {installs}，但当天有 {count} 个该渠道的用户注册"},
    "not_after": {"en": "{end} is not after {start_column} {start}", "zh": "{end} 不晚于 {start_column} {start}"},
    "editorial": {"en": "the editorial team", "zh": "编辑团队"},
    "by_user": {"en": "user {author}", "zh": "用户 {author}"},
    "post_content": {"en": "post event of user {user} at {time} names content {content}, created by {by} at {created}",
                     "zh": "用户 {user} 在 {time} 的 post 事件指向内容 {content}，而该内容的创建者是{by}，"
                           "创建时间 {created}"},
    "official": {"en": "{official}, but author_id is {author}", "zh": "值为 {official}，但 author_id {author}"},
    "no_author": {"en": "empty", "zh": "为空"},
    "an_author": {"en": "{author}", "zh": "是 {author}"},
    "target_late": {"en": "user {user} signed up at {joined}, not before the campaign started at {start}",
                    "zh": "用户 {user} 在 {joined} 注册，并不早于活动的开始时间 {start}"},
    "before_thread": {"en": "{time} is before thread {thread} was posted at {created}",
                      "zh": "{time} 早于话题 {thread} 的发布时间 {created}"},
    "not_member": {"en": "user {user} was not a member of group {group} at {time}",
                   "zh": "用户 {user} 在 {time} 不是群 {group} 的成员"},
    "no_target": {"en": "{kind} {target} does not exist", "zh": "{kind} {target} 不存在"},
    "before_posted": {"en": "{at} is before {kind} {target} was posted at {posted}",
                      "zh": "{at} 早于 {kind} {target} 的发布时间 {posted}"},
    "no_tier": {"en": "empty, but the lead was kept (every kept lead is scored)",
                "zh": "为空，但这条线索被保留了（每条保留的线索都有评分）"},
    "stray_tier": {"en": "'{tier}' is set, but the lead was dropped as '{status}'",
                   "zh": "值为 '{tier}'，但这条线索已作为 '{status}' 被剔除"},
    "dropped_followed": {"en": "a dropped lead ('{status}') was followed up",
                         "zh": "被剔除的线索（'{status}'）却被跟进了"},
    "followup_early": {"en": "{follow} is before the lead was created at {created}",
                       "zh": "{follow} 早于线索的创建时间 {created}"},
    "converted_early": {"en": "{converted} is not after a follow-up (first_followup_time {follow})",
                        "zh": "{converted} 不在跟进之后（first_followup_time 为 {follow}）"},
    "amount": {"en": "{amount}, but converted_time is {converted} (amount is set exactly when the lead converted)",
               "zh": "值为 {amount}，但 converted_time 是 {converted}（当且仅当线索成交时 amount 才有值）"},
}
"""Every message of the validator, in English and Chinese (``str.format`` templates)."""

_EXPECTS_ZH = {"int": "整数", "Int": "整数（或留空）", "float": "数字", "bool": "布尔值 True 或 False",
               "datetime": "形如 2025-01-31 08:05:00 的时间", "date": "形如 2025-01-31 的日期"}
"""``DTYPES[...].expects`` in Chinese, by dtype."""


def _say(key: str, /, **fields: object) -> str:
    """Message ``key`` of ``_TEXT`` in the current language, filled in with ``fields``."""
    return language.pick(_TEXT[key], **fields)


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
    lines = [_say("summary", count=len(problems), data_dir=data_dir)]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


def run_checks(data_dir: Path, check_manifest: bool = True) -> Report:
    """Check files, checksums, every column, keys and the rules between tables."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        message = _say("no_folder", path=data_dir.resolve(), regenerate=_say("regenerate"))
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
        return _say("truncated")
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return _say("not_gzip", error=exc)
    if isinstance(exc, UnicodeDecodeError):
        return _say("not_utf8")
    if isinstance(exc, pd.errors.EmptyDataError):
        return _say("empty_file")
    if isinstance(exc, KeyError):
        return _say("no_column", error=exc)
    return str(exc)


def compare_header(found: list[str], table: Table) -> str | None:
    """Describe how a file's header differs from the schema's columns, or None when it matches."""
    expected = [c.name for c in table.columns]
    if found == expected:
        return None
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    parts = [_say("missing_column", column=c) for c in missing] + [_say("extra_column", column=c) for c in extra]
    return _say("separator").join(parts) or _say("out_of_order", expected=", ".join(expected))


def _check_manifest(data_dir: Path) -> list[Problem]:
    if not (data_dir / MANIFEST).exists():
        return []
    try:
        expected = read_manifest(data_dir)
    except (ValueError, UnicodeDecodeError) as exc:
        return [Problem(MANIFEST, _say("manifest_unreadable", manifest=MANIFEST, error=exc,
                                       regenerate=_say("regenerate")))]
    tables = {t.filename for t in TABLES.values()}
    problems = [
        Problem(name, _say("not_listed", name=name, manifest=MANIFEST, regenerate=_say("regenerate")))
        for name in sorted(tables - expected.keys())
    ]
    for name, digest in expected.items():
        path = data_dir / name
        if not path.exists():
            if name not in tables:  # a missing table is reported by its own check
                problems.append(Problem(name, _say("listed_missing", name=name, manifest=MANIFEST,
                                                   regenerate=_say("regenerate"))))
        elif file_sha256(path) != digest:
            problems.append(Problem(name, _say("changed", name=name, manifest=MANIFEST,
                                               regenerate=_say("regenerate"))))
    return problems


def _load(data_dir: Path, table: Table) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one table with typed columns, or None when it cannot be checked further."""
    path, file = data_dir / table.filename, table.filename
    if not path.is_file():
        return None, [Problem(file, _say("file_missing", file=file, data_dir=data_dir, regenerate=_say("regenerate")))]
    try:
        header = compare_header(list(pd.read_csv(path, nrows=0).columns), table)
        if header:
            return None, [Problem(file, _say("bad_header", file=file, header=header, regenerate=_say("regenerate")))]
        df, problems, unparsed = _read(path, table)
    except READ_ERRORS as exc:
        return None, [Problem(file, _say("unreadable", file=file, reason=describe_read_error(exc),
                                         regenerate=_say("regenerate")))]
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
        kind = language.pick({"en": DTYPES[column.dtype].expects or "", "zh": _EXPECTS_ZH.get(column.dtype, "")})
        problems += _rows(table.filename, column.name, unparsed[column.name],
                          lambda i, text=text, kind=kind: _say("not_kind", value=text.iat[i], kind=kind))
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
            problems += _rows(file, c.name, empty, lambda i: _say("empty"))
        if c.values is not None:
            outside = values.notna() & ~values.isin(c.values)
            allowed = ", ".join(c.values)
            problems += _rows(file, c.name, outside,
                              lambda i, values=values, allowed=allowed: _say("not_allowed", value=values.iat[i],
                                                                             allowed=allowed))
        if c.minimum is not None:
            problems += _rows(file, c.name, values < c.minimum,
                              lambda i, values=values, c=c: _say("below", value=values.iat[i], minimum=c.minimum))
        if c.maximum is not None:
            problems += _rows(file, c.name, values > c.maximum,
                              lambda i, values=values, c=c: _say("above", value=values.iat[i], maximum=c.maximum))
    return problems


def _check_primary_key(df: pd.DataFrame, table: Table) -> list[Problem]:
    if not table.primary_key:
        return []
    key = df[list(table.primary_key)]
    repeated = key.duplicated() & key.notna().all(axis=1)

    def describe(i: int) -> str:
        values = ", ".join(f"{k}={key[k].iat[i]}" for k in table.primary_key)
        return _say("repeated_key", values=values)

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
                              lambda i, noun=noun, key=key, values=values, parent=parent:
                              _say("no_parent", noun=noun, key=key, value=values.iat[i], parent=parent))
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
    who = _say(_WHO.get(user_column, "user"))
    return _rows(table.filename, time_column, times < joined,
                 lambda i: _say("before_signup", time=times.iat[i], who=who, user=users.iat[i], joined=joined.iat[i]))


def _referrer_iff_referral(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    users = frames[table.name]
    referral = users["channel"] == "referral"
    has = users["referrer_id"].notna()
    channel, referrer = users["channel"], users["referrer_id"]
    return _rows(table.filename, "referrer_id", referral & ~has,
                 lambda i: _say("no_referrer")) + _rows(
        table.filename, "referrer_id", has & ~referral,
        lambda i: _say("stray_referrer", referrer=referrer.iat[i], channel=channel.iat[i]),
    )


def _unique(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    key = frames[table.name][list(rule.args)]
    repeated = key.duplicated() & key.notna().all(axis=1)

    def describe(i: int) -> str:
        values = ", ".join(f"{k}={key[k].iat[i]}" for k in rule.args)
        return _say("repeated", values=values, rule=_rule_text(rule.text))

    return _rows(table.filename, ", ".join(rule.args), repeated, describe)


def _invitee_after_invite(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "users" not in frames:
        return []
    invites = frames[table.name]
    invitee, sent = invites["signed_up_user_id"], invites["sent_time"]
    joined = invitee.map(_signup_times(frames["users"]))
    return _rows(
        table.filename, "signed_up_user_id", joined < sent,
        lambda i: _say("invite_after_signup", user=invitee.iat[i], joined=joined.iat[i], sent=sent.iat[i]),
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
                 lambda i: _say("contact", contact=contact.iat[i], expected=expected.iat[i], user=invitee.iat[i]))


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
                 lambda i: _say("installs", installs=installs.iat[i], count=int(count.iat[i])))


def _ends_after_start(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    df = frames[table.name]
    start_column, end_column = rule.args
    start, end = df[start_column], df[end_column]
    return _rows(table.filename, end_column, end <= start,
                 lambda i: _say("not_after", end=end.iat[i], start_column=start_column, start=start.iat[i]))


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
        by = _say("editorial") if pd.isna(author.iat[i]) else _say("by_user", author=int(author.iat[i]))
        return _say("post_content", user=user.iat[i], time=events["event_time"].iat[i], content=cid.iat[i], by=by,
                    created=created.iat[i])

    return _rows(table.filename, "content_id", post & ~ok, describe)


def _official_iff_no_author(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    content = frames[table.name]
    official, no_author = content["is_official"], content["author_id"].isna()
    return _rows(table.filename, "is_official", official != no_author,
                 lambda i: _say("official", official=official.iat[i], author=_say("no_author") if no_author.iat[i]
                                else _say("an_author", author=content["author_id"].iat[i])))


def _targets_signed_up(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if not {"users", "campaigns"} <= frames.keys():
        return []
    targets = frames[table.name]
    start = targets["campaign_id"].map(_lookup(frames, "campaigns", "campaign_id", "start_time"))
    joined = targets["user_id"].map(_signup_times(frames["users"]))
    user = targets["user_id"]
    return _rows(table.filename, "user_id", joined >= start,
                 lambda i: _say("target_late", user=user.iat[i], joined=joined.iat[i], start=start.iat[i]))


def _after_thread(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    if "threads" not in frames:
        return []
    (time_column,) = rule.args
    df = frames[table.name]
    created = df["thread_id"].map(_lookup(frames, "threads", "thread_id", "created_time"))
    times = df[time_column]
    return _rows(table.filename, time_column, times < created,
                 lambda i: _say("before_thread", time=times.iat[i], thread=df["thread_id"].iat[i],
                                created=created.iat[i]))


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
                 lambda i: _say("not_member", user=rows["user_id"].iat[i], group=found["group_id"].iat[i],
                                time=rows["time"].iat[i]))


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
                 lambda i: _say("no_target", kind=kind.iat[i], target=target.iat[i])) + _rows(
        table.filename, "action_time", at < posted,
        lambda i: _say("before_posted", at=at.iat[i], kind=kind.iat[i], target=target.iat[i], posted=posted.iat[i]))


def _kept_leads_only(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    leads = frames[table.name]
    kept, status = leads["clean_status"] == "kept", leads["clean_status"]
    return _rows(table.filename, "tier", kept & leads["tier"].isna(),
                 lambda i: _say("no_tier")) + _rows(
        table.filename, "tier", ~kept & leads["tier"].notna(),
        lambda i: _say("stray_tier", tier=leads["tier"].iat[i], status=status.iat[i])) + _rows(
        table.filename, "first_followup_time", ~kept & leads["first_followup_time"].notna(),
        lambda i: _say("dropped_followed", status=status.iat[i]))


def _lead_order(frames: Frames, table: Table, rule: Rule) -> list[Problem]:
    leads = frames[table.name]
    created, follow, converted = leads["created_time"], leads["first_followup_time"], leads["converted_time"]
    amount = leads["amount"]
    return (
        _rows(table.filename, "first_followup_time", follow < created,
              lambda i: _say("followup_early", follow=follow.iat[i], created=created.iat[i]))
        + _rows(table.filename, "converted_time", converted.notna() & ~(converted >= follow).fillna(False),
                lambda i: _say("converted_early", converted=converted.iat[i], follow=follow.iat[i]))
        + _rows(table.filename, "amount", converted.notna() != amount.notna(),
                lambda i: _say("amount", amount=amount.iat[i], converted=converted.iat[i]))
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
    label = _say("columns" if ", " in column else "column")
    problems = [
        Problem(file, _say("row", file=file, label=label, column=column, row=i + 1, what=describe(int(i))), column,
                int(i) + 1)
        for i in positions[:LIMIT]
    ]
    if len(positions) > LIMIT:
        problems[-1] = replace(problems[-1], message=_say("more_rows", message=problems[-1].message,
                                                          more=len(positions) - LIMIT))
    return problems


def _rule_text(text: str) -> str:
    """A schema rule's sentence in the current language: its translation in the Chinese data dictionary
    (``translations/zh/dictionary.yml``) when there is one, else the English."""
    if language.get() == "en":
        return text
    translated = _dictionary_translation(language.get()).get(text)
    return translated.rstrip("。") if translated else text


_DICTIONARIES: dict[str, dict[str, str]] = {}


def _dictionary_translation(lang: str) -> dict[str, str]:
    """English sentence -> translation of the data dictionary of ``lang`` (empty when it cannot be read)."""
    if lang not in _DICTIONARIES:
        import yaml

        from opsbook.paths import ROOT

        try:
            entries = yaml.safe_load((ROOT / "translations" / lang / "dictionary.yml").read_text(encoding="utf-8"))
            _DICTIONARIES[lang] = {e["en"]: e["zh"] for e in entries or [] if e.get("zh")}
        except (OSError, ValueError, yaml.YAMLError, TypeError, KeyError):
            _DICTIONARIES[lang] = {}
    return _DICTIONARIES[lang]
