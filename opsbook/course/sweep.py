"""The stuck-learner sweep: leave one exercise unfinished, run the rest, and see what breaks.

A learner who cannot finish an exercise must still be able to run every later
worked cell: it runs, or its ``%%needs`` line prints one line naming the
unfinished exercise. ``sweep`` checks that for every exercise of a notebook, in
one kernel: the release (reference answers spliced in) runs once; then, from the
last exercise to the first, the exercise's answer cell is put back to the
release's stub and every cell after it runs again. A cell after it may fail only
if it is that exercise's own check; a cell that skips must name that exercise.
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


def sweep(source: NotebookNode, release: NotebookNode, data_dir: Path | None = None, timeout: int = 300) -> list[Stuck]:
    """Every problem found; an empty list means every exercise can be skipped safely."""
    import tempfile

    from nbclient import NotebookClient
    from nbformat import v4

    from opsbook.course.contracts import answer_cells, solution_code, splice

    reference = solution_code(source)
    checks = answer_cells(source)
    nb = splice(release, reference)
    _inject_data_dir(nb, data_dir)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    stubs = {c.metadata.nbgrader.grade_id: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    problems: list[Stuck] = []
    with tempfile.TemporaryDirectory(prefix="opsbook-sweep-") as work:
        client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                resources={"metadata": {"path": work}})
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            problems += [Stuck("(none)", i, _error(c)) for i, c in enumerate(nb.cells) if _error(c)]
            for answer in reversed(list(checks)):
                start = ids.index(answer)
                client.execute_cell(v4.new_code_cell(stubs[answer]), start)
                own_checks = set(checks[answer])
                for index in range(start + 1, len(nb.cells)):
                    cell = copy.deepcopy(nb.cells[index])
                    if cell.cell_type != "code":
                        continue
                    if ids[index] in reference:  # a later answer cell: keep the reference
                        client.execute_cell(cell, index)
                        continue
                    client.execute_cell(cell, index)
                    problem = _judge(cell, ids[index] in own_checks, _exercise_number(nb, start))
                    if problem:
                        problems.append(Stuck(answer, index, problem))
                client.execute_cell(v4.new_code_cell(reference[answer]), start)
    return problems


def _judge(cell: NotebookNode, own_check: bool, number: str | None) -> str:
    error = _error(cell)
    if error:
        return "" if own_check else f"fails: {error}"
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


def _inject_data_dir(nb: NotebookNode, data_dir: Path | None) -> None:
    """Set DATA_DIR after the parameters cell, as papermill would."""
    from nbformat import v4

    if data_dir is None:
        return
    position = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(position, v4.new_code_cell(f"DATA_DIR = {str(Path(data_dir).resolve())!r}"))


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
