"""Build the red-team submissions of ``cases.yml`` and ``course_cases.yml`` into a course's ``submitted/``.

    python tests/redteam/build.py COURSE_ROOT [ASSIGNMENT]   # COURSE_ROOT/submitted/<case id>/<assignment>/

A case attacks ``97_redteam`` (a two-exercise fixture) or, with ``assignment:``, a course notebook. The course
must hold that generated assignment (``release/<assignment>``), e.g. from
``opsbook.grading.nbcourse.prepare_course(<source folder>, cache)``.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import nbformat
import yaml

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "97_redteam"
SOURCE = HERE / ASSIGNMENT
CASES = HERE / "cases.yml"
COURSE_CASES = HERE / "course_cases.yml"


def load_cases(path: Path = CASES) -> list[dict]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def source_folder(assignment: str) -> Path:
    """Where an attacked assignment's source lives: the fixture here, or the course's solutions/."""
    from opsbook.paths import SOLUTIONS

    return SOURCE if assignment == ASSIGNMENT else SOLUTIONS / assignment


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def build_case(case: dict, release: nbformat.NotebookNode, solutions: dict[str, str], course: Path) -> Path:
    """Write one case's submission folder; returns it."""
    from opsbook.course.contracts import splice

    assignment = case.get("assignment", ASSIGNMENT)
    folder = course / "submitted" / case["id"] / assignment
    folder.mkdir(parents=True, exist_ok=True)
    code = {gid: (solutions[gid] if text.strip() == "SOLUTION" else text.replace("{course}", str(course)))
            for gid, text in (case.get("code") or {}).items()}
    nb = splice(release, code)
    edit = case.get("edit") or ""
    target = folder / f"{assignment}.ipynb"
    action, _, grade_id = edit.partition(":")
    if action == "delete":
        nb.cells.pop(_cell(nb, grade_id))
    elif action == "duplicate":
        index = _cell(nb, grade_id)
        twin = copy.deepcopy(nb.cells[index])
        twin.id = "twin-" + twin.id
        twin.source = "pass"
        nb.cells.insert(index + 1, twin)
    elif action == "blank":
        nb.cells[_cell(nb, grade_id)].source = "pass"
    elif action == "retype":
        index = _cell(nb, grade_id)
        old = nb.cells[index]
        nb.cells[index] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata, id=old.id)
    elif action == "kernelspec":
        nb.metadata.kernelspec = {"name": "bash", "display_name": "Bash", "language": "bash"}
    elif action == "extra_cell":
        nb.cells.append(nbformat.v4.new_code_cell(case["extra_cell"]))
    if action == "not_json":
        target.write_bytes(b"\x89PNG this was never a notebook {\"cells\": [")
    elif action == "not_a_notebook":
        target.write_text('{"cells": 3, "metadata": "none"}', encoding="utf-8")
    else:
        nbformat.write(nb, target)
    for name, content in (case.get("files") or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = content.replace("{course}", str(course))
        if content.startswith("symlink:"):
            os.symlink(content.removeprefix("symlink:"), path)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def build_all(course: Path, cases: list[dict] | None = None, assignment: str = ASSIGNMENT) -> dict[str, Path]:
    """Write the submissions of every case of ``cases`` that attacks ``assignment``."""
    from opsbook.course.contracts import solution_code

    course = Path(course).resolve()
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = source_folder(assignment)
    solutions = solution_code(nbformat.read(source / f"{assignment}.ipynb", as_version=4))
    chosen = [c for c in (cases or load_cases()) if c.get("assignment", ASSIGNMENT) == assignment]
    return {case["id"]: build_case(case, release, solutions, course) for case in chosen}


if __name__ == "__main__":
    which = sys.argv[2] if len(sys.argv) > 2 else ASSIGNMENT
    every = load_cases() + load_cases(COURSE_CASES)
    for case_id, folder in build_all(Path(sys.argv[1]), every, which).items():
        print(case_id, folder)
