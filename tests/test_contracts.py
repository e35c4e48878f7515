"""Grading contracts (DESIGN rule 8), for every assignment.

Through nbgrader's real autograde (test cells judged outside the kernel): the reference
solution earns full points, the untouched release earns zero and the grader still
finishes. Also nbgrader's own QA loop: ``validate`` passes on the solution,
``validate --invert`` fails every test of the release. Every declared alternative and
mistake is tried in test_notebooks.py (the one-kernel check of the same judge).
"""

from __future__ import annotations

import ast
import builtins
import symtable
from pathlib import Path

import nbformat
import pytest
from course_cases import assignment_params

from opsbook.course.contracts import (
    CONTRACTS_FILE,
    answer_cells,
    check_contracts,
    load_contracts,
    solution_code,
    splice,
)
from opsbook.grading.nbcourse import Course, Graded, course_config, prepare_course

pytestmark = pytest.mark.usefixtures("headless_plots")


def _source(folder: Path) -> nbformat.NotebookNode:
    return nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)


def _autograde(folder: Path, cache: Path, tmp_path: Path, code: dict[str, str] | None, world: Path) -> Graded:
    """Autograde the release with ``code`` spliced over the reference solutions (None: untouched release),
    on ``world``, with nbgrader's own Autograde converter."""
    course = Course(prepare_course(folder, cache), tmp_path / "course")
    release = nbformat.read(course.release, as_version=4)
    if code is not None:
        release = splice(release, {**solution_code(_source(folder)), **code})
    submission = tmp_path / "submission.ipynb"
    nbformat.write(release, submission)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPSBOOK_DATA_DIR", str(world))
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
def test_reference_solution_earns_full_points_and_validates(folder, grading_cache, tmp_path, small_world):
    """The reference answers through nbgrader's own autograde (on the smallest world): full points, no cell
    raises, and `nbgrader validate`'s verdict on that same execution (the validator judges the outputs
    nbgrader just produced instead of executing the notebook again)."""
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    graded = _autograde(folder, grading_cache, tmp_path, {}, small_world)
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
def test_untouched_release_earns_zero_and_grader_finishes(folder, grading_cache, tmp_path, small_world):
    graded = _autograde(folder, grading_cache, tmp_path, None, small_world)
    assert graded.cells, "no graded cells were scored"
    earned = {c.grade_id: c.score for c in graded.cells.values() if c.score}
    assert not earned, f"an empty answer earns points in {folder.name}: {earned}"


@pytest.mark.slow
def test_the_fixtures_contracts_hold_warnings_included(grading_cache, tmp_path):
    """The fixture's alternatives raise a RuntimeWarning and a FutureWarning while they run: no point lost."""
    from course_cases import FIXTURE

    template = prepare_course(FIXTURE, grading_cache)
    release = nbformat.read(template / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    run = check_contracts(FIXTURE, release, course_config(tmp_path))
    assert not run.errors and run.trials and all(t.holds for t in run.trials), run


@pytest.mark.parametrize("folder", assignment_params())
def test_check_cells_use_only_their_exercises_names(folder):
    """What makes the one-kernel contract check equal to separate autogrades, and the judge trustworthy: a check
    cell reads nothing but the grader's own names (pd, np, check, world, the setup cell's imports) and its
    exercise's answer names."""
    from opsbook.companion import assigned_names
    from opsbook.grading.judge import grader_imports

    source = _source(folder)
    provided = {"pd", "np", "check", "world", *grader_imports(source.cells)} | set(dir(builtins))
    reference = solution_code(source)
    wrong = []
    for answer, checks in answer_cells(source).items():
        own = assigned_names(ast.parse(reference[answer]))
        for cell in source.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in checks:
                extra = free_names(cell.source) - provided - own
                if extra:
                    wrong.append(f"{cell.metadata.nbgrader.grade_id}: {sorted(extra)}")
    assert not wrong, "check cells that read names made elsewhere in the notebook:\n" + "\n".join(wrong)


def free_names(code: str) -> set[str]:
    """Global names a piece of code reads but does not bind itself."""
    table = symtable.symtable(code, "<cell>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    read: set[str] = set()

    def walk(scope: symtable.SymbolTable) -> None:
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and (scope.get_type() == "module" or symbol.is_global()):
                read.add(symbol.get_name())
        for child in scope.get_children():
            walk(child)

    walk(table)
    return read - bound


@pytest.mark.slow
@pytest.mark.parametrize("folder", assignment_params())
def test_nbgrader_validate_invert_fails_every_test_of_release(folder, grading_cache, tmp_path):
    from nbgrader.validator import Validator

    release = Course(prepare_course(folder, grading_cache), tmp_path / "course").release
    validator = Validator(config=course_config(tmp_path))
    validator.invert = True
    result = validator.validate(str(release))
    assert result == {}, f"tests pass (or cells changed) in the release of {folder.name}: {result}"


@pytest.mark.slow
def test_the_judge_leaves_no_kernel_home_behind(grading_cache, tmp_path, monkeypatch):
    """Each kernel starts in a fresh home of the grader's (no profile of the submission's); it goes when
    grading ends."""
    import tempfile

    from course_cases import FIXTURE

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    template = prepare_course(FIXTURE, grading_cache)
    release = nbformat.read(template / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run = check_contracts(FIXTURE, release, course_config(tmp_path), variants=False)
    assert run.trials and all(t.holds for t in run.trials)
    assert not list(scratch.glob("opsbook-kernel-home-*"))
