"""``opsbook class feedback``: one HTML report per student, built from the grader's verdicts.

Each student's autograded notebook goes through nbgrader's ``GenerateFeedback``
with the course's preprocessors (``ReleasedTests``: every test cell as released,
with the judge's outputs). Students are rendered one at a time: a notebook that
cannot be rendered gets a plain page saying why, and the rest of the class still
gets its feedback. A submission that never ran (not a notebook, missing, timed
out …) gets the plain page too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.classroom.course import ClassCourse, State
from opsbook.classroom.status import Status
from opsbook.paths import ROOT


@dataclass
class FeedbackRun:
    """What ``class_feedback`` wrote, and for whom the normal report could not be made (and why)."""

    written: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def class_feedback(assignment: str, course_root: Path = ROOT) -> FeedbackRun:
    """Write ``feedback/<student>/<assignment>/<notebook>.html`` for every student graded so far."""
    course = ClassCourse(course_root, assignment)
    course.require_gradebook()
    notebooks = course.notebooks()
    state = State(course.state / "state.jsonl")
    run = FeedbackRun()
    for student, entry in sorted(state.entries.items()):
        status = Status(entry["status"])
        rendered = status == Status.GRADED and _render(course, student, run)
        for notebook in notebooks:
            target = course.folder("feedback", student) / f"{notebook}.html"
            if not rendered or not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                why = status.reason or run.failed.get(student, "your notebook could not be shown")
                target.write_text(_plain_feedback(student, assignment, notebook, entry, why), encoding="utf-8")
            run.written.append(target)
    return run


def _render(course: ClassCourse, student: str, run: FeedbackRun) -> bool:
    """nbgrader's GenerateFeedback for one student; False (and the reason in ``run.failed``) when it fails."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    from opsbook.grading.nbcourse import GradingError, run_converter

    config = course.config.copy()
    config.CourseDirectory.student_id = student
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    try:
        run_converter(converter, f"generate_feedback {course.assignment} for {student}")
    except GradingError as exc:
        run.failed[student] = f"the feedback page could not be rendered ({str(exc).splitlines()[0][:200]})"
        return False
    return True


def _plain_feedback(student: str, assignment: str, notebook: str, entry: dict, why: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}</title></head>"
            f"<body><h1>{html.escape(assignment)}: {html.escape(notebook)}</h1><p>Student: {html.escape(student)}</p>"
            f"<p>Score: {entry['score']:g} / {entry['max_score']:g}</p><p>Why: {html.escape(why)}.</p></body></html>\n")
