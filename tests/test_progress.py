"""``opsbook progress``: exercises attempted, visible checks passed, last grade, revealed answers."""

from __future__ import annotations

import shutil

import nbformat

from opsbook import language
from opsbook.paths import NOTEBOOKS
from opsbook.progress import draw_chart, format_progress, notebook_progress


def test_progress_reads_the_learners_own_file(tmp_path):
    release = NOTEBOOKS / "01_metrics" / "01_metrics.ipynb"
    nb = nbformat.read(release, as_version=4)
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    answers[0].source = "def dau(events):\n    return events.groupby('user_id').size()"
    answers[1].source = "def active_users(events, window):\n    pass"
    checks[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Visible check passed.\n")]
    checks[1].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="no", traceback=[])]
    path = tmp_path / "01_metrics.ipynb"
    nbformat.write(nb, path)
    row = notebook_progress(path, "01_metrics", 150, {"01_metrics": {"score": 2, "max_score": 20}},
                            {"01_metrics": {"1.3": "2026-12-02T10:00:00"}})
    assert (row.exercises, row.attempted, row.passed, row.checks) == (len(answers), 2, 1, len(checks))
    assert row.grade == (2, 20) and row.revealed == 1 and row.started
    missing = notebook_progress(tmp_path / "nope.ipynb", "02_acquisition", 150, {}, {})
    assert not missing.started and missing.exercises == 0
    text = format_progress([row, missing], None)
    assert "01_metrics" in text and "2/20" in text and "not started" in text and "2 h 30 min" in text
    chart = draw_chart([row, missing], tmp_path / "progress.png")
    assert chart.stat().st_size > 5_000


def test_progress_command_prints_every_notebook(tmp_path, capsys, monkeypatch):
    from opsbook.cli import main
    from opsbook.course.manifest import load_manifest

    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    monkeypatch.setattr("opsbook.progress.CHART", tmp_path / "chart.png")
    assert main(["progress", "--notebooks", str(tmp_path / "notebooks"), "--no-chart"]) == 0
    out = capsys.readouterr().out
    assert all(e.id in out for e in load_manifest())
    # the command only reads: nothing was written next to the notebooks
    assert sorted(p.name for p in (tmp_path / "notebooks").rglob("*") if p.is_file()) == sorted(
        p.name for p in NOTEBOOKS.rglob("*") if p.is_file())


def test_progress_in_chinese_reads_the_chinese_notebooks(tmp_path, capsys, monkeypatch):
    from opsbook.cli import main

    chinese = tmp_path / "notebooks" / "zh" / "01_metrics" / "01_metrics.ipynb"
    chinese.parent.mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "01_metrics" / "01_metrics.ipynb", chinese)
    monkeypatch.setattr("opsbook.progress.NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr("opsbook.progress.CHART", tmp_path / "chart.png")
    try:
        assert main(["progress", "--lang", "zh", "--no-chart"]) == 0
    finally:
        language.set("en")
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:2].isdigit()}
    assert "未开始" not in rows["01_metrics"] and "未开始" in rows["02_acquisition"]
    assert "小时" in rows["01_metrics"] or "分钟" in rows["01_metrics"]
