"""The course manifest, the README course map, and the repository as an nbgrader course."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_cases import FIXTURE, FIXTURE_SOURCES

from opsbook.cli import main
from opsbook.course.manifest import (
    MAP_END,
    MAP_START,
    Entry,
    duration,
    load_manifest,
    render_course_map,
    updated_readme,
)
from opsbook.course.release import release
from opsbook.paths import NOTEBOOKS, README, ROOT, SOLUTIONS


def test_manifest_lists_exactly_the_notebooks_of_solutions_and_notebooks():
    ids = [e.id for e in load_manifest()]
    assert set(ids) == {p.parent.name for p in SOLUTIONS.glob("*/*.ipynb")}, "course.yml vs solutions/"
    assert set(ids) == {p.parent.name for p in NOTEBOOKS.glob("*/*.ipynb")}, "course.yml vs notebooks/"


def test_readme_course_map_is_current():
    text = README.read_text(encoding="utf-8")
    assert updated_readme(text, load_manifest()) == text, "README course map is stale: run `opsbook course readme`"


def test_course_map_links_every_notebook_in_order():
    entries = [Entry("00_welcome", "Welcome", ("users",), "Tour.", 45, ("analysis", "planning")),
               Entry("01_metrics", "Metrics", (), "DAU.", 120, ())]
    rendered = render_course_map(entries)
    assert rendered.startswith(MAP_START) and rendered.endswith(MAP_END)
    assert rendered.index("[Welcome](notebooks/00_welcome/00_welcome.ipynb)") < rendered.index("[Metrics](")
    assert "| `users` |" in rendered and "| — |" in rendered
    assert "| analysis; planning | 45 min |" in rendered and "| 2 h 00 min |" in rendered
    assert "About 2 h 45 min in all" in rendered


@pytest.mark.parametrize(("minutes", "en", "zh"), [(45, "45 min", "45 分钟"), (60, "1 h 00 min", "1 小时"),
                                                    (90, "1 h 30 min", "1 小时 30 分钟")])
def test_durations_read_naturally_in_both_languages(minutes, en, zh):
    assert (duration(minutes), duration(minutes, "zh")) == (en, zh)


@pytest.mark.parametrize(("entry", "error"), [
    ("{id: 1_metrics, title: t, minutes: 60, topics: [], tables: [], summary: s}", "NN_snake_case"),
    ("{id: 01_metrics, title: t, minutes: 60, topics: [], tables: [sales], summary: s}", "unknown tables"),
    ("{id: 01_metrics, title: t, minutes: 5, topics: [], tables: [], summary: s}", "minutes must be"),
    ("{id: 01_metrics, title: t, tables: []}", "exactly the keys"),
])
def test_manifest_rejects_bad_entries(tmp_path, entry, error):
    path = tmp_path / "course.yml"
    path.write_text(f"notebooks:\n  - {entry}\n")
    with pytest.raises(ValueError, match=error):
        load_manifest(path)


def test_manifest_requires_course_order(tmp_path):
    path = tmp_path / "course.yml"
    entry = "{{id: {}, title: t, minutes: 30, topics: [], tables: [], summary: s}}"
    path.write_text("notebooks:\n" + "".join(f"  - {entry.format(i)}\n" for i in ("01_b", "00_a")))
    with pytest.raises(ValueError, match="in order"):
        load_manifest(path)


def test_readme_check_command_fails_on_a_stale_map(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n{MAP_START}\nSTALE-MAP-LINE\n{MAP_END}\n")
    monkeypatch.setattr("opsbook.course.cli.README", stale)
    assert main(["course", "readme", "--check"]) == 1
    assert main(["course", "readme"]) == 0
    assert main(["course", "readme", "--check"]) == 0
    assert "STALE-MAP-LINE" not in stale.read_text() and stale.read_text().startswith("# x\n")


def test_nbgrader_cli_from_the_root_uses_the_course_config(tmp_path):
    """`nbgrader generate_assignment` run in a copy of the repo writes to notebooks/, like `make release`."""
    course = tmp_path / "repo"
    shutil.copytree(ROOT / "autograder", course / "autograder", ignore=shutil.ignore_patterns("*.json", "*.md"))
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(FIXTURE, course / "solutions" / FIXTURE.name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", FIXTURE.name, "--force"],
                   cwd=course, env=env, check=True, capture_output=True)
    release(FIXTURE_SOURCES, tmp_path / "expected")
    name = f"{FIXTURE.name}/{FIXTURE.name}.ipynb"
    assert (course / "notebooks" / name).read_bytes() == (tmp_path / "expected" / name).read_bytes()
    assert not (course / "notebooks" / FIXTURE.name / "contracts.yml").exists()
    assert (course / "gradebook.db").is_file()
