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


MAP_TEXT = {
    "en": {"header": ("| # | Notebook | What you will do | Operator's duties (from the source articles) | Time "
                      "| Tables |"),
           "empty": "| | *No notebooks yet.* | | | | |",
           "total": "About {total} in all, at a learner's pace (the exercises take most of it).",
           "folder": "notebooks", "sep": "; "},
    "zh": {"header": "| # | 笔记本 | 你会做什么 | 对应的运营职责 | 时长 | 数据表 |",
           "empty": "| | *还没有笔记本。* | | | | |",
           "total": "合计约 {total}（按学习者的节奏，大部分时间花在练习上）。",
           "folder": "notebooks/zh", "sep": "；"},
}


def render_course_map(entries: list[Entry], lang: str = "en") -> str:
    """The README course map: a Markdown table between the map markers (``lang`` "zh": the Chinese edition's,
    from ``translations/zh/course.yml``)."""
    text = MAP_TEXT[lang]
    entries = [_translated(e, lang) for e in entries]
    lines = [MAP_START, "", text["header"], "|---|---|---|---|---|---|"]
    for e in entries:
        tables = ", ".join(f"`{t}`" for t in e.tables) or "—"
        topics = text["sep"].join(e.topics) or "—"
        link = f"{text['folder']}/{e.id}/{e.id}.ipynb"
        lines.append(f"| {e.id[:2]} | [{e.title}]({link}) | {e.summary} | {topics} | {duration(e.minutes, lang)} | "
                     f"{tables} |")
    if not entries:
        lines.append(text["empty"])
    lines += ["", text["total"].format(total=duration(sum(e.minutes for e in entries), lang)), "", MAP_END]
    return "\n".join(lines)


def _translated(entry: Entry, lang: str) -> Entry:
    """``entry`` with the title, summary and duties of edition ``lang`` (the manifest holds the English)."""
    if lang == "en":
        return entry
    import yaml

    from opsbook.paths import ROOT

    path = ROOT / "translations" / lang / "course.yml"
    texts = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    mine = texts.get(entry.id)
    english = {"title": entry.title, "summary": entry.summary, "topics": list(entry.topics)}
    if not mine or mine.get("en") != english or any(mine.get(key) is None for key in english):
        raise ValueError(f"translations/{lang}/course.yml: {entry.id} is missing or translates another English "
                         "(run `opsbook course translate course`)")
    return Entry(entry.id, mine["title"], entry.tables, " ".join(str(mine["summary"]).split()), entry.minutes,
                 tuple(mine["topics"]))


def duration(minutes: int, lang: str = "en") -> str:
    """90 -> "1 h 30 min"; 45 -> "45 min" (Chinese: "1 小时 30 分钟")."""
    hours, rest = divmod(minutes, 60)
    if lang == "zh":
        return (f"{hours} 小时" + (f" {rest} 分钟" if rest else "")) if hours else f"{rest} 分钟"
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def updated_readme(text: str, entries: list[Entry], lang: str = "en") -> str:
    """``text`` with its course map replaced by the one rendered from ``entries``."""
    start, end = text.find(MAP_START), text.find(MAP_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {MAP_START!r} and {MAP_END!r}")
    return text[:start] + render_course_map(entries, lang) + text[end + len(MAP_END):]


def write_course_translation(lang: str = "zh", check: bool = False) -> tuple[Path, list[str]]:
    """(Re)write ``translations/<lang>/course.yml`` (title, summary and duties of every notebook: the English
    and ``null`` where a translation is missing or stale); returns its path and what is missing or stale."""
    import yaml

    from opsbook.paths import ROOT

    path = ROOT / "translations" / lang / "course.yml"
    old = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    entries, found = {}, []
    for e in load_manifest():
        english = {"title": e.title, "summary": e.summary, "topics": list(e.topics)}
        mine = old.get(e.id) or {}
        current = mine.get("en") == english and all(mine.get(k) is not None for k in english)
        entries[e.id] = {"en": english, **({k: mine[k] for k in english} if current else
                                           {"title": None, "summary": None, "topics": None})}
        if not current:
            found.append(f"{e.id}: not translated or the English changed")
    if not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    return path, found
