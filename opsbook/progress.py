"""``opsbook progress``: where a self-learner stands, notebook by notebook.

For each notebook of the course it reads the learner's own file (nothing is run):
how many exercises were attempted (the answer cell no longer holds the release's
stub), how many visible checks passed when the learner last ran them (the saved
outputs), which answers were revealed (``reveal``), and the points of the last
``opsbook grade``. It prints a table and writes a bar chart to ``build/progress/``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from opsbook import language
from opsbook.paths import BUILD, NOTEBOOKS, shown

CHART = BUILD / "progress" / "progress.png"
STUB = "raise NotImplementedError"

_TEXT = {
    "header": {"en": ("notebook", "time", "exercises", "attempted", "checks passed", "last grade", "revealed"),
               "zh": ("笔记本", "时长", "练习", "已尝试", "检查已通过", "最近评分", "已看答案")},
    "missing": {"en": "not started", "zh": "未开始"},
    "never": {"en": "—", "zh": "—"},
    "total": {"en": "Attempted {done} of {all} exercises; visible checks passed: {passed}. Chart: {chart}",
              "zh": "已尝试 {all} 个练习中的 {done} 个；通过的可见检查：{passed}。图表：{chart}"},
    "title": {"en": "Your progress, exercise by exercise",
              "zh": "学习进度：已尝试的练习与通过的可见检查"},
    "xlabel": {"en": "exercises (count)", "zh": "练习（个）"},
    "ylabel": {"en": "notebook", "zh": "笔记本"},
    "legend": {"en": ("check passed", "attempted, check not passed", "not attempted"),
               "zh": ("检查已通过", "已尝试，检查未通过", "未尝试")},
}


@dataclass(frozen=True)
class NotebookProgress:
    """One notebook's line of the progress table."""

    id: str
    minutes: int
    exercises: int
    attempted: int
    passed: int
    checks: int
    grade: tuple[float, float] | None
    revealed: int
    started: bool


def notebook_progress(path: Path, nb_id: str, minutes: int, grades: dict, revealed: dict) -> NotebookProgress:
    """Read one learner notebook (a missing file counts as not started)."""
    import nbformat

    grade = grades.get(nb_id)
    graded = (grade["score"], grade["max_score"]) if grade else None
    if not path.is_file():
        return NotebookProgress(nb_id, minutes, 0, 0, 0, 0, graded, len(revealed.get(nb_id, {})), False)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - a damaged file: `opsbook grade` explains what to do
        return NotebookProgress(nb_id, minutes, 0, 0, 0, 0, graded, len(revealed.get(nb_id, {})), False)
    answers = [c for c in nb.cells if _grading(c).get("solution") and not _grading(c).get("grade")]
    checks = [c for c in nb.cells if _grading(c).get("grade") and c.cell_type == "code"]
    attempted = sum(1 for c in answers if STUB not in c.source and c.source.strip())
    passed = sum(1 for c in checks if c.get("outputs") and not any(o.output_type == "error" for o in c.outputs))
    return NotebookProgress(nb_id, minutes, len(answers), attempted, passed, len(checks), graded,
                            len(revealed.get(nb_id, {})), True)


def course_progress(notebooks: Path = NOTEBOOKS) -> list[NotebookProgress]:
    """Every notebook of the manifest, in order."""
    from opsbook.companion import revealed
    from opsbook.course.manifest import load_manifest
    from opsbook.grading.selfgrade import GRADES

    grades = json.loads(GRADES.read_text(encoding="utf-8")) if GRADES.is_file() else {}
    seen = revealed()
    return [notebook_progress(Path(notebooks) / e.id / f"{e.id}.ipynb", e.id, e.minutes, grades, seen)
            for e in load_manifest()]


def format_progress(rows: list[NotebookProgress], chart: Path | None) -> str:
    """The table a learner reads, with a one-line total."""
    from opsbook.course.manifest import duration
    from opsbook.texttable import format_table

    never = language.pick(_TEXT["never"])
    table = [(r.id, duration(r.minutes, language.get()), r.exercises if r.started else language.pick(_TEXT["missing"]),
              _bar(r.attempted, r.exercises), f"{r.passed}/{r.checks}" if r.started else never,
              f"{r.grade[0]:g}/{r.grade[1]:g}" if r.grade else never, r.revealed or never) for r in rows]
    done, total = sum(r.attempted for r in rows), sum(r.exercises for r in rows)
    passed = f"{sum(r.passed for r in rows)}/{sum(r.checks for r in rows)}"
    footer = language.pick(_TEXT["total"], done=done, all=total, passed=passed, chart=shown(chart) if chart else never)
    return format_table(_TEXT["header"][language.get()], table, right=(1,)) + "\n\n" + footer


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled) + f" {done}/{total}"


def draw_chart(rows: list[NotebookProgress], target: Path = CHART) -> Path:
    """A stacked bar per notebook: checks passed, attempted but not passed, not attempted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from opsbook.plotting import setup_notebook

    setup_notebook(lang=language.get())
    labels = [r.id for r in rows]
    passed = [min(r.passed, r.attempted) for r in rows]
    tried = [r.attempted - p for r, p in zip(rows, passed)]
    left = [r.exercises - r.attempted for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    names = _TEXT["legend"][language.get()]
    ax.barh(labels, passed, color="C2", label=names[0])
    ax.barh(labels, tried, left=passed, color="C1", label=names[1])
    ax.barh(labels, left, left=[p + t for p, t in zip(passed, tried)], color="lightgrey", label=names[2])
    ax.invert_yaxis()
    ax.set_title(language.pick(_TEXT["title"]))
    ax.set_xlabel(language.pick(_TEXT["xlabel"]))
    ax.set_ylabel(language.pick(_TEXT["ylabel"]))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def _grading(cell: object) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})  # type: ignore[union-attr]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook progress``."""
    progress = subparsers.add_parser("progress", help="your progress per notebook: exercises attempted, checks "
                                                      "passed, last grade (a table and a chart)")
    progress.add_argument("--notebooks", type=Path,
                          help="your notebooks (default notebooks/, or notebooks/zh/ with --lang zh)")
    progress.add_argument("--lang", choices=language.LANGUAGES, default=language.get(), help="language of the table")
    progress.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    progress.set_defaults(func=_progress)


def _progress(args: argparse.Namespace) -> int:
    language.set(args.lang)
    rows = course_progress(args.notebooks or (NOTEBOOKS / "zh" if args.lang == "zh" else NOTEBOOKS))
    chart = None if args.no_chart else draw_chart(rows)
    print(format_progress(rows, chart))
    return 0
