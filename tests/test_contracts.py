"""Grading contracts (DESIGN rule 8) through nbgrader's real autograde, for every assignment.

For each graded exercise: the reference solution earns full points, the untouched
release earns zero and the grader still finishes, every declared alternative earns
full points and every declared mistake loses points. Also nbgrader's own QA loop:
``validate`` passes on the solution, ``validate --invert`` fails every test of the release.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from course_cases import FIXTURE, assignment_params, grading_cache, headless_plots  # noqa: F401 - fixtures

from opsbook.course.contracts import (CONTRACTS_FILE, answer_cells, batch, batch_count, load_contracts,
                                       solution_code, splice, truncate_after)
from opsbook.grading.nbcourse import Course, Graded, course_config, prepare_course

pytestmark = pytest.mark.usefixtures("headless_plots")


def _source(folder: Path) -> nbformat.NotebookNode:
    return nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)


def _variant_params(kind: str) -> list:
    params = []
    for param in assignment_params():
        folder = param.values[0]
        try:
            count = batch_count(load_contracts(folder / CONTRACTS_FILE), kind)
        except (OSError, ValueError):
            count = 0  # test_every_exercise_declares_contracts reports it
        params += [pytest.param(folder, k, id=f"{folder.name}-{kind}-{k + 1}") for k in range(count)]
    return params


def _autograde(folder: Path, cache: Path, tmp_path: Path, code: dict[str, str] | None,
               judged: set[str] | None = None) -> Graded:
    """Autograde the release with ``code`` spliced over the reference solutions (None: untouched release).

    With ``judged`` (check cells), the submission ends after the last of them.
    """
    course = Course(prepare_course(folder, cache), tmp_path / "course")
    release = nbformat.read(course.release, as_version=4)
    if code is not None:
        release = splice(release, {**solution_code(_source(folder)), **code})
    if judged:
        release = truncate_after(release, judged)
    submission = tmp_path / "submission.ipynb"
    nbformat.write(release, submission)
    return course.autograde("contract", submission)


@pytest.mark.parametrize("folder", assignment_params())
def test_every_exercise_declares_contracts(folder):
    answers = answer_cells(_source(folder))
    assert answers, f"{folder.name} has no graded exercises"
    contracts = load_contracts(folder / CONTRACTS_FILE)
    assert set(contracts) == set(answers), (
        f"{CONTRACTS_FILE} of {folder.name}: missing {sorted(set(answers) - set(contracts))}, "
        f"unknown {sorted(set(contracts) - set(answers))}")
    for grade_id, contract in contracts.items():
        assert contract.alternatives, f"{grade_id}: declare at least one alternative correct answer"
        assert contract.mistakes, f"{grade_id}: declare at least one common mistake"


@pytest.mark.slow
@pytest.mark.parametrize("folder", assignment_params())
def test_reference_solution_earns_full_points_and_validates(folder, grading_cache, tmp_path):
    """The solution notebook on the default world, through nbgrader: full points, no cell raises,
    and `nbgrader validate`'s verdict on that same execution.

    This run is the default-world execution of every solution notebook (test_execute.py
    runs papermill on the second world): the validator judges the outputs nbgrader just
    produced with the course settings instead of executing the notebook again.
    """
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    graded = _autograde(folder, grading_cache, tmp_path, {})
    lost = {c.grade_id: c.message for c in graded.cells.values() if not c.full}
    assert not lost, f"the reference solution of {folder.name} loses points: {lost}"
    assert graded.max_score > 0
    errors = [(i, o.ename, o.evalue) for i, c in enumerate(nbformat.read(graded.notebook, as_version=4).cells)
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"cells of {folder.name} raise on the default world (cell index, error): {errors}"
    validator = Validator(config=course_config(tmp_path))
    validator.preprocessors = [CheckCellMetadata]  # no ClearOutput/Execute: judge the graded outputs
    validator.ignore_checksums = True  # a source notebook carries no checksums
    assert validator.validate(str(graded.notebook)) == {}, f"nbgrader validate fails on {folder.name}"


@pytest.mark.slow
@pytest.mark.parametrize("folder", assignment_params())
def test_untouched_release_earns_zero_and_grader_finishes(folder, grading_cache, tmp_path):
    graded = _autograde(folder, grading_cache, tmp_path, None)
    assert graded.cells, "no graded cells were scored"
    earned = {c.grade_id: c.score for c in graded.cells.values() if c.score}
    assert not earned, f"an empty answer earns points in {folder.name}: {earned}"


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "k"), _variant_params("alternatives"))
def test_alternative_answers_earn_full_points(folder, k, grading_cache, tmp_path):
    code = batch(load_contracts(folder / CONTRACTS_FILE), "alternatives", k)
    checks = answer_cells(_source(folder))
    graded = _autograde(folder, grading_cache, tmp_path, code, {c for g in code for c in checks[g]})
    for grade_id in code:
        for check in checks[grade_id]:
            cell = graded.cells[check]
            assert cell.full, (f"alternative {k + 1} of {grade_id} earns {cell.score:g}/{cell.max_score:g} "
                               f"in {check}: {cell.message}\n{code[grade_id]}")


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "k"), _variant_params("mistakes"))
def test_common_mistakes_lose_points(folder, k, grading_cache, tmp_path):
    contracts = load_contracts(folder / CONTRACTS_FILE)
    code = batch(contracts, "mistakes", k)
    checks = answer_cells(_source(folder))
    graded = _autograde(folder, grading_cache, tmp_path, code, {c for g in code for c in checks[g]})
    for grade_id in code:
        cells = [graded.cells[check] for check in checks[grade_id]]
        assert sum(c.score for c in cells) < sum(c.max_score for c in cells), (
            f"mistake {k + 1} of {grade_id} ({contracts[grade_id].mistakes[k].why}) keeps full points")


def test_warnings_never_zero_a_correct_answer(grading_cache, tmp_path):
    """The fixture's first alternatives raise a RuntimeWarning and a FutureWarning inside the test cells."""
    graded = _autograde(FIXTURE, grading_cache, tmp_path, batch(load_contracts(FIXTURE / CONTRACTS_FILE),
                                                                  "alternatives", 0))
    shown = {c.metadata.nbgrader.grade_id: "".join(o.get("text", "") for o in c.outputs)
             for c in nbformat.read(graded.notebook, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert "RuntimeWarning" in shown["ex1_check"] and "FutureWarning" in shown["ex2_check"], shown
    assert all(c.full for c in graded.cells.values()), graded.cells


@pytest.mark.slow
@pytest.mark.parametrize("folder", assignment_params())
def test_nbgrader_validate_invert_fails_every_test_of_release(folder, grading_cache, tmp_path):
    from nbgrader.validator import Validator

    release = Course(prepare_course(folder, grading_cache), tmp_path / "course").release
    validator = Validator(config=course_config(tmp_path))
    validator.invert = True
    result = validator.validate(str(release))
    assert result == {}, f"tests pass (or cells changed) in the release of {folder.name}: {result}"
