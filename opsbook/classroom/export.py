"""Feedback without the hidden tests, and grades to CSV, for a class graded by ``opsbook class grade``.

Feedback is nbgrader's ``generate_feedback`` with the course's preprocessors
(``ClearHiddenTests`` strips the hidden region from each test cell,
``ShortTracebacks`` keeps one line per failing test, nbgrader issue #917) plus
``RedactHiddenSource``: a notebook can print the hidden tests it just ran (for
example ``print(In)``, ``inspect.getsource``, a traceback through a helper
defined in a hidden test), so every output line that quotes a line of a hidden
region is replaced. After rendering, every HTML file is searched for those lines
and a leak raises (never sent to a student).
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from opsbook.paths import ROOT

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
REDACTED = "[a line of the hidden tests was removed here]"
CSV_COLUMNS = ("student", "assignment", "exercise", "points", "max", "late", "flags")


class FeedbackLeak(RuntimeError):
    """A feedback file quotes a hidden test."""


def split_lines(source: str, minimum: int = 12) -> tuple[set[str], set[str]]:
    """A test cell's stripped lines: (distinctive hidden-region lines of at least ``minimum`` characters,
    lines outside the hidden region, which students see anyway)."""
    hidden, visible, inside = set(), set(), False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
        elif stripped == END:
            inside = False
        elif not inside:
            visible.add(stripped)
        elif len(stripped) >= minimum:
            hidden.add(stripped)
    return hidden, visible


def gradebook_hidden_lines(db_url: str, assignment: str, notebook: str) -> set[str]:
    """Lines only the hidden tests of ``notebook`` contain, from the gradebook's source cells."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        sources = [c.source for c in gb.find_notebook(notebook, assignment).source_cells]
    parts = [split_lines(s) for s in sources]
    hidden = set().union(*(h for h, _ in parts))
    shown = set().union(*(v for _, v in parts))
    return hidden - shown


def _redact(text: str, secrets: set[str]) -> tuple[str, bool]:
    changed = False
    out = []
    for line in text.split("\n"):
        if any(s in line for s in secrets):
            out.append(REDACTED)
            changed = True
        else:
            out.append(line)
    return "\n".join(out), changed


class RedactHiddenSource(NbGraderPreprocessor):
    """Replace every output line that quotes a hidden test line (the lines come from the gradebook)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self.secrets = gradebook_hidden_lines(info["db_url"], info["assignment"], info["notebook"]) | {BEGIN, END}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int
                        ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text, _ = _redact(output.text, self.secrets)
            if output.get("output_type") == "error":
                output.evalue, _ = _redact(output.evalue, self.secrets)
                output.traceback = [_redact(line, self.secrets)[0] for line in output.traceback]
            for mime, value in list(output.get("data", {}).items()):
                if isinstance(value, str):
                    output.data[mime], _ = _redact(value, self.secrets)
                elif mime.endswith("json"):
                    text, changed = _redact(json.dumps(value), self.secrets)
                    if changed:
                        output.data[mime] = {"redacted": REDACTED}
        return cell, resources


def class_feedback(assignment: str, course_root: Path = ROOT) -> list[Path]:
    """Render ``feedback/<student>/<assignment>/<notebook>.html`` for every graded student; check for leaks."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import ClearHiddenTests

    from opsbook.classroom.grade import ClassCourse, State
    from opsbook.grading.nbcourse import run_converter
    from opsbook.grading.feedback import ShortTracebacks

    course = ClassCourse(course_root, assignment)
    course.require_gradebook()
    config = course.config
    configured = list(config.GenerateFeedback.get("preprocessors", [])) or [ClearHiddenTests, ShortTracebacks]
    if ClearHiddenTests not in configured:
        configured.insert(0, ClearHiddenTests)
    if RedactHiddenSource not in configured:
        configured.insert(configured.index(ClearHiddenTests) + 1, RedactHiddenSource)
    if ShortTracebacks not in configured:
        configured.insert(configured.index(RedactHiddenSource) + 1, ShortTracebacks)
    config.GenerateFeedback.preprocessors = configured
    config.CourseDirectory.student_id = "*"
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    if any(course.folder("autograded", "*").parent.parent.glob(f"*/{assignment}/*.ipynb")):
        run_converter(converter, f"generate_feedback {assignment}")
    notebooks = course.notebooks()
    state = State(course.state / "state.jsonl")
    written = []
    for student, entry in sorted(state.entries.items()):
        for notebook in notebooks:
            target = course.folder("feedback", student) / f"{notebook}.html"
            if entry["status"] in ("invalid", "missing", "crashed", "timeout", "error", "no-world") \
                    and not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(_plain_feedback(student, assignment, notebook, entry), encoding="utf-8")
            if target.is_file():
                written.append(target)
    secrets = set().union(*(gradebook_hidden_lines(course.db_url, assignment, nb) for nb in notebooks))
    for path in written:
        own = _own_lines(course.folder("autograded", path.parent.parent.name) / f"{path.stem}.ipynb")
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
        leaked = sorted(s for s in secrets if s in text and not any(s in line for line in own))
        if leaked:
            raise FeedbackLeak(f"{path} quotes hidden tests (first: {leaked[0][:60]!r}); not releasing it")
    return written


def _own_lines(autograded: Path) -> set[str]:
    """Lines the student typed (answer and unlocked cells): quoting their own code is no leak."""
    import nbformat

    if not autograded.is_file():
        return set()
    nb = nbformat.read(autograded, as_version=4)
    lines = set()
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("solution") or not grading.get("locked"):
            if not grading.get("grade") or grading.get("solution"):
                lines.update(line.strip() for line in cell.source.splitlines())
    return lines


def _plain_feedback(student: str, assignment: str, notebook: str, entry: dict) -> str:
    reasons = {"invalid": "your notebook file could not be read (it is not a valid Jupyter notebook)",
               "missing": f"no {notebook}.ipynb was found in your submission",
               "crashed": "the grader stopped while running your notebook",
               "timeout": "your notebook ran longer than the time limit",
               "error": "the grader failed on your notebook; your instructor will look at it",
               "no-world": "no data world was found for you; your instructor will look at it"}
    why = reasons.get(entry["status"], entry["status"])
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}</title></head>"
            f"<body><h1>{html.escape(assignment)}: {html.escape(notebook)}</h1><p>Student: {html.escape(student)}</p>"
            f"<p>Score: {entry['score']:g} / {entry['max_score']:g}</p><p>Why: {html.escape(why)}.</p></body></html>\n")


def export_csv(assignment: str, course_root: Path = ROOT, out: Path | None = None) -> Path:
    """One row per student and graded cell: student, assignment, exercise, points, max, late, flags."""
    from nbgrader.api import Gradebook, MissingEntry

    from opsbook.classroom.grade import ClassCourse, State

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
