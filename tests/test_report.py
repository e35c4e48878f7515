"""`opsbook class report`: item statistics of a synthetic class whose composition is known.

36 submissions of 01_metrics are built from each exercise's reference answer and the alternatives and
mistakes declared in solutions/01_metrics/contracts.yml (or its stub, left blank). Every variant is judged
once by the course's grader (the contracts' one-kernel check, on the smallest world the generator accepts);
each submission's executed notebook carries those verdicts and goes into nbgrader's gradebook through the
class grader's own ``record`` (what ``opsbook class grade`` does with a worker's result). One submission is
not a notebook, one tampered with grading and is zeroed. The test derives the expected means, full-mark
shares, corrected item-total correlations and failing messages from the composition alone, with numpy.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest

from opsbook.paths import SOLUTIONS

ASSIGNMENT = "01_metrics"
STUDENTS = 36
INVALID, TAMPERED, FLAGGED = "s34", "s35", "s07"


@pytest.fixture(scope="module")
def smallest_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from opsbook.world.config import ACCEPTED, WorldConfig
    from opsbook.world.generate import generate_world, write_world

    folder = tmp_path_factory.mktemp("world-smallest")
    config = WorldConfig(seed=7, n_users=ACCEPTED["n_users"][0], days=ACCEPTED["days"][0])
    write_world(generate_world(config, progress=False), folder)
    return folder


def _composition(answers: list[str], contracts: dict) -> dict[str, dict[str, tuple[str, int]]]:
    """student -> answer cell -> (kind, number): ability ``s % 9`` exercises right, the rest wrong."""
    plan = {}
    for s in range(STUDENTS):
        ability, row = s % 9, {}
        for e, answer in enumerate(answers):
            contract = contracts[answer]
            if e < ability or (e == 7 and s % 5 == 0):       # a little noise on the last exercise
                n_alt = len(contract.alternatives)
                row[answer] = ("reference", 1) if (s + e) % 3 == 0 or not n_alt else \
                    ("alternative", 1 + (s + e) % n_alt)
            elif s % 4 == 0:
                row[answer] = ("blank", 1)
            else:
                row[answer] = ("mistake", 1 + (s // 9 + e) % len(contract.mistakes))
        plan[f"s{s:02d}"] = row
    return plan


@pytest.fixture(scope="module")
def synthetic_class(grading_cache, smallest_world, tmp_path_factory):
    """The graded course, the composition, the verdict of every variant and the points of every check."""
    from opsbook.classroom.course import ClassCourse, State
    from opsbook.classroom.grade import record
    from opsbook.course.contracts import answer_cells, check_contracts, load_contracts, solution_code, splice
    from opsbook.grading.judge import error_output
    from opsbook.grading.nbcourse import course_config, prepare_course

    course = Path(shutil.copytree(prepare_course(SOLUTIONS / ASSIGNMENT, grading_cache),
                                  tmp_path_factory.mktemp("report") / "course"))
    source = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    contracts = load_contracts(SOLUTIONS / ASSIGNMENT / "contracts.yml")
    checks = answer_cells(source)
    assert all(len(tests) == 1 for tests in checks.values()), "one check cell per exercise: all or nothing"
    answers = list(checks)
    trials = {(t.answer, t.kind, t.number): t for t in check_contracts(
        SOLUTIONS / ASSIGNMENT, release, course_config(course), data_dir=smallest_world).trials}
    for t in trials.values():
        assert t.holds, f"the contract of {t.answer} does not hold: {t}"
    reference = solution_code(source)
    stubs = {c.metadata.nbgrader.grade_id: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    tests = {c.metadata.nbgrader.grade_id: c.source for c in source.cells
             if c.metadata.get("nbgrader", {}).get("grade")}

    def code(answer: str, kind: str, number: int) -> str:
        if kind in ("reference", "blank"):
            return (reference if kind == "reference" else stubs)[answer]
        contract = contracts[answer]
        return contract.alternatives[number - 1] if kind == "alternative" else contract.mistakes[number - 1].code

    plan = _composition(answers, contracts)
    cclass = ClassCourse(course, ASSIGNMENT)
    notebooks = cclass.notebooks()
    for student, row in plan.items():
        submitted = splice(release, {a: code(a, *row[a]) for a in answers})
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        if student == INVALID:
            (folder / f"{ASSIGNMENT}.ipynb").write_text("{not json", encoding="utf-8")
        else:
            nbformat.write(submitted, folder / f"{ASSIGNMENT}.ipynb")
    state = State(cclass.state / "state.jsonl")
    for submission in cclass.submissions():
        student, row = submission.student, plan[submission.student]
        executed = splice(release, {**{a: code(a, *row[a]) for a in answers}, **tests})
        for answer, check in checks.items():
            cell = next(c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == check[0])
            messages = trials[(answer, *row[answer])].messages
            cell.outputs = [error_output(*messages[0].split(": ", 1))] if messages else []
        result = {"status": "graded", "flags": ["code:eq-override"] if student == FLAGGED else [], "notebooks": {
            ASSIGNMENT: {"status": "graded", "flags": [], "executed": nbformat.writes(executed), "integrity": {},
                         "hard": ["code: grader in cell 3 line 1: import opsbook.grading"] if student == TAMPERED
                         else []}}}
        if student == INVALID:
            result = {"status": "graded", "flags": [], "notebooks": {
                ASSIGNMENT: {"status": "invalid", "flags": ["not-json"], "executed": None, "hard": []}}}
        outcome = record(cclass, submission, result, "zero", notebooks)
        state.append({"student": student, "status": str(outcome.status), "score": outcome.score,
                      "max_score": outcome.max_score, "flags": outcome.flags, "sha256": submission.sha256})
    points = {check[0]: float(notebooks[ASSIGNMENT]["master"][check[0]]["points"]) for check in checks.values()}
    return course, plan, trials, checks, points


def _expected(plan, trials, checks, points):
    """Scores (students x exercises) and message counts per exercise, from the composition only."""
    students = sorted(plan)
    scores = np.zeros((len(students), len(checks)))
    messages = [Counter() for _ in checks]
    for i, student in enumerate(students):
        for e, (answer, check) in enumerate(checks.items()):
            kind, number = plan[student][answer]
            right = kind in ("reference", "alternative")
            if right and student not in (INVALID, TAMPERED):
                scores[i, e] = points[check[0]]
            elif student == INVALID:
                messages[e]["not run (invalid)"] += 1
            elif right:
                messages[e]["no points (the cell gave no error)"] += 1
            else:
                messages[e][trials[(answer, kind, number)].messages[0]] += 1
    return students, scores, messages


def test_item_statistics_match_the_known_composition(synthetic_class):
    from opsbook.classroom.report import analyse

    course, plan, trials, checks, points = synthetic_class
    students, scores, messages = _expected(plan, trials, checks, points)
    analysis = analyse(ASSIGNMENT, course)
    assert analysis.students == students and len(students) >= 30
    assert [item.exercise for item in analysis.items] == [check[0] for check in checks.values()]
    totals = scores.sum(axis=1)
    assert analysis.totals == pytest.approx(list(totals))
    for e, item in enumerate(analysis.items):
        column, rest = scores[:, e], totals - scores[:, e]
        assert item.max_points == points[item.exercise]
        assert item.mean == pytest.approx(column.mean())
        assert item.full_share == pytest.approx(np.mean(column == points[item.exercise]))
        if column.std() == 0 or rest.std() == 0:
            assert item.discrimination is None
        else:
            assert item.discrimination == pytest.approx(np.corrcoef(column, rest)[0, 1], abs=1e-9)
        assert item.messages == messages[e], item.exercise
    assert sum(1 for item in analysis.items if item.discrimination is not None) >= 6
    assert analysis.tampering.keys() == {TAMPERED}
    assert analysis.entries[INVALID]["status"] == "invalid"


def test_report_files_and_command(synthetic_class, tmp_path):
    from opsbook.classroom.report import CSV_COLUMNS, analyse, histogram_figure, write_report

    course, plan, trials, checks, points = synthetic_class
    students, scores, messages = _expected(plan, trials, checks, points)
    analysis = analyse(ASSIGNMENT, course)
    page, table = write_report(analysis, tmp_path / "out")

    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(checks)
    for e, row in enumerate(rows):
        assert float(row["mean"]) == pytest.approx(scores[:, e].mean(), abs=1e-4)
        top = [(row[f"message_{i}"], int(row[f"count_{i}"])) for i in (1, 2, 3) if row[f"message_{i}"]]
        assert [c for _, c in top] == sorted(messages[e].values(), reverse=True)[:3]
        assert all(messages[e][m] == c for m, c in top)

    figure = histogram_figure(analysis)
    axes = figure.axes[0]
    assert ASSIGNMENT in axes.get_title() and axes.get_xlabel() and axes.get_ylabel() == "submissions"
    assert sum(p.get_height() for p in axes.patches) == len(students)
    assert (tmp_path / "out" / "totals.png").read_bytes().startswith(b"\x89PNG")

    text = page.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and all(check[0] in text for check in checks.values())
    assert TAMPERED in text and FLAGGED in text and "code:eq-override" in text and "invalid 1" in text

    opsbook = Path(sys.executable).parent / "opsbook"
    run = subprocess.run([str(opsbook), "class", "report", ASSIGNMENT, "--course", str(course)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (course / "class_grading" / ASSIGNMENT / "report.html").is_file()
    assert "ex1_8_decompose_check" in run.stdout and f"{len(students)} submissions" in run.stdout


def test_a_written_answer_is_reported_as_graded_by_hand_not_as_a_failed_test():
    import nbformat

    from opsbook.classroom.report import _first_failure

    cell = nbformat.v4.new_markdown_cell("My review ...")
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "ex10_10_review_text", "points": 4}
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert "graded by hand" in _first_failure(nb, "ex10_10_review_text", "graded")
