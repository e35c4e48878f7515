"""Temporary nbgrader courses: generate an assignment once, then autograde copies of notebooks in it.

Everything runs through nbgrader's own converters (GenerateAssignment,
Autograde, GenerateFeedback) with the course's settings from
``autograder/nbgrader_config.py``; only the folders change. A generated
course (source, release, gradebook) is cached by the content of its source
folder, and every grading works in a fresh copy, so nothing is graded in place.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from traitlets.config import Config

from opsbook.paths import NBGRADER_CONFIG

CONFIG_FILE = NBGRADER_CONFIG
TIMEOUT_ERRORS = {"CellTimeoutError"}


class GradingError(RuntimeError):
    """nbgrader could not finish; the message carries its log."""


@dataclass(frozen=True)
class CellResult:
    """The score of one graded cell and, when it lost points, why."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""

    @property
    def full(self) -> bool:
        return self.score == self.max_score


@dataclass(frozen=True)
class Graded:
    """The outcome of one autograde run: scores by autograded cell, the autograded copy, cells stopped by the
    timeout, and the points of each cell an instructor grades by hand (a written answer), not in the score."""

    cells: dict[str, CellResult]
    notebook: Path
    timed_out: list[str] = field(default_factory=list)
    by_hand: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells.values())

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells.values())


def write_plain_config(course: Path, extra: str = "") -> None:
    """An ``nbgrader_config.py`` in ``course`` for running the nbgrader command itself there
    (the course config, with every folder and the gradebook inside ``course``)."""
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(CONFIG_FILE)!r})\n"
        'for step in ("source", "release", "submitted", "autograded", "feedback"):\n'
        '    setattr(c.CourseDirectory, step + "_directory", step)\n'
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f'c.CourseDirectory.db_url = "sqlite:///{course}/gradebook.db"\n' + extra, encoding="utf-8")


@functools.lru_cache(maxsize=1)
def course_settings() -> Config:
    """The course's nbgrader settings as written in ``autograder/nbgrader_config.py`` (folders unchanged)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE.name, str(CONFIG_FILE.parent)).load_config()


def course_config(root: Path) -> Config:
    """The course's nbgrader settings for a course at ``root`` with nbgrader's default folder names."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, str(CONFIG_FILE.parent)).load_config()
    config.CourseDirectory.root = str(Path(root).resolve())
    for step in ("source", "release", "submitted", "autograded", "feedback"):
        config.CourseDirectory[f"{step}_directory"] = step
    config.CourseDirectory.db_url = f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"
    return config


def run_converter(converter: Any, what: str) -> None:
    """Run an nbgrader converter quietly; raise ``GradingError`` with its log if it fails."""
    from nbgrader.utils import capture_log

    # nbgrader runs the `alembic` script of this environment when it creates a gradebook.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy session warnings from nbgrader's gradebook
        result = capture_log(converter)
    if not result["success"]:
        raise GradingError(f"nbgrader {what} failed:\n{result.get('log', '')}\n{result.get('error', '')}")


def prepare_course(source_dir: Path, cache_dir: Path) -> Path:
    """A generated course for the assignment in ``source_dir``, made once per content and cached."""
    import nbgrader
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    source_dir = Path(source_dir)
    digest = hashlib.sha256(f"{nbgrader.__version__}\n".encode() + CONFIG_FILE.read_bytes())
    for path in sorted(p for p in source_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(source_dir)).encode() + b"\0" + path.read_bytes())
    target = Path(cache_dir) / f"{source_dir.name}-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    building = Path(cache_dir) / f".{target.name}-{uuid.uuid4().hex}"
    shutil.copytree(source_dir, building / "source" / source_dir.name)
    config = course_config(building)
    config.CourseDirectory.assignment_id = source_dir.name
    converter = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    run_converter(converter, f"generate_assignment {source_dir.name}")
    try:
        building.rename(target)  # atomic: parallel test workers may race to build the same course
    except OSError:
        shutil.rmtree(building)
    return target


class Course:
    """A working copy of a prepared course, for grading notebooks of one assignment."""

    def __init__(self, template: Path, root: Path):
        self.root = Path(root)
        shutil.copytree(template, self.root)
        self.assignment = next((self.root / "source").iterdir()).name
        self.release = self.root / "release" / self.assignment / f"{self.assignment}.ipynb"

    def _config(self, student: str) -> Config:
        config = course_config(self.root)
        config.CourseDirectory.assignment_id = self.assignment
        config.CourseDirectory.student_id = student
        return config

    def autograde(self, student: str, notebook: Path, timeout: int | None = None, sandboxed: bool = False) -> Graded:
        """Autograde a copy of ``notebook`` as ``student``'s submission (its kernel sandboxed if asked)."""
        from nbgrader.api import Gradebook
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory

        submitted = self.root / "submitted" / student / self.assignment
        submitted.mkdir(parents=True)
        shutil.copyfile(notebook, submitted / self.release.name)
        config = self._config(student)
        if timeout is not None:
            config.Execute.timeout = timeout
        if sandboxed:
            from opsbook.grading.judge import JudgedExecute
            from opsbook.grading.sandbox import SandboxedExecute

            steps = list(config.Autograde.autograde_preprocessors)
            config.Autograde.autograde_preprocessors = [SandboxedExecute if p is JudgedExecute else p for p in steps]
        converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
        converter.force = True
        run_converter(converter, f"autograde {self.assignment} for {student}")

        graded_path = self.root / "autograded" / student / self.assignment / self.release.name
        graded = nbformat.read(graded_path, as_version=4)
        by_id = {c.metadata.nbgrader.grade_id: c for c in graded.cells if "nbgrader" in c.metadata}
        with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
            grades = {g.name: g for g in gb.find_submission_notebook(self.release.stem, self.assignment,
                                                                     student).grades}
            cells = {}
            autograded, by_hand = graded_cells(self.release)
            for grade_id in autograded:
                g = grades[grade_id]
                score = float(g.score or 0.0)
                cell = by_id.get(grade_id)
                message = "" if score == g.max_score else (
                    failure_message(cell) if cell is not None else "this cell was deleted from the notebook")
                cells[grade_id] = CellResult(grade_id, score, float(g.max_score), message)
            hand = {grade_id: float(grades[grade_id].max_score) for grade_id in by_hand}
        return Graded(cells, graded_path, timed_out_cells(graded), hand)

    def feedback(self, student: str) -> Path:
        """Render the HTML feedback report of ``student``'s autograded notebook."""
        from nbgrader.converters import GenerateFeedback
        from nbgrader.coursedir import CourseDirectory

        config = self._config(student)
        converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
        converter.force = True
        run_converter(converter, f"generate_feedback {self.assignment} for {student}")
        return self.root / "feedback" / student / self.assignment / f"{self.release.stem}.html"


def graded_cells(notebook: Path) -> tuple[list[str], list[str]]:
    """Grade ids of the cells autograde scores (code) and of those an instructor grades by hand (markdown)."""
    nb = nbformat.read(notebook, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return ([c.metadata.nbgrader.grade_id for c in graded if c.cell_type == "code"],
            [c.metadata.nbgrader.grade_id for c in graded if c.cell_type != "code"])


def failure_message(cell: nbformat.NotebookNode) -> str:
    """The first failure of an executed cell in one line: the error's last line, or its stderr."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            if output.ename in TIMEOUT_ERRORS or output.ename == "KeyboardInterrupt":
                return "timed out: stopped after running too long"
            return f"{output.ename}: {output.evalue}".strip().rstrip(":")
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr: " + output.text.strip().splitlines()[0]
    return "no points (the cell gave no error)"


def timed_out_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Labels of the cells the grader stopped after its timeout."""
    labels = []
    for index, cell in enumerate(nb.cells, start=1):
        if any(o.output_type == "error" and o.ename in TIMEOUT_ERRORS for o in cell.get("outputs", [])):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            first = (cell.source.strip().splitlines() or [""])[0][:60]
            labels.append(grade_id or f"cell {index} ({first})")
    return labels
