"""``opsbook grade`` on the fixture assignment: scores, the report, and clear messages for bad input."""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest
from course_cases import FIXTURE, FIXTURE_SOURCES

from opsbook.cli import main
from opsbook.course.contracts import solution_code, splice
from opsbook.grading.nbcourse import prepare_course
from opsbook.grading.selfgrade import UnusableNotebook, check_notebook, format_report, grade_notebook


@pytest.fixture
def learner_copy(grading_cache, tmp_path) -> Path:
    """A learner's fresh copy of the fixture's release notebook, under its own name."""
    release = prepare_course(FIXTURE, grading_cache) / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb"
    folder = tmp_path / "notebooks" / FIXTURE.name
    folder.mkdir(parents=True)
    return Path(shutil.copy(release, folder))


def _edit(path: Path, change) -> Path:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    return path


def _grade(path: Path, tmp_path: Path, *extra: str) -> int:
    return main(["grade", str(path), "--source", str(FIXTURE_SOURCES), "--work", str(tmp_path / "grades"), *extra])


def _cells(nb: nbformat.NotebookNode, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def test_release_scores_zero_report_written_file_untouched(learner_copy, tmp_path, capsys):
    before = (hashlib.sha256(learner_copy.read_bytes()).hexdigest(), learner_copy.stat().st_mtime_ns)
    assert _grade(learner_copy, tmp_path) == 0
    out = capsys.readouterr().out
    assert "Exercise 1.1" in out and "NotImplementedError" in out
    assert [line.split()[-2:] for line in out.splitlines() if line.startswith("total")] == [["0", "5"]]
    assert (hashlib.sha256(learner_copy.read_bytes()).hexdigest(), learner_copy.stat().st_mtime_ns) == before
    feedback = (tmp_path / "grades" / FIXTURE.name / "feedback.html").read_text(encoding="utf-8")
    assert "NotImplementedError" in feedback
    assert "HIDDEN TESTS" not in feedback and "Counter" not in feedback, "feedback reveals the hidden tests"


def test_solved_notebook_scores_full_with_last_traceback_line_as_message(learner_copy, tmp_path):
    solutions = solution_code(nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4))
    wrong = "def signups_by_channel(users):\n    return users['channel'].value_counts(normalize=True)"
    nbformat.write(splice(nbformat.read(learner_copy, as_version=4), {**solutions, "ex2_answer": wrong}), learner_copy)
    report = grade_notebook(learner_copy, FIXTURE_SOURCES, tmp_path / "grades")
    assert (report.graded.score, report.graded.max_score) == (2, 5)
    assert report.graded.cells["ex1_check"].message == ""
    assert report.graded.cells["ex2_check"].message == "AssertionError: two users from ads, one from seo"
    assert "total" in format_report(report)


def test_missing_file_and_unknown_notebook(tmp_path, capsys):
    assert _grade(tmp_path / "nope.ipynb", tmp_path) == 2
    assert "No notebook at" in capsys.readouterr().err
    stranger = tmp_path / "my_work.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stranger)
    assert _grade(stranger, tmp_path) == 2
    err = capsys.readouterr().err
    assert "'my_work.ipynb' is not a notebook of this course" in err and "99_fixture" in err
    assert "--assignment" in err


def test_renamed_copy_grades_with_assignment_option(learner_copy, tmp_path):
    renamed = learner_copy.rename(learner_copy.with_name("99_fixture-Copy1.ipynb"))
    assert check_notebook(renamed, FIXTURE_SOURCES, "99_fixture") == ("99_fixture", [])


def test_invalid_json_says_where(learner_copy, tmp_path, capsys):
    learner_copy.write_text(learner_copy.read_text()[:-40], encoding="utf-8")
    assert _grade(learner_copy, tmp_path) == 2
    err = capsys.readouterr().err
    assert "is not valid notebook JSON at line" in err and ", column " in err and ".ipynb_checkpoints" in err


def test_json_that_is_not_a_notebook(learner_copy, tmp_path, capsys):
    learner_copy.write_text('{"cells": 3}', encoding="utf-8")
    assert _grade(learner_copy, tmp_path) == 2
    assert "is JSON but not a Jupyter notebook" in capsys.readouterr().err


def test_duplicated_graded_cell_is_named(learner_copy):
    def duplicate(nb):
        i = _cells(nb, "ex2_check")[0]
        twin = copy.deepcopy(nb.cells[i])
        twin.id = "twin"
        nb.cells.insert(i, twin)

    _edit(learner_copy, duplicate)
    with pytest.raises(UnusableNotebook, match="more than once.*ex2_check"):
        check_notebook(learner_copy, FIXTURE_SOURCES)


def test_deleted_graded_cell_is_reported_and_the_rest_graded(learner_copy, tmp_path, capsys):
    _edit(learner_copy, lambda nb: nb.cells.pop(_cells(nb, "ex1_check")[0]))
    assert _grade(learner_copy, tmp_path) == 0
    out = capsys.readouterr().out
    assert "Missing graded cells: ex1_check" in out
    assert "this cell was deleted from the notebook" in out


def test_endless_loop_times_out_and_report_names_the_cell(learner_copy, tmp_path, capsys):
    def loop(nb):
        nb.cells[_cells(nb, "ex1_answer")[0]].source = "while True:\n    pass"

    _edit(learner_copy, loop)
    assert _grade(learner_copy, tmp_path, "--timeout", "2") == 0
    out = capsys.readouterr().out
    assert "Timed out: ex1_answer ran longer than 2 s" in out
