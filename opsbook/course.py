"""The course manifest (``course.yml``) and the ``opsbook course`` command.

The manifest is the one list of the course's notebooks, in order. It drives the
README course map, ``make course`` and the notebooks the tests execute and grade.
It lists only notebooks that exist: ``solutions/<id>/<id>.ipynb`` (source) and
``notebooks/<id>/<id>.ipynb`` (release).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "course.yml"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
README = ROOT / "README.md"

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


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it, for messages."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook course readme|release|run``."""
    course = subparsers.add_parser("course", help="course maintenance: README map, release, run every notebook")
    commands = course.add_subparsers(dest="course_command", required=True, metavar="ACTION")

    readme = commands.add_parser("readme", help="render the README course map from course.yml")
    readme.add_argument("--check", action="store_true", help="only check; exit 1 when the map is stale")
    readme.set_defaults(func=_readme)

    release = commands.add_parser("release", help="tidy solutions/ and regenerate notebooks/ with nbgrader")
    release.set_defaults(func=_release)

    run = commands.add_parser("run", help="execute every solution notebook with papermill, write HTML, summarise")
    run.add_argument("ids", nargs="*", metavar="ID", help="only these notebooks (default: all, in course order)")
    run.add_argument("--data-dir", type=Path, help="world folder passed as DATA_DIR (default: datasets/)")
    run.add_argument("--out", type=Path, default=BUILD / "course", help="output folder (default build/course)")
    run.set_defaults(func=_run)


def _readme(args: argparse.Namespace) -> int:
    text = README.read_text(encoding="utf-8")
    new = updated_readme(text, load_manifest())
    if new == text:
        print("README course map is up to date.")
        return 0
    if args.check:
        print("README course map is stale: run `opsbook course readme`.", file=sys.stderr)
        return 1
    README.write_text(new, encoding="utf-8")
    print("README course map updated from course.yml.")
    return 0


def _release(args: argparse.Namespace) -> int:
    from opsbook.grading.coursedir import GradingError
    from opsbook.grading.release import notebook_problems, release, tidy_notebook

    sources = sorted(SOLUTIONS.glob("*/*.ipynb"))
    for path in sources:
        if tidy_notebook(path):
            print(f"tidied {shown(path)}")
    try:
        for path in release(SOLUTIONS, NOTEBOOKS):
            print(f"released {shown(path)}")
    except GradingError as exc:
        print(exc, file=sys.stderr)
        return 1
    problems = [f"{shown(path)}: {p}" for path in sources for p in notebook_problems(path, "source")]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _run(args: argparse.Namespace) -> int:
    from opsbook.execute import format_summary, run_course

    ids = [e.id for e in load_manifest()]
    unknown = sorted(set(args.ids) - set(ids))
    if unknown:
        print(f"Unknown notebook(s) {', '.join(unknown)}; the course has: {', '.join(ids)}", file=sys.stderr)
        return 2
    results = run_course([i for i in ids if not args.ids or i in args.ids], SOLUTIONS, args.out, args.data_dir)
    print(format_summary(results))
    return 0 if all(r.ok for r in results) else 1
