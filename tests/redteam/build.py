"""Build the red-team submissions of ``cases.yml`` into a course's ``submitted/`` folder.

    python tests/redteam/build.py COURSE_ROOT          # writes COURSE_ROOT/submitted/<case id>/97_redteam/

The course must hold the generated assignment (``release/97_redteam``), e.g. from
``opsbook.grading.nbcourse.prepare_course(tests/redteam/97_redteam, cache)``.
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


def load_cases() -> list[dict]:
    return yaml.safe_load(CASES.read_text(encoding="utf-8"))


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def build_case(case: dict, release: nbformat.NotebookNode, solutions: dict[str, str], course: Path) -> Path:
    """Write one case's submission folder; returns it."""
    from opsbook.course.contracts import splice

    folder = course / "submitted" / case["id"] / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    code = {gid: (solutions[gid] if text.strip() == "SOLUTION" else text.replace("{course}", str(course)))
            for gid, text in (case.get("code") or {}).items()}
    nb = splice(release, code)
    edit = case.get("edit") or ""
    target = folder / f"{ASSIGNMENT}.ipynb"
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
        content = content.replace("{course}", str(course))
        if content.startswith("symlink:"):
            os.symlink(content.removeprefix("symlink:"), path)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def build_all(course: Path, cases: list[dict] | None = None) -> dict[str, Path]:
    from opsbook.course.contracts import solution_code

    course = Path(course).resolve()
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solutions = solution_code(nbformat.read(SOURCE / f"{ASSIGNMENT}.ipynb", as_version=4))
    return {case["id"]: build_case(case, release, solutions, course) for case in (cases or load_cases())}


if __name__ == "__main__":
    for case_id, folder in build_all(Path(sys.argv[1])).items():
        print(case_id, folder)
