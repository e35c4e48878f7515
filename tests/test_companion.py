"""The self-study companion: definitions in the repo (links resolve), hints on every exercise, reveal,
``%%needs``, the glossary, and the stuck-learner sweep."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from course_cases import COURSE_IDS

from opsbook.companion import answer_code, assigned_names, record_reveal, reveal, revealed
from opsbook.course.contracts import answer_cells, solution_code
from opsbook.paths import DOCS, NOTEBOOKS, README, ROOT, SOLUTIONS

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
HINT = re.compile(r"<details><summary>💡 (Hint|提示) \d", re.IGNORECASE)


def _documents() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md")), *sorted(NOTEBOOKS.rglob("*.ipynb")), ROOT / "datasets" / "README.md",
            ROOT / "autograder" / "README.md", SOLUTIONS / "README.md"]


def _text(path: Path) -> str:
    """The Markdown of a document, without code (examples in code spans and fences are not links)."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


def _anchors(path: Path) -> set[str]:
    text = _text(path)
    found = set(ANCHOR.findall(text))
    for line in text.splitlines():  # code hosts also make an anchor of every heading
        if line.startswith("#"):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def test_every_relative_link_resolves_to_a_file_and_anchor():
    broken = []
    for path in _documents():
        for target in LINK.findall(_text(path)):
            if re.match(r"^[a-z]+:", target) or target.startswith("#") and path.suffix == ".ipynb":
                continue
            file_part, _, anchor = urllib.parse.unquote(target).partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix in (".md", ".ipynb") and anchor not in _anchors(resolved):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no anchor #{anchor})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_no_notebook_names_a_file_learners_do_not_have():
    for path in _documents():
        assert "METRICS.md" not in _text(path), f"{path.relative_to(ROOT)} mentions METRICS.md"


def test_the_link_check_catches_a_broken_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('<a id="dau"></a>\n## Daily users\n')
    assert "dau" in _anchors(page) and "daily-users" in _anchors(page) and "mau" not in _anchors(page)


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_every_exercise_has_progressive_hints_that_never_give_the_answer(nb_id):
    source = nbformat.read(SOLUTIONS / nb_id / f"{nb_id}.ipynb", as_version=4)
    answers = set(answer_cells(source))
    reference = solution_code(source)
    missing, leaking = [], []
    for index, cell in enumerate(source.cells):
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade_id") not in answers:
            continue
        before = source.cells[max(0, index - 3):index]
        hints = [c for c in before if c.cell_type == "markdown" and "hints" in c.metadata.get("tags", [])]
        if not hints or len(HINT.findall(hints[-1].source)) < 2:
            missing.append(grading["grade_id"])
            continue
        lines = {line.strip() for line in reference[grading["grade_id"]].splitlines()
                 if len(line.strip()) >= 16 and not line.strip().startswith(("def ", '"""', "#", "return"))}
        leaking += [f"{grading['grade_id']}: {line}" for line in lines if line in hints[-1].source]
    assert not missing, f"exercises without a hints cell of 2+ hints before the answer cell: {missing}"
    assert not leaking, "hints quote the reference solution:\n" + "\n".join(leaking)


def test_reveal_shows_only_the_answer_and_records_it(tmp_path, capsys, monkeypatch):
    store = tmp_path / "revealed.json"
    monkeypatch.setattr("opsbook.companion.REVEALED", store)
    source = SOLUTIONS / "01_metrics" / "01_metrics.ipynb"
    code = answer_code(source, "1.1")
    assert code and "def dau" in code and "BEGIN SOLUTION" not in code
    reveal("1.1")
    out = capsys.readouterr().out
    assert code in out and "HIDDEN TESTS" not in out and "check." not in out
    monkeypatch.setattr("opsbook.companion.REVEALED", store)
    record_reveal("01_metrics", "1.1", store)
    assert "1.1" in revealed(store)["01_metrics"]


def test_reveal_without_the_source_says_so_in_one_line(tmp_path, capsys):
    reveal("1.1", source=tmp_path / "no-solutions")
    out = capsys.readouterr().out.strip()
    assert "not part of this copy" in out and "\n" not in out
    reveal("one", source=tmp_path)
    assert "by its number" in capsys.readouterr().out


def test_needs_magic_skips_with_one_line_and_owes_the_names(capsys):
    from IPython.testing.globalipapp import get_ipython

    from opsbook.companion import register_magics

    shell = get_ipython()
    register_magics(shell)
    shell.run_cell("def dau(events):\n    raise NotImplementedError()\ndaily = 'stale'")
    shell.run_cell("%%needs 1.1\ndaily = dau(None)\nprint('ran')")
    out = capsys.readouterr().out
    assert "Skipped" in out and "Exercise 1.1" in out and "ran" not in out
    assert "daily" not in shell.user_ns, "a skipped cell leaves no stale value behind"
    shell.run_cell("%%needs 1.1\nshown = daily * 2")
    assert "Skipped" in capsys.readouterr().out, "a cell that uses what a skipped cell made is skipped too"
    result = shell.run_cell("%%needs 1.1\nx = 41\nx + 1")
    assert result.result == 42 and shell.user_ns["x"] == 41
    shell.run_cell("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.close('all')")
    shell.run_cell("%%needs 1.1\nfig, ax = plt.subplots()\nax.plot(daily)")
    assert not shell.user_ns["plt"].get_fignums(), "a skipped chart leaves no empty figure to show"
    shell.run_cell("%%needs 10.8 my_plan\nplan = dict(my_plan)")
    assert "Exercise 10.8" in capsys.readouterr().out, "a value an unfinished exercise did not define yet"
    failed = shell.run_cell("%%needs 1.1\n1 / 0")
    assert isinstance(failed.error_in_exec, ZeroDivisionError), "other errors are the learner's to see"


def test_assigned_names_cover_every_binding():
    import ast

    tree = ast.parse("a = 1\nb, (c, d) = 2, (3, 4)\nfor e in []: pass\nwith open('x') as f: pass\n"
                     "import numpy as np\ndef g(): h = 1\nclass K: pass\ni += 1")
    assert assigned_names(tree) == {"a", "b", "c", "d", "e", "f", "np", "g", "K", "i"}


def test_every_chinese_term_of_the_notebooks_is_in_the_glossary():
    glossary = (DOCS / "glossary.md").read_text(encoding="utf-8")
    terms = set()
    for nb_id in COURSE_IDS:
        nb = nbformat.read(NOTEBOOKS / nb_id / f"{nb_id}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                terms.update(re.findall(r"[（(]([\u4e00-\u9fff]{2,8})[）)]", cell.source))
                terms.update(re.findall(r"\*\*([\u4e00-\u9fff]{2,8})", cell.source))
    missing = sorted(t for t in terms if t not in glossary)
    assert not missing, f"Chinese terms used in the notebooks but not in docs/glossary.md: {missing}"
