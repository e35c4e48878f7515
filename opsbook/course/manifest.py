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


@dataclass(frozen=True)
class Entry:
    """One notebook of the course."""

    id: str
    title: str
    tables: tuple[str, ...]
    summary: str

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
        if not isinstance(item, dict) or set(item) != {"id", "title", "tables", "summary"}:
            raise ValueError(f"{where}: needs exactly the keys id, title, tables, summary")
        if not isinstance(item["id"], str) or not _ID.match(item["id"]):
            raise ValueError(f"{where}: id {item['id']!r} is not NN_snake_case")
        unknown = [t for t in item["tables"] or [] if t not in TABLES]
        if unknown:
            raise ValueError(f"{where} ({item['id']}): unknown tables {unknown}; tables are {sorted(TABLES)}")
        entries.append(Entry(item["id"], str(item["title"]).strip(), tuple(item["tables"] or ()),
                             " ".join(str(item["summary"]).split())))
    ids = [e.id for e in entries]
    if ids != sorted(set(ids)):
        raise ValueError(f"{Path(path).name}: ids must be unique and in order, got {ids}")
    return entries


def render_course_map(entries: list[Entry]) -> str:
    """The README course map: a Markdown table between the map markers."""
    lines = [MAP_START, "", "| # | Notebook | What you will do | Tables |", "|---|---|---|---|"]
    for e in entries:
        tables = ", ".join(f"`{t}`" for t in e.tables) or "—"
        lines.append(f"| {e.id[:2]} | [{e.title}]({e.release_path}) | {e.summary} | {tables} |")
    if not entries:
        lines.append("| | *No notebooks yet.* | | |")
    lines += ["", MAP_END]
    return "\n".join(lines)


def updated_readme(text: str, entries: list[Entry]) -> str:
    """``text`` with its course map replaced by the one rendered from ``entries``."""
    start, end = text.find(MAP_START), text.find(MAP_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {MAP_START!r} and {MAP_END!r}")
    return text[:start] + render_course_map(entries) + text[end + len(MAP_END):]
