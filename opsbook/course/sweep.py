"""The stuck-learner sweep: leave one exercise unfinished, run the rest, and see what breaks.

A learner who cannot finish an exercise must still be able to run every later
worked cell: it runs, or its ``%%needs`` line prints one line naming the
unfinished exercise. ``sweep`` checks that for every exercise of a notebook, in
one kernel: the notebook (reference answers, hidden tests) runs once, graded on
the given world; then, from the last exercise to the first, the exercise's
answer cell is put back to the release's stub and every worked cell after it
runs again: none may fail, and a cell that skips must name that exercise.
Going backwards means each pass also restores what the previous pass changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

SKIP_MARK = "⏭"


@dataclass(frozen=True)
class Stuck:
    """A cell that misbehaved while ``exercise`` was left unfinished."""

    exercise: str      # the answer cell's grade_id
    cell: int          # index in the notebook
    problem: str

    def __str__(self) -> str:
        return f"{self.exercise} blank → cell {self.cell}: {self.problem}"


def sweep(source: NotebookNode, release: NotebookNode, config: Any, data_dir: Path | None = None) -> list[Stuck]:
    """Every problem found; an empty list means every exercise can be skipped safely.

    The first pass is a graded run on ``data_dir``: every reference answer must earn its points there and
    no cell may raise. The passes after it run the worked cells only (check cells test nothing else).
    """
    import tempfile

    from nbformat import v4
    from nbgrader.utils import determine_grade

    from opsbook.course.contracts import answer_cells, forget, graded_notebook, solution_code, test_cells
    from opsbook.grading.judge import JudgedExecute

    reference = solution_code(source)
    checks = answer_cells(source)
    tests = test_cells(source)
    nb = graded_notebook(release, source, data_dir)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    stubs = {c.metadata.nbgrader.grade_id: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    problems: list[Stuck] = []
    with tempfile.TemporaryDirectory(prefix="opsbook-sweep-") as work:
        executor = JudgedExecute(config=config, data_dir=str(data_dir or ""))
        with executor.session(nb, {"metadata": {"path": work}}):
            for index, cell in enumerate(executor.nb.cells):
                executor.execute_cell(cell, index)
                error = _error(cell)
                if ids[index] in tests and error:
                    problems.append(Stuck("(reference)", index, f"the reference loses points here: {error}"))
                elif ids[index] in tests and determine_grade(cell)[0] != determine_grade(cell)[1]:
                    problems.append(Stuck("(reference)", index, "the reference loses points here"))
                elif error:
                    problems.append(Stuck("(reference)", index, f"fails: {error}"))
            for answer in reversed(list(checks)):
                start = ids.index(answer)
                executor.execute_cell(v4.new_code_cell(forget(reference[answer])), start)
                executor.execute_cell(v4.new_code_cell(stubs[answer]), start)
                number = _exercise_number(nb, start)
                for index in range(start + 1, len(nb.cells)):
                    cell = copy.deepcopy(nb.cells[index])
                    if cell.cell_type != "code" or ids[index] in tests:
                        continue
                    executor.execute_cell(cell, index)
                    if ids[index] in reference:  # a later answer cell: its reference is back
                        continue
                    problem = _judge(cell, number)
                    if problem:
                        problems.append(Stuck(answer, index, problem))
                executor.execute_cell(v4.new_code_cell(reference[answer]), start)
    return problems


def _judge(cell: NotebookNode, number: str | None) -> str:
    error = _error(cell)
    if error:
        return f"fails: {error}"
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    if SKIP_MARK in text and number and number not in text:
        line = next(line for line in text.splitlines() if SKIP_MARK in line)
        return f"skips but names another exercise ({line.strip()[:120]})"
    return ""


def _error(cell: NotebookNode) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.ename}: {output.evalue}"[:200]
    return ""


def _exercise_number(nb: NotebookNode, answer_index: int) -> str | None:
    from opsbook.companion import _HEADING

    for cell in reversed(nb.cells[:answer_index]):
        if cell.cell_type == "markdown" and (match := _HEADING.search(cell.source)):
            return match.group(2)
    return None


def describe(problems: list[Stuck]) -> str:
    """One line per problem, or a one-line all-clear."""
    return "\n".join(map(str, problems)) if problems else "Every exercise can be left unfinished safely."


def release_for(folder: Path, cache: Path) -> tuple[NotebookNode, NotebookNode, Any]:
    """(source, release) of a source folder, the release generated by nbgrader (cached)."""
    import nbformat

    from opsbook.grading.nbcourse import prepare_course

    template = prepare_course(folder, cache)
    source = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
    release = nbformat.read(template / "release" / folder.name / f"{folder.name}.ipynb", as_version=4)
    return source, release, template
