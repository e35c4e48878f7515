"""`make course`: papermill runs with an executed copy, HTML and a summary per notebook.

Every course notebook on every kind of world is in test_notebooks.py.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from course_cases import FIXTURE, FIXTURE_SOURCES

from opsbook.course.execute import format_summary, run_course

pytestmark = pytest.mark.usefixtures("headless_plots")


def _assert_ran(result) -> None:
    assert result.ok, f"{result.id} failed ({result.error}); see {result.html}"
    assert result.executed.is_file() and result.html.is_file()


def test_run_course_writes_executed_copy_html_and_summary(tmp_path):
    results = run_course([FIXTURE.name], FIXTURE_SOURCES, tmp_path / "course")
    [result] = results
    _assert_ran(result)
    assert result.executed == tmp_path / "course" / "99_fixture" / "99_fixture.ipynb"
    assert result.seconds > 0 and result.peak_mb > 10, "the kernel's memory is measured"
    assert all(c.outputs is not None for c in nbformat.read(result.executed, as_version=4).cells
               if c.cell_type == "code")
    summary = format_summary(results)
    assert summary.splitlines()[0].split() == ["notebook", "seconds", "peak", "MB", "status"]
    assert "99_fixture" in summary and " ok" in summary and "0 failed" in summary


def test_a_failing_notebook_is_reported_and_its_executed_copy_kept(tmp_path):
    source = tmp_path / "src" / FIXTURE.name
    shutil.copytree(FIXTURE, source)
    nb = nbformat.read(source / "99_fixture.ipynb", as_version=4)
    nb.cells[2].source = "raise RuntimeError('the setup broke')"
    nbformat.write(nb, source / "99_fixture.ipynb")

    [result] = run_course([FIXTURE.name], tmp_path / "src", tmp_path / "course")
    assert not result.ok and "RuntimeError: the setup broke" in result.error
    assert result.executed.is_file() and "the setup broke" in result.html.read_text(encoding="utf-8")
    assert "FAILED" in format_summary([result]) and "1 failed" in format_summary([result])
