"""Papermill execution: every solution notebook on a second world (DESIGN rule 6), and `make course`.

The default-world run of every solution notebook is the nbgrader autograde of its
reference answers in test_contracts.py (all points, no cell raises), not a second
execution here.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from course_cases import COURSE_IDS, FIXTURE, FIXTURE_SOURCES

from opsbook.course.execute import format_summary, run_course, run_notebook
from opsbook.paths import SOLUTIONS

pytestmark = pytest.mark.usefixtures("headless_plots")


@pytest.fixture(scope="session")
def second_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world with another seed and a third of the users (the world tests use the same one)."""
    from opsbook.world.config import WorldConfig
    from opsbook.world.generate import generate_world, write_world

    out = tmp_path_factory.mktemp("second-world") / "world"
    write_world(generate_world(replace(WorldConfig(), seed=7, n_users=WorldConfig().n_users // 3), progress=False),
                out)
    return out


def _assert_ran(result) -> None:
    assert result.ok, f"{result.id} failed ({result.error}); see {result.html}"
    assert result.executed.is_file() and result.html.is_file()


@pytest.mark.slow
@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_solution_notebook_runs_on_a_second_world(nb_id, second_world, tmp_path):
    result = run_notebook(SOLUTIONS / nb_id / f"{nb_id}.ipynb", tmp_path, data_dir=second_world)
    _assert_ran(result)
    parameters = next(c for c in nbformat.read(result.executed, as_version=4).cells
                      if "injected-parameters" in c.metadata.get("tags", []))
    assert str(second_world) in parameters.source


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
