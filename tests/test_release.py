"""notebooks/ is exactly what `make release` produces from solutions/, and every committed notebook is clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from course_cases import FIXTURE, FIXTURE_SOURCES

from opsbook.course.release import notebook_problems, release, tidy_notebook
from opsbook.paths import NOTEBOOKS, ROOT, SOLUTIONS


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _committed() -> list:
    cases = [(p, "source") for p in sorted(SOLUTIONS.glob("*/*.ipynb"))]
    cases += [(p, "release") for p in sorted(NOTEBOOKS.glob("*/*.ipynb"))]
    cases.append((FIXTURE / f"{FIXTURE.name}.ipynb", "source"))
    return [pytest.param(path, kind, id=str(path.relative_to(ROOT))) for path, kind in cases]


@pytest.mark.parametrize(("path", "kind"), _committed())
def test_committed_notebook_is_clean(path, kind):
    """Outputs stripped, kernelspec python3, only nbgrader metadata and tags, a parameters cell."""
    assert notebook_problems(path, kind) == [], f"{path.relative_to(ROOT)}: run `make release`"


def test_notebooks_folder_is_exactly_the_release(tmp_path):
    expected = tmp_path / "notebooks"
    release(SOLUTIONS, expected)
    committed = {p for p in _files(NOTEBOOKS) if ".ipynb_checkpoints" not in p and not p.startswith("zh/")}
    assert committed == _files(expected), "notebooks/ and solutions/ hold different notebooks: run `make release`"
    for name in sorted(committed):
        if name.endswith(".ipynb"):
            assert json.loads((NOTEBOOKS / name).read_text()) == json.loads((expected / name).read_text()), (
                f"notebooks/{name} differs from what `make release` generates from solutions/")


def _ids(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("*/*.ipynb")}


def test_source_and_release_hold_the_same_notebooks():
    assert _ids(SOLUTIONS) == _ids(NOTEBOOKS), "run `make release`"
    for nb_id in _ids(SOLUTIONS):
        assert {p.name for p in (SOLUTIONS / nb_id).glob("*.ipynb")} == {f"{nb_id}.ipynb"}


def test_release_is_deterministic_hides_answers_and_keeps_metadata(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    release(FIXTURE_SOURCES, first)
    release(FIXTURE_SOURCES, second)
    assert _files(first) == _files(second) == {"99_fixture/99_fixture.ipynb"}, "contracts.yml must not ship"
    released = first / "99_fixture" / "99_fixture.ipynb"
    assert released.read_bytes() == (second / "99_fixture" / "99_fixture.ipynb").read_bytes()
    assert notebook_problems(released, "release") == []

    source = nbformat.read(FIXTURE / "99_fixture.ipynb", as_version=4)
    out = nbformat.read(released, as_version=4)
    assert [c.id for c in out.cells] == [c.id for c in source.cells]
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "round(converted" not in text
    check = next(c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_check")
    assert check.metadata.nbgrader.points == 2 and check.metadata.editable is False
    assert "parameters" in out.cells[1].metadata.tags


def test_release_removes_stale_notebooks(tmp_path):
    out = tmp_path / "notebooks"
    (out / "42_gone").mkdir(parents=True)
    (out / "42_gone" / "42_gone.ipynb").write_text("{}")
    release(FIXTURE_SOURCES, out)
    assert _files(out) == {"99_fixture/99_fixture.ipynb"}


def test_tidy_cleans_a_notebook_saved_from_lab(tmp_path):
    messy = Path(shutil.copy(FIXTURE / "99_fixture.ipynb", tmp_path))
    nb = nbformat.read(messy, as_version=4)
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    nb.cells[2].execution_count = 3
    nb.cells[2].metadata["scrolled"] = True
    nbformat.write(nb, messy)
    raw = json.loads(messy.read_text())
    del raw["cells"][3]["id"]  # as in a notebook from an older Jupyter
    messy.write_text(json.dumps(raw))
    problems = notebook_problems(messy, "source")
    assert any("metadata" in p for p in problems) and any("outputs" in p for p in problems)

    assert tidy_notebook(messy) is True
    assert notebook_problems(messy, "source") == []
    assert tidy_notebook(messy) is False, "tidying twice changes nothing"
    assert nbformat.read(messy, as_version=4).cells[4].id == nb.cells[4].id, "existing ids are kept"


def test_hygiene_requires_a_parameters_cell(tmp_path):
    path = Path(shutil.copy(FIXTURE / "99_fixture.ipynb", tmp_path))
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].metadata.tags = []
    nbformat.write(nb, path)
    assert notebook_problems(path, "source") == ["the first code cell must be tagged `parameters` and set DATA_DIR"]


def test_hygiene_requires_a_parameters_cell_papermill_can_read(tmp_path):
    path = Path(shutil.copy(FIXTURE / "99_fixture.ipynb", tmp_path))
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "DATA_DIR = None  # None = the default world"
    nbformat.write(nb, path)
    assert notebook_problems(path, "source") == [
        "papermill cannot read DATA_DIR from the parameters cell (one assignment per line, no '=' in comments: "
        "papermill issue #772)"]



def test_release_command_tidies_releases_and_reports_what_tidy_cannot_fix(tmp_path, monkeypatch, capsys):
    from opsbook.cli import main

    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(FIXTURE_SOURCES, solutions)
    source = solutions / "99_fixture" / "99_fixture.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[2].execution_count = 7
    nbformat.write(nb, source)
    monkeypatch.setattr("opsbook.course.cli.SOLUTIONS", solutions)
    monkeypatch.setattr("opsbook.course.cli.NOTEBOOKS", notebooks)
    assert main(["course", "release"]) == 0
    out = capsys.readouterr().out
    assert "tidied" in out and "released" in out and (notebooks / "99_fixture" / "99_fixture.ipynb").is_file()

    nb = nbformat.read(source, as_version=4)
    nb.cells[1].source = "DATA_DIR = None  # a = b"
    nbformat.write(nb, source)
    assert main(["course", "release"]) == 1
    assert "papermill cannot read DATA_DIR" in capsys.readouterr().err
