"""The class being graded: the nbgrader course folder, its submissions, gradebook and resumable state."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from opsbook.classroom.status import Status
from opsbook.grading.sandbox import Limits
from opsbook.paths import ROOT

STATE_DIR = "class_grading"


class ClassGradingError(RuntimeError):
    """The class cannot be graded (no gradebook entry, no sandbox...); the message says what to do."""


@dataclass
class Submission:
    student: str
    folder: Path
    sha256: str
    world: Path | None = None


class ClassCourse:
    """The nbgrader course being graded: its config, folders and gradebook."""

    def __init__(self, root: Path = ROOT, assignment: str = ""):
        from nbgrader.coursedir import CourseDirectory

        from opsbook.classroom.worker import Assignment, load_config

        self.root = Path(root).resolve()
        self.assignment = assignment
        config_file = self.root / "autograder" / "nbgrader_config.py"
        self.config_file = str(config_file) if config_file.is_file() else None
        self.config = load_config(Assignment(str(self.root), assignment, {}, "", self.config_file))
        self.config.CourseDirectory.assignment_id = assignment
        self.coursedir = CourseDirectory(config=self.config)
        self.db_url = self.coursedir.db_url
        self.course_id = self.coursedir.course_id
        self.state = self.root / STATE_DIR / assignment

    def folder(self, step: str, student: str = ".") -> Path:
        return Path(self.coursedir.format_path(getattr(self.coursedir, f"{step}_directory"), student,
                                               self.assignment))

    def submissions(self, students: Iterable[str] | None = None) -> list[Submission]:
        base = Path(self.coursedir.root) / self.coursedir.submitted_directory
        wanted = set(students) if students else None
        found = []
        for folder in sorted(base.glob(f"*/{self.assignment}")):
            student = folder.parent.name
            if folder.is_dir() and not folder.is_symlink() and (wanted is None or student in wanted):
                found.append(Submission(student, folder, folder_sha256(folder)))
        return found

    def require_gradebook(self) -> None:
        """Raise unless the gradebook exists (opening a missing one would create an empty one)."""
        database = Path(self.db_url.removeprefix("sqlite:///"))
        if self.db_url.startswith("sqlite:///") and not database.is_file():
            raise ClassGradingError(f"no gradebook at {database}: run `nbgrader generate_assignment {self.assignment}` "
                                    f"in {self.root} first")

    def notebooks(self) -> dict[str, dict]:
        """Per notebook of the assignment: the gradebook's record of its cells and the release's text."""
        from nbgrader.api import Gradebook, MissingEntry

        out = {}
        self.require_gradebook()
        with Gradebook(self.db_url, self.course_id) as gb:
            try:
                assignment = gb.find_assignment(self.assignment)
            except MissingEntry:
                raise ClassGradingError(
                    f"the gradebook has no assignment {self.assignment!r}: run `nbgrader generate_assignment "
                    f"{self.assignment}` in {self.root} first") from None
            for notebook in assignment.notebooks:
                master = {c.name: {"cell_type": c.cell_type, "checksum": c.checksum, "locked": c.locked,
                                   "points": None, "solution": False} for c in notebook.source_cells}
                for cell in notebook.grade_cells:
                    master.setdefault(cell.name, {"cell_type": cell.cell_type, "checksum": None, "locked": False,
                                                  "solution": False})["points"] = cell.max_score
                for cell in notebook.solution_cells:
                    master.setdefault(cell.name, {"cell_type": "code", "checksum": None, "locked": False,
                                                  "points": None})["solution"] = True
                release = self.folder("release") / f"{notebook.name}.ipynb"
                if not release.is_file():
                    raise ClassGradingError(f"no release notebook at {release}: generate the assignment first")
                out[notebook.name] = {"master": master, "release": release.read_text(encoding="utf-8"),
                                      "sources": {c.name: c.source for c in notebook.source_cells}}
        if not out:
            raise ClassGradingError(f"assignment {self.assignment!r} has no notebooks in the gradebook")
        return out


def folder_sha256(folder: Path) -> str:
    """SHA-256 of every regular file's relative path and bytes (symlinks by their target text)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        rel = str(path.relative_to(folder)).encode()
        if path.is_symlink():
            digest.update(b"L" + rel + b"\0" + os.readlink(path).encode() + b"\0")
        elif path.is_file():
            digest.update(b"F" + rel + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def fingerprint(notebooks: dict, world: Path | None, policy: str, limits: Limits) -> str:
    digest = hashlib.sha256(json.dumps({k: v["master"] for k, v in notebooks.items()}, sort_keys=True).encode())
    digest.update(json.dumps({k: v["sources"] for k, v in notebooks.items()}, sort_keys=True).encode())
    digest.update(f"{policy}|{limits.cell_timeout}|{limits.memory_mb}".encode())
    if world is not None:
        manifest = Path(world) / "MANIFEST.sha256"
        digest.update(manifest.read_bytes() if manifest.is_file() else str(world).encode())
    return digest.hexdigest()


class State:
    """``state.jsonl``: one JSON line per finished submission; the last line of a student wins."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption
                self.entries[entry["student"]] = entry

    def done(self, submission: Submission, fingerprint: str) -> bool:
        entry = self.entries.get(submission.student)
        return bool(entry and entry.get("sha256") == submission.sha256 and entry.get("fingerprint") == fingerprint
                    and Status(entry.get("status", "error")).final)

    def append(self, entry: dict) -> None:
        self.entries[entry["student"]] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
