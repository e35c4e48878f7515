"""The course manifest (``course.yml``): the one list of the course's notebooks.

The manifest is the one list of the course's notebooks, in order. It drives the
README course map, ``make course`` and the notebooks the tests execute and grade.
It lists only notebooks that exist: ``solutions/<id>/<id>.ipynb`` (source) and
``notebooks/<id>/<id>.ipynb`` (release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from opsbook.paths import MANIFEST

MAP_START = "<!-- course-map:start (generated from course.yml by `opsbook course readme`) -->"
MAP_END = "<!-- course-map:end -->"
_ID = re.compile(r"^\d\d_[a-z0-9]+(_[a-z0-9]+)*$")
KEYS = ("id", "title", "minutes", "topics", "tables", "summary")


@dataclass(frozen=True)
class Entry:
    """One notebook of the course."""

    id: str
    title: str
    tables: tuple[str, ...]
    summary: str
    minutes: int                 # a learner's time to work through it, an estimate
    topics: tuple[str, ...]      # the duties of an operator (from the course's source articles) it covers

    @property
    def release_path(self) -> str:
        """Path of the learner's notebook, relative to the repository root."""
        return f"notebooks/{self.id}/{self.id}.ipynb"


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    """Read and check the manifest; raises ``ValueError`` naming the bad entry."""
    import yaml

    from opsbook.world.schema import TABLES

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = []
    for i, item in enumerate(data.get("notebooks") or [], start=1):
        where = f"{Path(path).name}, notebook {i}"
        if not isinstance(item, dict) or set(item) != set(KEYS):
            raise ValueError(f"{where}: needs exactly the keys {', '.join(KEYS)}")
        if not isinstance(item["id"], str) or not _ID.match(item["id"]):
            raise ValueError(f"{where}: id {item['id']!r} is not NN_snake_case")
        unknown = [t for t in item["tables"] or [] if t not in TABLES]
        if unknown:
            raise ValueError(f"{where} ({item['id']}): unknown tables {unknown}; tables are {sorted(TABLES)}")
        if not isinstance(item["minutes"], int) or not 10 <= item["minutes"] <= 600:
            raise ValueError(f"{where} ({item['id']}): minutes must be a whole number from 10 to 600")
        entries.append(Entry(item["id"], str(item["title"]).strip(), tuple(item["tables"] or ()),
                             " ".join(str(item["summary"]).split()), item["minutes"],
                             tuple(str(t) for t in item["topics"] or ())))
    ids = [e.id for e in entries]
    if ids != sorted(set(ids)):
        raise ValueError(f"{Path(path).name}: ids must be unique and in order, got {ids}")
    return entries


def render_course_map(entries: list[Entry]) -> str:
    """The README course map: a Markdown table between the map markers."""
    lines = [MAP_START, "", "| # | Notebook | What you will do | Operator's duties (from the source articles) "
             "| Time | Tables |", "|---|---|---|---|---|---|"]
    for e in entries:
        tables = ", ".join(f"`{t}`" for t in e.tables) or "—"
        topics = "; ".join(e.topics) or "—"
        lines.append(f"| {e.id[:2]} | [{e.title}]({e.release_path}) | {e.summary} | {topics} | "
                     f"{duration(e.minutes)} | {tables} |")
    if not entries:
        lines.append("| | *No notebooks yet.* | | | | |")
    total = sum(e.minutes for e in entries)
    lines += ["", f"About {duration(total)} in all, at a learner's pace (the exercises take most of it)."]
    lines += ["", MAP_END]
    return "\n".join(lines)


def duration(minutes: int) -> str:
    """90 -> "1 h 30 min"; 45 -> "45 min"."""
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def updated_readme(text: str, entries: list[Entry]) -> str:
    """``text`` with its course map replaced by the one rendered from ``entries``."""
    start, end = text.find(MAP_START), text.find(MAP_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {MAP_START!r} and {MAP_END!r}")
    return text[:start] + render_course_map(entries) + text[end + len(MAP_END):]
