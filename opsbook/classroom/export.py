"""Grades to CSV: one row per student and graded cell, for a class graded by ``opsbook class grade``."""

from __future__ import annotations

import csv
from pathlib import Path

from opsbook.classroom.course import ClassCourse, State
from opsbook.paths import ROOT

CSV_COLUMNS = ("student", "assignment", "exercise", "points", "max", "late", "flags")


def export_csv(assignment: str, course_root: Path = ROOT, out: Path | None = None) -> Path:
    """One row per student and graded cell: student, assignment, exercise, points, max, late, flags."""
    from nbgrader.api import Gradebook, MissingEntry

    course = ClassCourse(course_root, assignment)
    course.require_gradebook()
    state = State(course.state / "state.jsonl")
    out = Path(out or course.state / "grades.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with Gradebook(course.db_url, course.course_id) as gb:
        cells = [(nb.name, c.name, c.max_score) for nb in gb.find_assignment(assignment).notebooks
                 for c in nb.grade_cells]
        students = sorted({s.id for s in gb.students} | set(state.entries))
        for student in students:
            flags = "; ".join(state.entries.get(student, {}).get("flags", []))
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                status = state.entries.get(student, {}).get("status", "not submitted")
                for _, name, max_score in cells:
                    rows.append((student, assignment, name, 0, max_score, 0, flags or status))
                continue
            late = round(float(submission.total_seconds_late or 0))
            for notebook, name, max_score in cells:
                grade = gb.find_grade(name, notebook, assignment, student)
                rows.append((student, assignment, name, float(grade.score or 0.0), float(max_score), late, flags))
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return out
