"""One course, two languages: the Chinese edition is built from the English source and cannot drift.

The fixture assignment carries a small hand-made translation (tests/fixtures/translations/zh); the course's
own translations live in translations/zh/ and are checked notebook by notebook.
"""

from __future__ import annotations

import copy

import nbformat
import pytest
from course_cases import COURSE_IDS, FIXTURE

from opsbook.course.translate import (
    CellText,
    build_zh,
    code_shape,
    load_translation,
    problems,
    prose_tokens,
    translation_path,
    write_skeleton,
)
from opsbook.paths import ROOT, SOLUTIONS

FIXTURE_TRANSLATIONS = ROOT / "tests" / "fixtures" / "translations"


def _fixture() -> tuple[nbformat.NotebookNode, dict[str, CellText]]:
    source = nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4)
    return source, load_translation(FIXTURE.name, root=FIXTURE_TRANSLATIONS)


def test_the_chinese_notebook_has_the_english_code_and_chinese_prose():
    source, translation = _fixture()
    zh = build_zh(source, translation)
    assert zh.metadata["opsbook"]["language"] == "zh"
    assert len(zh.cells) == len(source.cells)
    for en_cell, zh_cell in zip(source.cells, zh.cells):
        assert en_cell.metadata == zh_cell.metadata, "grade ids, points and tags are the English ones"
        if en_cell.cell_type == "code":
            assert code_shape(en_cell.source) == code_shape(zh_cell.source)
    assert "练习 1.1" in zh.cells[3].source and "应为 0.25" in zh.cells[5].source
    assert "BEGIN HIDDEN TESTS" in zh.cells[5].source, "the hidden tests are the English ones"


def test_a_changed_english_text_is_caught():
    source, translation = _fixture()
    changed = copy.deepcopy(source)
    changed.cells[3].source += "\nA new sentence."
    changed.cells[5].source = changed.cells[5].source.replace("expected 0.25", "expected a quarter")
    found = problems(changed, translation)
    assert any("cell 4" in p and "English changed" in p for p in found)
    assert any("cell 6" in p and "not translated" in p for p in found)
    assert any("cell 6" in p and "no longer in the code" in p for p in found)
    with pytest.raises(ValueError, match="problem"):
        build_zh(changed, translation)


def test_rewriting_after_a_change_keeps_the_old_translation_for_the_translator(tmp_path):
    source, _ = _fixture()
    root = tmp_path / "translations"
    translation_path(FIXTURE.name, root=root).parent.mkdir(parents=True)
    translation_path(FIXTURE.name, root=root).write_text(
        translation_path(FIXTURE.name, root=FIXTURE_TRANSLATIONS).read_text(encoding="utf-8"), encoding="utf-8")
    changed = copy.deepcopy(source)
    old_en = source.cells[3].source
    changed.cells[3].source += "\nA new sentence."
    write_skeleton(FIXTURE.name, changed, root=root)
    rewritten = load_translation(FIXTURE.name, root=root)
    cell = next(text for text in rewritten.values() if text.previous)
    assert cell.zh is None and cell.previous["en"] == old_en and "练习 1.1" in cell.previous["zh"]
    assert any("cell 4" in p and "`previous`" in p for p in problems(changed, rewritten))
    write_skeleton(FIXTURE.name, changed, root=root)  # again: the old translation is still there
    assert any(text.previous for text in load_translation(FIXTURE.name, root=root).values())


def test_the_code_comparison_catches_a_changed_line_of_code():
    assert code_shape('x = f("a b")  # one') == code_shape('x = f("甲 乙")  # 一')
    assert code_shape('x = f("a b")') != code_shape('x = g("a b")')
    assert code_shape("x = 1") != code_shape("x = 2")


def test_only_prose_travels_and_nbgraders_markers_stay():
    strings, comments = prose_tokens('a = df["user_id"]  # pick users\nb = "two words"\n### BEGIN HIDDEN TESTS\n')
    assert strings == ['"two words"'] and comments == ["# pick users"]


def test_a_label_named_like_a_column_changes_only_where_the_chart_shows_it():
    from opsbook.course.translate import CellText, _translate_code

    code = 'ax.barh(y, money["budget"], label="budget")\nmoney["budget"].sum()\n'
    assert _translate_code(code, CellText(strings={'"budget"': '"预算"'})) == (
        'ax.barh(y, money["budget"], label="预算")\nmoney["budget"].sum()\n')


@pytest.mark.parametrize(("code", "travels"), [
    ('label = "stayed\\n(retention)"', True),   # a two-line chart label is prose
    ('sep = "\\n".join(lines)', False),         # a bare line break is not
    ('t = f"{what}\\n{day:%Y-%m-%d}"', False),  # nor names in an f-string's braces
    ('col = "rows"', False), ('title = "留存"', True),
    ('ax.plot(x, label="adopters")', True),       # a one-word label a chart shows
    ('ax.set_ylabel("group")', True),
    ('ax.legend(title="platform")', True),
    ('ax.annotate(f"{y:,}", (1, 2))', False),     # a number, no words
    ('df["group"].plot(label=None)', False),      # a column name is data
])
def test_which_literals_are_prose(code, travels):
    assert bool(prose_tokens(code)[0]) is travels


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_every_notebook_has_a_complete_current_translation(nb_id):
    source = nbformat.read(SOLUTIONS / nb_id / f"{nb_id}.ipynb", as_version=4)
    assert translation_path(nb_id).is_file(), f"no Chinese edition of {nb_id}: run `opsbook course translate {nb_id}`"
    found = problems(source, load_translation(nb_id))
    assert not found, f"{len(found)} problem(s) in translations/zh/{nb_id}.yml:\n" + "\n".join(found[:20])
    zh = build_zh(source, load_translation(nb_id))
    for index, (en_cell, zh_cell) in enumerate(zip(source.cells, zh.cells), start=1):
        if en_cell.cell_type == "code":
            assert code_shape(en_cell.source) == code_shape(zh_cell.source), f"cell {index}: the code differs"


def test_the_released_chinese_notebooks_are_current(tmp_path):
    from opsbook.course.release import release, translated_sources
    from opsbook.paths import NOTEBOOKS

    translated = translated_sources(SOLUTIONS, tmp_path / "source", COURSE_IDS)
    assert translated, "no Chinese edition yet"
    release(tmp_path / "source", tmp_path / "release", keep=())
    for path in translated:
        nb_id = path.parent.name
        fresh = (tmp_path / "release" / nb_id / f"{nb_id}.ipynb").read_bytes()
        committed = NOTEBOOKS / "zh" / nb_id / f"{nb_id}.ipynb"
        assert committed.is_file() and committed.read_bytes() == fresh, \
            f"notebooks/zh/{nb_id} is not the release of its translation: run `make release`"


@pytest.mark.slow
def test_a_chinese_submission_is_graded_like_an_english_one_with_chinese_messages(tmp_path):
    from opsbook.course.contracts import solution_code, splice
    from opsbook.course.release import translated_sources
    from opsbook.grading.nbcourse import prepare_course
    from opsbook.grading.selfgrade import format_report, grade_notebook

    zh_sources = tmp_path / "zh"
    translated_sources(FIXTURE.parent, zh_sources, [FIXTURE.name], translations=FIXTURE_TRANSLATIONS)
    scores = {}
    for lang, root in (("en", FIXTURE.parent), ("zh", zh_sources)):
        template = prepare_course(root / FIXTURE.name, tmp_path / "cache")
        release = nbformat.read(template / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
        wrong = {"ex1_answer": "def conversion_rate(converted, visitors):\n    return 0.5"}
        answers = {**solution_code(nbformat.read(root / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)),
                   **wrong}
        path = tmp_path / "submitted" / lang / f"{FIXTURE.name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(splice(release, answers), path)
        report = grade_notebook(path, root, tmp_path / "work", sandboxed=False)
        scores[lang] = {c.grade_id: c.score for c in report.graded.cells.values()}
        message = report.graded.cells["ex1_check"].message
        if lang == "zh":
            assert "应为 0.25" in message, message
            from opsbook import language

            language.set("zh")
            try:
                assert "合计" in format_report(report)
            finally:
                language.set("en")
    assert scores["en"] == scores["zh"] == {"ex1_check": 0.0, "ex2_check": 3.0}


@pytest.mark.slow
def test_the_chinese_world_is_the_default_simulation_with_chinese_text(tmp_path):
    """`make data` records the Chinese world's checksums; a fresh generation gives the same bytes, and
    its numbers are the default world's (only names, titles, comments and campaign text change)."""
    import json

    import pandas as pd

    from opsbook.data import DEFAULT_DATA_DIR, EDITION_LOCALES
    from opsbook.world.generate import config_from_meta, generate_world, write_world

    meta = json.loads((DEFAULT_DATA_DIR / "world.json").read_text(encoding="utf-8"))
    config = config_from_meta(meta)
    write_world(generate_world(config.__class__(**{**config.__dict__, "locale": EDITION_LOCALES["zh"]}),
                               progress=False), tmp_path / "zh")
    fresh = (tmp_path / "zh" / "MANIFEST.sha256").read_bytes()
    assert fresh == (DEFAULT_DATA_DIR / "zh.MANIFEST.sha256").read_bytes()
    for table in ("orders", "events"):
        en = pd.read_csv(DEFAULT_DATA_DIR / f"{table}.csv.gz")
        zh = pd.read_csv(tmp_path / "zh" / f"{table}.csv.gz")
        assert en.select_dtypes("number").equals(zh.select_dtypes("number")), f"{table}: the numbers differ"
    users = pd.read_csv(tmp_path / "zh" / "users.csv.gz")
    assert users["name"].str.contains(r"[\u4e00-\u9fff]").mean() > 0.99, "Chinese names in the Chinese world"


def test_the_chinese_notebooks_use_the_glossarys_chinese_terms():
    """Each glossary term's Chinese form appears in the Chinese edition of the notebook that introduces it."""
    import re

    from opsbook.paths import DOCS, NOTEBOOKS

    texts = {}
    for path in sorted((NOTEBOOKS / "zh").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts[path.stem[:2]] = "\n".join(c.source for c in nb.cells)
    assert len(texts) == len(COURSE_IDS), "every notebook has its Chinese edition in notebooks/zh/"
    wrong = []
    for line in (DOCS / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"\d\d", cells[3]) or cells[3] not in texts:
            continue
        forms = [f.strip() for f in re.split(r"\s*/\s*", re.sub(r"[（(][^）)]*[）)]", "", cells[1])) if f.strip()]
        chinese = [f for f in forms if re.search(r"[\u4e00-\u9fff]", f)]
        if chinese and not any(f in texts[cells[3]] for f in chinese):
            wrong.append(f"{cells[0]} ({' / '.join(chinese)}) is not in notebooks/zh/{cells[3]}_*")
    assert not wrong, f"{len(wrong)} term(s):\n" + "\n".join(wrong[:40])
