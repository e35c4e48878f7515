"""Grading contracts (DESIGN rule 8): alternative answers and common mistakes, declared as data.

``solutions/<id>/contracts.yml`` maps the grade_id of each answer cell to

    alternatives: [code, ...]          # other correct answers: full points
    mistakes: [{why: ..., code: ...}]   # common wrong answers: must lose points

``check_contracts`` tries them with the course's grader in one kernel: the
release runs once with the reference solutions, then each variant replaces its
answer cell in turn and that exercise's check cells are judged again.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

CONTRACTS_FILE = "contracts.yml"


@dataclass(frozen=True)
class Mistake:
    code: str
    why: str


@dataclass(frozen=True)
class Contract:
    """What one answer cell promises: correct alternatives and mistakes that must lose points."""

    alternatives: tuple[str, ...]
    mistakes: tuple[Mistake, ...]


def load_contracts(path: Path) -> dict[str, Contract]:
    """Read a contracts file; raises ``ValueError`` naming what is malformed."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    contracts = {}
    for grade_id, entry in data.items():
        if not isinstance(entry, dict) or not set(entry) <= {"alternatives", "mistakes"}:
            raise ValueError(f"{path}: {grade_id} needs only `alternatives` and `mistakes`")
        alternatives = tuple(entry.get("alternatives") or ())
        mistakes = tuple(entry.get("mistakes") or ())
        if not all(isinstance(a, str) for a in alternatives):
            raise ValueError(f"{path}: {grade_id}: each alternative is a block of code")
        if not all(isinstance(m, dict) and set(m) == {"why", "code"} for m in mistakes):
            raise ValueError(f"{path}: {grade_id}: each mistake needs exactly `why` and `code`")
        contracts[grade_id] = Contract(alternatives, tuple(Mistake(m["code"], m["why"]) for m in mistakes))
    return contracts


def answer_cells(source: NotebookNode) -> dict[str, list[str]]:
    """Map each answer cell's grade_id to the graded test cells that check it (those up to the next answer;
    a graded markdown cell is marked by hand, not by a check)."""
    checks: dict[str, list[str]] = {}
    current = None
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code":
            current = meta["grade_id"]
            checks[current] = []
        elif meta.get("grade") and cell.cell_type == "code" and current is not None:
            checks[current].append(meta["grade_id"])
    return {answer: tests for answer, tests in checks.items() if tests}


def solution_code(source: NotebookNode) -> dict[str, str]:
    """The reference answer of every answer cell, as a learner would type it (markers removed)."""
    from opsbook.grading.markers import without_solution_markers

    return {c.metadata.nbgrader.grade_id: without_solution_markers(c.source) for c in source.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def test_cells(source: NotebookNode) -> dict[str, str]:
    """The source of every autograded test cell (hidden tests included), by grade_id; a graded markdown cell is
    an answer graded by hand, not a test."""
    return {c.metadata.nbgrader.grade_id: c.source for c in source.cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


def graded_notebook(release: NotebookNode, source: NotebookNode, data_dir: Path | None) -> NotebookNode:
    """What autograde runs: the release with the reference answers and every test cell as in the source
    (nbgrader's OverwriteCells puts the hidden tests back), pointed at ``data_dir``."""
    nb = splice(release, {**solution_code(source), **test_cells(source)})
    inject_data_dir(nb, data_dir)
    return nb


def forget(answer_code: str) -> str:
    """Code that removes every name ``answer_code`` binds from the notebook, so no value outlives its answer."""
    from opsbook.companion import assigned_names

    return "\n".join(f"globals().pop({name!r}, None)" for name in sorted(assigned_names(ast.parse(answer_code))))


def splice(release: NotebookNode, code: dict[str, str]) -> NotebookNode:
    """A copy of ``release`` whose answer cells named in ``code`` hold that code."""
    nb = copy.deepcopy(release)
    missing = set(code) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if missing:
        raise KeyError(f"no answer cells {sorted(missing)} in the notebook")
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source = code[grade_id]
    return nb


# --------------------------------------------------------------------------- checking contracts
@dataclass(frozen=True)
class Trial:
    """One answer tried on an exercise's checks: the reference, the release's stub, an alternative or a mistake."""

    answer: str                 # grade_id of the answer cell
    kind: str                   # "reference", "blank", "alternative" or "mistake"
    number: int                 # 1-based among its kind
    score: float
    max_score: float
    messages: tuple[str, ...]   # first failing message of each check cell that lost points
    why: str = ""               # a mistake's misconception

    @property
    def holds(self) -> bool:
        """Whether the grader treats this answer as the contract says."""
        if self.kind in ("reference", "alternative"):
            return self.score == self.max_score
        if self.kind == "blank":
            return self.score == 0
        return self.score < self.max_score


@dataclass(frozen=True)
class ContractRun:
    """What ``check_contracts`` saw: every trial, and the errors of worked cells in the reference run."""

    trials: list[Trial]
    errors: list[str]


def check_contracts(folder: Path, release: NotebookNode, config: Any, data_dir: Path | None = None,
                    answers: set[str] | None = None, variants: bool = True) -> ContractRun:
    """Try every exercise's reference, stub, alternatives and mistakes with the course's grader, in one kernel.

    The release (with the reference solutions and the source's test cells) runs once, top to bottom, with
    every check cell judged as in ``nbgrader autograde`` (``JudgedExecute``): the reference's verdicts.
    Then, unless ``variants`` is False, for each answer cell (or those in ``answers``) the stub, each
    alternative and each mistake is run in the same kernel in place of the reference, and only that
    exercise's check cells are judged again; the reference is run again afterwards. Check cells call
    nothing but the exercise's own names (``tests/test_contracts.py`` checks it), so the verdicts are
    those of a separate autograde of each variant, at a fraction of the cost.
    """
    import tempfile

    from nbformat import v4

    from opsbook.grading.judge import JudgedExecute

    source = _read(folder / f"{folder.name}.ipynb")
    reference = solution_code(source)
    checks = answer_cells(source)
    chosen = [a for a in checks if answers is None or a in answers]
    contracts = load_contracts(folder / CONTRACTS_FILE) if variants else {}
    stubs = {c.metadata.nbgrader.grade_id: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    nb = graded_notebook(release, source, data_dir)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): (i, c) for i, c in enumerate(nb.cells)}
    trials: list[Trial] = []
    errors: list[str] = []

    with tempfile.TemporaryDirectory(prefix="opsbook-contracts-") as work:
        executor = JudgedExecute(config=config, data_dir=str(data_dir or ""))
        with executor.session(nb, {"metadata": {"path": work}}):
            judged = {}
            for index, cell in enumerate(executor.nb.cells):
                executor.execute_cell(cell, index)
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id is not None and cell.metadata.nbgrader.get("grade"):
                    judged[grade_id] = cell
                elif grade_id not in reference and (error := _first_error(cell)):
                    errors.append(f"cell {index}: {error}")
            for answer in chosen:
                trials.append(_trial(answer, "reference", 1, [judged[c] for c in checks[answer]]))
                if not variants:
                    continue
                index, _ = by_id[answer]
                contract = contracts.get(answer, Contract((), ()))
                tries = [("blank", 1, stubs[answer], "")]
                tries += [("alternative", k, code, "") for k, code in enumerate(contract.alternatives, 1)]
                tries += [("mistake", k, m.code, m.why) for k, m in enumerate(contract.mistakes, 1)]
                for kind, number, code, why in tries:
                    executor.execute_cell(v4.new_code_cell(forget(reference[answer])), index)
                    executor.execute_cell(v4.new_code_cell(code), index)
                    cells = [executor.execute_cell(copy.deepcopy(by_id[c][1]), by_id[c][0]) for c in checks[answer]]
                    trials.append(_trial(answer, kind, number, cells, why))
                executor.execute_cell(v4.new_code_cell(reference[answer]), index)
    return ContractRun(trials, errors)


def _trial(answer: str, kind: str, number: int, cells: list[NotebookNode], why: str = "") -> Trial:
    from nbgrader.utils import determine_grade

    score = top = 0.0
    messages = []
    for cell in cells:
        got, most = determine_grade(cell)
        score, top = score + float(got or 0), top + float(most)
        if got != most:
            messages.append(_first_error(cell) or "lost points")
    return Trial(answer, kind, number, score, top, tuple(messages), why)


def _first_error(cell: NotebookNode) -> str:
    return next((f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.get("output_type") == "error"), "")


def inject_data_dir(nb: NotebookNode, data_dir: Path | None) -> None:
    """Set ``DATA_DIR`` after the parameters cell, as papermill does, so the kernel reads ``data_dir`` too."""
    from nbformat import v4

    if data_dir is None:
        return
    position = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(position, v4.new_code_cell(f"DATA_DIR = {str(Path(data_dir).resolve())!r}"))


def _read(path: Path) -> NotebookNode:
    import nbformat

    return nbformat.read(path, as_version=4)
