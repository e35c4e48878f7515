"""Render the data dictionary (``datasets/README.md``) of a world from the schema.

Only the world's public settings are printed (seed, size, period, locale,
generator version): the planted-truth parameters of ``WorldConfig`` would
give the exercises away, so they never reach the dictionary.

Every sentence goes through ``translate`` (identity by default), as a template
whose ``{fields}`` are filled in afterwards, so the Chinese edition's dictionary
(``docs/zh/data-dictionary.md``) is this one with ``translations/zh/dictionary.yml``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from opsbook import __version__

from .schema import DTYPES, TABLES, TIMEZONE, Column, Table

DATA_NOTES = (
    "`events` comes from client-side tracking (埋点): it records what the app managed to send. "
    "Tracking can have gaps, so an absence of events is not proof of an absence of activity.",
    "`orders` comes from the order database and is the source of truth for money; "
    "`purchase` events are the client's view of the same orders and need not match them one to one.",
    "`channel_spend` comes from the ad platforms' daily reports. Their install counts follow each "
    "platform's own attribution and are not the same thing as signups in `users`.",
    "`campaign_rewards` comes from the payout system: one row per payment made.",
    "The community tables (`community_groups`, `group_members`, `threads`, `replies`, `votes`, "
    "`moderation_actions`) come from the community server's database, so tracking gaps do not touch them.",
    "`leads` comes from the sales team's CRM (客户关系管理系统): what the forms and reps entered, "
    "duplicates and typos included, with the cleaning result beside each lead.",
    "Names, phone numbers, emails, device ids, cities, titles and comments are generated; any resemblance "
    "to real people, numbers or businesses is chance. Treat them as personal information all the same: "
    "the course practises on them what the law (PIPL, 个人信息保护法) asks for real data.",
)


Translate = Callable[[str], str]


def render_dictionary(meta: dict, row_counts: dict[str, int], translate: Translate = str) -> str:
    """The markdown data dictionary of a world.

    ``meta`` holds at least seed, n_users, days, start (ISO date) and locale, as
    in ``WorldConfig.as_dict()``, plus an optional generator_version (default:
    the opsbook version); any other key is ignored. ``row_counts`` maps every
    table name to its number of rows. ``translate`` turns each English sentence
    (a template) into the dictionary's language.
    """
    parts = [_header(meta, translate), _conventions(translate), _notes(translate)]
    parts += [_table_section(table, row_counts[table.name], translate) for table in TABLES.values()]
    return "\n\n".join(parts) + "\n"


def dictionary_texts() -> list[str]:
    """Every English sentence the dictionary is made of (what a translation must cover)."""
    seen: list[str] = []

    def collect(text: str) -> str:
        if text not in seen:
            seen.append(text)
        return text

    render_dictionary({"seed": 0, "n_users": 0, "days": 1, "start": "2025-01-01", "locale": "en_US"},
                      {name: 0 for name in TABLES}, collect)
    return seen


def _header(meta: dict, t: Translate) -> str:
    start = date.fromisoformat(str(meta["start"]))
    end = start + timedelta(days=int(meta["days"]))
    version = meta.get("generator_version", __version__)
    return "\n".join([
        t("# Data dictionary of the product world"),
        "",
        t("A synthetic but consistent world of a content-and-commerce app: every table is an observation of one "
          "behavioural simulation of its users, so the tables agree with each other."),
        "",
        t("## How this world was generated"),
        "",
        t("- seed: `{seed}`").format(seed=meta["seed"]),
        t("- period: {start} to {end} (exclusive), {days} days").format(start=start, end=end, days=int(meta["days"])),
        t("- locale of names and text: `{locale}`").format(locale=meta["locale"]),
        t("- generator version: `{version}`").format(version=version),
        "",
        t("Regenerate it byte for byte (same pinned package versions) with"),
        "",
        "```",
        f"opsbook world generate --seed {meta['seed']} --users {meta['n_users']} --days {meta['days']} "
        f"--locale {meta['locale']} --out DIR",
        "```",
        "",
        t("and check a folder against this dictionary and `MANIFEST.sha256` with `opsbook world validate DIR`. "
          "Load it in Python with `opsbook.data.load_world(DATA_DIR)`."),
    ])


def _conventions(t: Translate) -> str:
    return "\n".join([
        t("## Conventions"),
        "",
        t("- Times are business time ({zone}, UTC+8) written without a zone as `YYYY-MM-DD HH:MM:SS`; a day is a "
          "calendar day in that zone. Dates are `YYYY-MM-DD`.").format(zone=TIMEZONE),
        t("- Ranges are half-open, `[start, end)`: the start is included, the end is not."),
        t("- Money is in CNY (yuan), with two decimals."),
        t("- Files are gzip-compressed UTF-8 CSV with a header line; an empty field is a missing value."),
        t("- Ids are positive integers; a column marked as a reference holds ids of another table."),
    ])


def _notes(t: Translate) -> str:
    return "\n".join([t("## Data notes"), "", t("What the data team tells every new analyst:"), ""]
                     + [f"- {t(note)}" for note in DATA_NOTES])


def _table_section(table: Table, rows: int, t: Translate) -> str:
    key = ", ".join(f"`{c}`" for c in table.primary_key) or t("none (rows need not be unique)")
    lines = [
        f"## `{table.name}`",
        "",
        t(table.description),
        "",
        t("- file: `{file}`").format(file=table.filename),
        t("- rows: {rows:,}").format(rows=rows),
        t("- primary key: {key}").format(key=key),
        "",
        t("| column | type | null? | allowed values / range | references | meaning |"),
        "|---|---|---|---|---|---|",
    ]
    lines += [_column_row(c, t) for c in table.columns]
    if table.rules:
        lines += ["", t("Rules (hold in every world; `opsbook world validate` checks them):"), ""]
        lines += [f"- {_cell(t(rule.text))}" for rule in table.rules]
    if table.notes:
        lines += ["", t("Notes (what to expect; not guaranteed row by row):"), ""]
        lines += [f"- {_cell(t(note))}" for note in table.notes]
    return "\n".join(lines)


def _column_row(c: Column, t: Translate) -> str:
    reference = f"`{c.references}`" if c.references else ""
    cells = [f"`{c.name}`", t(DTYPES[c.dtype].word), t("yes") if c.nullable else t("no"), _allowed(c, t), reference,
             t(c.description)]
    return "| " + " | ".join(_cell(x) for x in cells) + " |"


def _allowed(c: Column, t: Translate) -> str:
    if c.values is not None:
        return ", ".join(f"`{v}`" for v in c.values)
    if c.minimum is not None and c.maximum is not None:
        return t("{low} to {high}").format(low=f"{c.minimum:g}", high=f"{c.maximum:g}")
    if c.minimum is not None:
        return f">= {c.minimum:g}"
    if c.maximum is not None:
        return f"<= {c.maximum:g}"
    return ""


def _cell(text: str) -> str:
    """Escape a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
