"""``opsbook grade``: a learner grades their own notebook with the hidden tests.

The learner's file is only read: a copy is autograded by nbgrader in a
temporary course generated from ``solutions/`` (cached), and the HTML feedback
report lands in ``build/grades/<id>/feedback.html``. Exit code 0 whenever
grading ran, whatever the score; 2 for a notebook that cannot be graded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opsbook.paths import BUILD, SOLUTIONS, shown
from opsbook.texttable import format_table

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from opsbook.grading.nbcourse import Graded

_EXERCISE = re.compile(r"(Exercise|练习)\s+\d+(\.\d+)*", re.IGNORECASE)
GRADES = BUILD / "progress" / "grades.json"


class UnusableNotebook(ValueError):
    """The notebook cannot be graded; the message tells the learner what to do."""


@dataclass
class Report:
    assignment: str
    graded: Graded
    exercises: dict[str, str]
    missing: list[str]
    feedback: Path
    timeout: int


def check_notebook(path: Path, source_root: Path, assignment: str | None = None) -> tuple[str, list[str]]:
    """Return (assignment id, grade_ids missing from the notebook), or raise ``UnusableNotebook``."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise UnusableNotebook(f"No notebook at {path}. Example: make grade NB=notebooks/01_metrics/01_metrics.ipynb")
    assignment = assignment or path.stem
    source = Path(source_root) / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        known = sorted(p.name for p in Path(source_root).iterdir() if (p / f"{p.name}.ipynb").is_file())
        raise UnusableNotebook(
            f"'{path.name}' is not a notebook of this course (known: {', '.join(known) or 'none'}). "
            f"If you renamed your copy, say which one it is: opsbook grade {path} --assignment ID")
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise UnusableNotebook(
            f"{path} is not valid notebook JSON{where}: the file is damaged. Restore your last checkpoint "
            f"from {path.parent / '.ipynb_checkpoints'} or get a fresh copy with `git checkout -- {path}`.") from exc
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for JSON that is not a notebook
        raise UnusableNotebook(f"{path} is JSON but not a Jupyter notebook ({exc}).") from exc

    expected = [_grade_id(c) for c in nbformat.read(source, as_version=4).cells if _grade_id(c)]
    found = Counter(_grade_id(c) for c in nb.cells if _grade_id(c))
    duplicated = sorted(g for g, n in found.items() if n > 1)
    if duplicated:
        raise UnusableNotebook(
            f"Graded cells appear more than once in {path.name}: {', '.join(duplicated)}. "
            "Delete the extra copies (keep the one with your answer) and grade again.")
    return assignment, [g for g in expected if g not in found]


def grade_notebook(path: Path, source_root: Path = SOLUTIONS, work: Path = BUILD / "grades",
                   assignment: str | None = None, timeout: int | None = None, sandboxed: bool = True) -> Report:
    """Grade a copy of the notebook at ``path``; raises ``UnusableNotebook`` or ``GradingError``."""
    import nbformat

    from opsbook.grading.nbcourse import Course, course_config, prepare_course

    assignment, missing = check_notebook(path, source_root, assignment)
    timeout = timeout or course_config(work).Execute.timeout
    template = prepare_course(Path(source_root) / assignment, _mkdir(Path(work) / ".cache"))
    with tempfile.TemporaryDirectory(prefix="opsbook-grade-") as tmp:
        course = Course(template, Path(tmp) / "course")
        graded = course.autograde("learner", Path(path), timeout=timeout, sandboxed=sandboxed)
        feedback = _mkdir(Path(work) / assignment) / "feedback.html"
        shutil.copyfile(course.feedback("learner"), feedback)
        exercises = exercise_names(nbformat.read(course.release, as_version=4))
    return Report(assignment, graded, exercises, missing, feedback, timeout)


def exercise_names(nb: NotebookNode) -> dict[str, str]:
    """Map each graded cell to the "Exercise N.M" heading above it (or its grade_id)."""
    names, current = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := _EXERCISE.search(cell.source)):
            current = match.group(0)
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            names[grading["grade_id"]] = current or grading["grade_id"]
    return names


def format_report(report: Report) -> str:
    """The table a learner reads in the terminal."""
    from opsbook.companion import revealed

    answers_seen = revealed().get(report.assignment, {})
    rows = [(_name(report.exercises.get(c.grade_id, c.grade_id), answers_seen), c.grade_id, f"{c.score:g}",
             f"{c.max_score:g}", c.message) for c in report.graded.cells.values()]
    rows.append(("total", "", f"{report.graded.score:g}", f"{report.graded.max_score:g}", ""))
    lines = format_table(("exercise", "cell", "points", "max", "first failing message"), rows, right=(2, 3)
                         ).splitlines()
    if report.graded.timed_out:
        lines.append(f"\nTimed out: {', '.join(report.graded.timed_out)} ran longer than {report.timeout} s "
                     "and was stopped. Look for an endless loop or a very slow step.")
    if report.missing:
        lines.append(f"\nMissing graded cells: {', '.join(report.missing)}. They were deleted from your "
                     "notebook and score nothing; copy them back from a fresh copy of the notebook "
                     "(`git show HEAD:<path>` or the course repository).")
    lines.append(f"\nFeedback report: {shown(report.feedback)}")
    return "\n".join(lines)


def _name(exercise: str, answers_seen: dict[str, str]) -> str:
    """``Exercise 1.3`` (with ``(answer revealed)`` when the learner used ``reveal``)."""
    number = exercise.split()[-1]
    return f"{exercise} (answer revealed)" if number in answers_seen else exercise


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook grade``."""
    grade = subparsers.add_parser("grade", help="grade your own notebook with the hidden tests "
                                                "(your file is not changed)")
    grade.add_argument("notebook", type=Path, help="your notebook, e.g. notebooks/01_metrics/01_metrics.ipynb")
    grade.add_argument("--assignment", metavar="ID", help="which course notebook it is, if you renamed your copy")
    grade.add_argument("--timeout", type=int, metavar="SECONDS", help="time limit per cell (default: the course's)")
    grade.add_argument("--work", type=Path, default=BUILD / "grades", help="where reports go (default build/grades)")
    grade.add_argument("--source", type=Path, default=SOLUTIONS, help="the solutions folder (default solutions/)")
    grade.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    from opsbook.grading.nbcourse import GradingError
    from opsbook.grading.sandbox import unavailable_reason

    reason = unavailable_reason(switch_user=False)
    if reason:
        print(f"No sandbox here ({reason}): your notebook runs with your own permissions.", file=sys.stderr)
    try:
        print(f"Grading {args.notebook} with the hidden tests. This runs your whole notebook...", flush=True)
        report = grade_notebook(args.notebook, args.source, args.work, args.assignment, args.timeout,
                                sandboxed=reason is None)
    except UnusableNotebook as exc:
        print(f"Cannot grade: {exc}", file=sys.stderr)
        return 2
    except GradingError as exc:
        print(f"The grader could not finish: {exc}", file=sys.stderr)
        return 1
    save_result(report)
    print(format_report(report))
    return 0


def save_result(report: Report, store: Path = GRADES) -> None:
    """Remember the last self-grade of each notebook (``opsbook progress`` shows it); best effort."""
    try:
        data = json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
        data[report.assignment] = {
            "score": report.graded.score, "max_score": report.graded.max_score,
            "graded_at": dt.datetime.now().isoformat(timespec="seconds"),
            "cells": {c.grade_id: [c.score, c.max_score] for c in report.graded.cells.values()}}
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, ValueError):
        pass


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
