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

from opsbook import language
from opsbook.paths import BUILD, SOLUTIONS, shown
from opsbook.texttable import format_table

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from opsbook.grading.nbcourse import Graded

_EXERCISE = re.compile(r"(Exercise|练习)\s+\d+(\.\d+)*", re.IGNORECASE)
GRADES = BUILD / "progress" / "grades.json"
_TEXT = {
    "no_file": {"en": "No notebook at {path}. Example: make grade NB=notebooks/01_metrics/01_metrics.ipynb",
                "zh": "{path} 处没有笔记本。示例：make grade NB=notebooks/zh/01_metrics/01_metrics.ipynb"},
    "unknown": {"en": "'{name}' is not a notebook of this course (known: {known}). If you renamed your copy, say "
                      "which one it is: opsbook grade {path} --assignment ID",
                "zh": "“{name}”不是本课程的笔记本（课程有：{known}）。如果你改了文件名，请说明是哪一个："
                      "opsbook grade {path} --assignment ID"},
    "not_json": {"en": "{path} is not valid notebook JSON{where}: the file is damaged. Restore your last checkpoint "
                       "from {checkpoints} or get a fresh copy with `git checkout -- {path}`.",
                 "zh": "{path} 不是有效的笔记本 JSON{where}：文件已损坏。请从 {checkpoints} 恢复最近的检查点，"
                       "或用 `git checkout -- {path}` 取回一份新的。"},
    "where": {"en": " at line {line}, column {column}", "zh": "（第 {line} 行第 {column} 列）"},
    "not_notebook": {"en": "{path} is JSON but not a Jupyter notebook ({error}).",
                     "zh": "{path} 是 JSON，但不是 Jupyter 笔记本（{error}）。"},
    "duplicated": {"en": "Graded cells appear more than once in {name}: {cells}. Delete the extra copies (keep the "
                         "one with your answer) and grade again.",
                   "zh": "{name} 里有重复的评分单元格：{cells}。删掉多余的副本（保留有你答案的那个），再评分一次。"},
    "header": {"en": ("exercise", "cell", "points", "max", "first failing message"),
               "zh": ("练习", "单元格", "得分", "满分", "第一条未通过的信息")},
    "total": {"en": "total", "zh": "合计"},
    "revealed": {"en": "{exercise} (answer revealed)", "zh": "{exercise}（已看答案）"},
    "timed_out": {"en": "Timed out: {cells} ran longer than {seconds} s and was stopped. Look for an endless loop "
                        "or a very slow step.",
                  "zh": "超时：{cells} 运行超过 {seconds} 秒，已被停止。检查一下有没有死循环或特别慢的步骤。"},
    "missing": {"en": "Missing graded cells: {cells}. They were deleted from your notebook and score nothing; copy "
                      "them back from a fresh copy of the notebook (`git show HEAD:<path>` or the course repository).",
                "zh": "缺少评分单元格：{cells}。它们已从你的笔记本中删除，不得分；请从一份新的笔记本里复制回来"
                      "（`git show HEAD:<path>` 或课程仓库）。"},
    "by_hand": {"en": "Graded by hand, not in the total: {cells}. In a class your instructor marks it; studying "
                      "alone, compare your text with the rubric under the exercise.",
                "zh": "人工评分，不计入合计：{cells}。在课堂上由老师评分；"
                      "自学时，请对照练习下方的评分标准检查你写的内容。"},
    "points": {"en": "{name} ({points:g} points)", "zh": "{name}（{points:g} 分）"},
    "feedback": {"en": "Feedback report: {path}", "zh": "反馈报告：{path}"},
    "no_sandbox": {"en": "No sandbox here ({reason}): your notebook runs with your own permissions.",
                   "zh": "这里没有沙箱（{reason}）：你的笔记本会以你自己的权限运行。"},
    "grading": {"en": "Grading {path} with the hidden tests. This runs your whole notebook...",
                "zh": "正在用隐藏测试为 {path} 评分，会运行整个笔记本……"},
    "cannot": {"en": "Cannot grade: {error}", "zh": "无法评分：{error}"},
    "failed": {"en": "The grader could not finish: {error}", "zh": "评分器没能完成：{error}"},
}


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
        raise UnusableNotebook(language.pick(_TEXT["no_file"], path=path))
    assignment = assignment or path.stem
    source = Path(source_root) / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        known = sorted(p.name for p in Path(source_root).iterdir() if (p / f"{p.name}.ipynb").is_file())
        raise UnusableNotebook(language.pick(_TEXT["unknown"], name=path.name, known=", ".join(known) or "-",
                                             path=path))
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = (language.pick(_TEXT["where"], line=exc.lineno, column=exc.colno)
                 if isinstance(exc, json.JSONDecodeError) else "")
        raise UnusableNotebook(language.pick(_TEXT["not_json"], path=path, where=where,
                                             checkpoints=path.parent / ".ipynb_checkpoints")) from exc
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for JSON that is not a notebook
        raise UnusableNotebook(language.pick(_TEXT["not_notebook"], path=path, error=exc)) from exc

    expected = [_grade_id(c) for c in nbformat.read(source, as_version=4).cells if _grade_id(c)]
    found = Counter(_grade_id(c) for c in nb.cells if _grade_id(c))
    duplicated = sorted(g for g, n in found.items() if n > 1)
    if duplicated:
        raise UnusableNotebook(language.pick(_TEXT["duplicated"], name=path.name, cells=", ".join(duplicated)))
    return assignment, [g for g in expected if g not in found]


def edition(path: Path) -> str:
    """The language edition a notebook file belongs to ("zh" or "en"), from its metadata or its folder."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
        if meta.get("opsbook", {}).get("language") in language.LANGUAGES:
            return meta["opsbook"]["language"]
    except (OSError, ValueError, AttributeError):
        pass
    return "zh" if "zh" in Path(path).resolve().parts else "en"


def edition_sources(lang: str, source_root: Path, assignment: str | None) -> Path:
    """The source folder to grade an edition against (the Chinese one is built from the translations)."""
    from opsbook.course.manifest import load_manifest
    from opsbook.course.release import translated_sources
    from opsbook.paths import ZH_SOURCES

    if lang != "zh" or Path(source_root) != SOLUTIONS:
        return Path(source_root)
    ids = [assignment] if assignment else [e.id for e in load_manifest()]
    translated_sources(SOLUTIONS, ZH_SOURCES, ids)
    return ZH_SOURCES


def grade_notebook(path: Path, source_root: Path = SOLUTIONS, work: Path = BUILD / "grades",
                   assignment: str | None = None, timeout: int | None = None, sandboxed: bool = True) -> Report:
    """Grade a copy of the notebook at ``path``; raises ``UnusableNotebook`` or ``GradingError``.

    A Chinese notebook is graded against the Chinese edition's source: the same code and hidden tests,
    with their messages in Chinese.
    """
    import nbformat

    from opsbook.grading.nbcourse import Course, course_config, prepare_course

    source_root = edition_sources(edition(path), source_root, assignment or Path(path).stem)
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
    rows.append((language.pick(_TEXT["total"]), "", f"{report.graded.score:g}", f"{report.graded.max_score:g}", ""))
    lines = format_table(_TEXT["header"][language.get()], rows, right=(2, 3)).splitlines()
    if report.graded.timed_out:
        lines.append("\n" + language.pick(_TEXT["timed_out"], cells=", ".join(report.graded.timed_out),
                                          seconds=report.timeout))
    if report.missing:
        lines.append("\n" + language.pick(_TEXT["missing"], cells=", ".join(report.missing)))
    if report.graded.by_hand:
        cells = ", ".join(language.pick(_TEXT["points"], name=report.exercises.get(grade_id, grade_id), points=points)
                          for grade_id, points in report.graded.by_hand.items())
        lines.append("\n" + language.pick(_TEXT["by_hand"], cells=cells))
    lines.append("\n" + language.pick(_TEXT["feedback"], path=shown(report.feedback)))
    return "\n".join(lines)


def _name(exercise: str, answers_seen: dict[str, str]) -> str:
    """``Exercise 1.3`` (marked when the learner used ``reveal`` for it)."""
    number = exercise.split()[-1]
    return language.pick(_TEXT["revealed"], exercise=exercise) if number in answers_seen else exercise


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

    language.set(edition(args.notebook))
    reason = unavailable_reason(switch_user=False)
    if reason:
        print(language.pick(_TEXT["no_sandbox"], reason=reason), file=sys.stderr)
    try:
        print(language.pick(_TEXT["grading"], path=args.notebook), flush=True)
        report = grade_notebook(args.notebook, args.source, args.work, args.assignment, args.timeout,
                                sandboxed=reason is None)
    except UnusableNotebook as exc:
        print(language.pick(_TEXT["cannot"], error=exc), file=sys.stderr)
        return 2
    except GradingError as exc:
        print(language.pick(_TEXT["failed"], error=exc), file=sys.stderr)
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
