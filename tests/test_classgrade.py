"""``opsbook class``: per-student worlds, parallel sandboxed grading judged outside the kernel, flags,
feedback that releases, CSV; and the same trust for ``opsbook grade``.

Fast tests check the pieces (seeds, integrity scan, the submission copy). The slow ones grade real
submissions in bubblewrap sandboxes: the fixture assignment (parallel, resume, submissions untouched),
an interrupted run, the red-team sets of tests/redteam/ (against the fixture and against real course
notebooks), per-student worlds, and self-grading. They need bwrap and root (CI is root; `make test`
installs bubblewrap) and are skipped, with the reason, where the sandbox cannot run.
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from course_cases import FIXTURE

from opsbook.course.contracts import solution_code, splice
from opsbook.grading.nbcourse import prepare_course
from opsbook.grading.sandbox import Limits, SandboxSpec, unavailable_reason
from opsbook.paths import ROOT, SOLUTIONS

sys.path.insert(0, str(ROOT / "tests" / "redteam"))
import build as redteam

WORLDS_FIXTURE = ROOT / "tests" / "fixtures" / "class" / "98_worlds"
REASON = unavailable_reason()
needs_sandbox = pytest.mark.skipif(REASON is not None, reason=f"the bwrap sandbox cannot run here: {REASON}")
FAST = Limits(cell_timeout=5, timeout=90)
COURSE_LIMITS = Limits(cell_timeout=60, timeout=600)


def _course(source: Path, cache: Path, target: Path) -> Path:
    shutil.copytree(prepare_course(source, cache), target)
    return target


def _submit(course: Path, student: str, nb: nbformat.NotebookNode, assignment: str) -> Path:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    return folder


def _hashes(course: Path, folders: tuple[str, ...] = ("submitted",)) -> dict[str, str]:
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest() if not p.is_symlink()
            else "link:" + os.readlink(p) for folder in folders for p in sorted((course / folder).rglob("*"))
            if p.is_file() or p.is_symlink()}


def _sandbox_processes() -> list[str]:
    """Processes still running as a class-grading sandbox user."""
    from opsbook.classroom.grade import UID_BASE

    out = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split() and int(line.split()[0]) >= UID_BASE]


def _has(flags: list[str], wanted: str) -> bool:
    """``wanted`` is among ``flags``, exactly or (ending in ":") as a prefix."""
    return any(f == wanted or (wanted.endswith(":") and f.startswith(wanted)) for f in flags)


def _check_cases(cases: list[dict], outcomes: dict) -> list[str]:
    problems = []
    for case in cases:
        outcome, expect = outcomes[case["id"]], case["expect"]
        score = outcome.max_score if expect["score"] == "full" else expect["score"]
        if outcome.score != score or str(outcome.status) != expect["status"]:
            problems.append(f"{case['id']}: {outcome.status} {outcome.score:g}, expected {expect['status']} {score} "
                            f"({outcome.flags})")
        missing = [f for f in expect["flags"] if not _has(outcome.flags, f)]
        if missing:
            problems.append(f"{case['id']}: flags {outcome.flags} lack {missing}")
        if not expect["flags"] and outcome.flags:
            problems.append(f"{case['id']}: expected no flag at all, got {outcome.flags}")
    return problems


def _feedback_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _leaks(path: Path, secrets: set[str], course: Path) -> list[str]:
    """Hidden-test lines in a feedback page that the student did not type themselves."""
    student, assignment = path.parent.parent.name, path.parent.name
    submitted = course / "submitted" / student / assignment / path.with_suffix(".ipynb").name
    own = submitted.read_text(encoding="utf-8", errors="replace") if submitted.is_file() else ""
    text = _feedback_text(path)
    return [s for s in secrets if s in text and s not in own]


def _hidden_lines(source: Path) -> set[str]:
    """Distinctive lines of a notebook's hidden tests (what feedback must never show)."""
    from opsbook.grading.markers import visible_part

    cells = nbformat.read(source, as_version=4).cells
    shown = "\n".join(visible_part(cell.source) for cell in cells  # what every student sees in the release
                      if not cell.metadata.get("nbgrader", {}).get("solution"))
    lines = set()
    for cell in cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            lines |= {line.strip() for line in cell.source.splitlines()
                      if len(line.strip()) > 24 and line.strip() not in shown and "HIDDEN TESTS" not in line}
    return lines


# ----------------------------------------------------------------------------- fast
def test_student_seed_is_stable_salted_and_documented(tmp_path):
    from opsbook.classroom.worlds import read_students, release_note, student_seed

    assert student_seed("term-1", "amy") == student_seed("term-1", "amy")
    assert len({student_seed("term-1", s) for s in ("amy", "ben", "cara")}) == 3
    assert student_seed("term-1", "amy") != student_seed("term-2", "amy")
    assert student_seed("s", "amy") == int(hashlib.sha256(b"s\namy").hexdigest()[:8], 16)
    plain = tmp_path / "students.txt"
    plain.write_text("# roster\namy\nben\n\n")
    table = tmp_path / "students.csv"
    table.write_text("id,first_name,last_name,email\namy,Amy,Lee,a@x\nben,Ben,Wu,b@x\n")
    assert read_students(plain) == read_students(table) == ["amy", "ben"]
    table.write_text("id\n../etc\n")
    with pytest.raises(ValueError, match="folder names"):
        read_students(table)
    note = release_note({"students": {"amy": {}}, "users": 5000, "days": 182, "seed_rule": "x"})
    assert "OPSBOOK_DATA_DIR" in note and "_instructor" in note


def test_integrity_scan_names_suspicious_code_and_ignores_release_code():
    from opsbook.classroom.integrity import scan_code

    release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import math\nimport numpy as np")])
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import math\nimport numpy as np"),
        nbformat.v4.new_code_cell(
            "import builtins, sys\nbuiltins.abs = lambda x: 0\nsys.modules['math'] = None\n"
            "ip = get_ipython()\nip.events.register('post_run_cell', print)\n"
            "type = lambda x: float\nmath.isclose = lambda *a, **k: True\n"
            "class F(float):\n    def __eq__(self, other):\n        return True\n"
            "open('/etc/passwd').read()\nimport os\nos._exit(0)\n"
            "get_ipython().set_custom_exc((Exception,), None)\n%time x = 1"),
        nbformat.v4.new_code_cell("# the nbgrader gradebook is mentioned in a comment only\nx = 1"),
        nbformat.v4.new_code_cell("import opsbook.kernel.probe"),
        nbformat.v4.new_code_cell("s = pd.Series([1]).rename('x').replace(1, 2)"),
        nbformat.v4.new_code_cell('print("I checked this with the nbgrader gradebook in mind")'),
        nbformat.v4.new_code_cell('import importlib\nj = importlib.import_module("opsbook.grading.judge")'),
    ])
    found = {(f.rule, f.cell) for f in scan_code(nb, {c.source for c in release.cells})}
    rules = {rule for rule, _ in found}
    assert {"builtins", "sys-modules", "kernel-internals", "shadowed-builtin", "monkeypatch", "eq-override",
            "builtin-subclass", "file-access", "process", "traceback-hiding", "grader"} <= rules
    assert not any(cell == 1 for _, cell in found), "cells identical to the release are instructor code"
    assert not any(cell == 3 for _, cell in found), "a comment is not code"
    assert not any(cell == 5 for _, cell in found), "pandas' rename and replace are not file access"
    assert ("grader", 4) in found
    assert not any(cell == 6 for _, cell in found), "a message that names nbgrader is not code aimed at it"
    assert ("grader", 7) in found, "a module path in a string is"


def test_a_submission_copy_leaves_out_everything_that_could_prepare_the_kernel(tmp_path):
    from opsbook.classroom.worker import copy_submission

    source = tmp_path / "submission"
    for name in ("01_metrics.ipynb", "notes.md", "ipykernel_launcher.py", "pandas.py", "x.pth", "matplotlibrc",
                 ".ipython/profile_default/startup/00.py", "sub/helper.py", "data/extra.csv"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("x")
    os.symlink("/etc/passwd", source / "link.txt")
    flags = copy_submission(source, tmp_path / "work")
    copied = sorted(str(p.relative_to(tmp_path / "work")) for p in (tmp_path / "work").rglob("*") if p.is_file())
    assert copied == ["01_metrics.ipynb", "data/extra.csv", "notes.md"]
    assert {"kernel-prep:ipykernel_launcher.py", "kernel-prep:pandas.py", "kernel-prep:x.pth",
            "kernel-prep:matplotlibrc", "kernel-prep:.ipython/", "kernel-prep:sub/helper.py",
            "symlink-skipped:link.txt"} <= set(flags)


def test_every_outcome_has_one_name():
    from opsbook.classroom.status import Status

    assert Status("graded") is Status.GRADED and str(Status.NO_WORLD) == "no-world"
    assert Status.GRADED.final and not Status.ERROR.final
    assert all(s.reason for s in Status if s is not Status.GRADED)


def test_cli_lists_class_commands(capsys):
    from opsbook.cli import main

    with pytest.raises(SystemExit):
        main(["class", "--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("worlds", "grade", "feedback", "export"))


# ----------------------------------------------------------------------------- sandbox
@needs_sandbox
def test_sandbox_hides_the_course_blocks_network_and_sets_limits(tmp_path):
    from opsbook.grading.sandbox import chown_tree

    work = tmp_path / "work"
    spec = SandboxSpec(workdir=work, uid=199_999, limits=Limits(memory_mb=1024, nproc=32))
    chown_tree(work, spec.uid)
    course, tests, package = (str(ROOT / "solutions"), str(ROOT / "tests"), str(ROOT / "opsbook" / "x.py"))
    probe = (
        "import os, resource, socket, json, sys\n"
        f"out = {{'uid': os.getuid(), 'course': os.path.exists({course!r}), 'tests': os.path.exists({tests!r}),\n"
        "       'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],\n"
        "       'as': resource.getrlimit(resource.RLIMIT_AS)[0],\n"
        "       'home': os.environ['HOME'], 'ipython': os.environ['IPYTHONDIR'], 'cwd_on_path': '' in sys.path}\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2); out['net'] = True\n"
        "except OSError:\n    out['net'] = False\n"
        f"for path in ('/etc/x', {package!r}):\n"
        "    try:\n        open(path, 'w').write('x'); out[path] = True\n"
        "    except OSError:\n        out[path] = False\n"
        "open('ok.txt', 'w').write('fine')\nprint(json.dumps(out))\n"
    )
    run = subprocess.run(spec.command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=120,
                         cwd=work)
    assert run.returncode == 0, run.stderr
    import json

    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["uid"] == 199_999 and out["nproc"] == 32 and out["as"] == 1024 ** 3
    assert not out["course"] and not out["tests"], "solutions and tests must not exist inside the sandbox"
    assert not out["net"], "no network in the sandbox"
    assert not out["/etc/x"] and not out[str(ROOT / "opsbook" / "x.py")], "only the working folder is writable"
    assert (work / "ok.txt").read_text() == "fine"
    assert not out["home"].startswith(str(work)) and not out["ipython"].startswith(str(work)), \
        "the kernel's home and IPython folder are not the submission's folder"


# ----------------------------------------------------------------------------- classes
@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_class_grade_in_parallel_resumes_and_never_touches_submissions(grading_cache, tmp_path):
    from nbgrader.api import Gradebook

    from opsbook.classroom.grade import grade_class

    course = _course(FIXTURE, grading_cache, tmp_path / "course")
    release = nbformat.read(course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    solutions = solution_code(nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4))
    wrong = {**solutions, "ex2_answer": "def signups_by_channel(users):\n"
                                        "    return users['channel'].value_counts(normalize=True)"}
    _submit(course, "ada", splice(release, solutions), FIXTURE.name)
    _submit(course, "bo", splice(release, wrong), FIXTURE.name)
    folder = _submit(course, "cy", release, FIXTURE.name)
    (folder / "timestamp.txt").write_text("2030-01-01 00:00:00.000000 UTC")
    before = _hashes(course)

    report = grade_class(FIXTURE.name, course, workers=2, limits=FAST, progress=False)
    scores = {o.student: (str(o.status), o.score, o.max_score) for o in report.outcomes}
    assert scores == {"ada": ("graded", 5, 5), "bo": ("graded", 2, 5), "cy": ("graded", 0, 5)}
    assert _hashes(course) == before, "submissions must never be modified"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert {s.student.id: s.score for s in gb.assignment_submissions(FIXTURE.name)} == {"ada": 5, "bo": 2, "cy": 0}
    for student in ("ada", "bo", "cy"):
        assert (course / "autograded" / student / FIXTURE.name / f"{FIXTURE.name}.ipynb").is_file()
    assert not _sandbox_processes()

    again = grade_class(FIXTURE.name, course, workers=2, limits=FAST, progress=False)
    assert all(o.skipped for o in again.outcomes), "a second run regrades nothing unchanged"
    _submit(course, "bo", splice(release, solutions), FIXTURE.name)
    third = grade_class(FIXTURE.name, course, workers=2, limits=FAST, progress=False)
    assert [o.student for o in third.graded] == ["bo"] and third.graded[0].score == 5


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_an_interrupted_run_resumes_without_regrading(grading_cache, tmp_path):
    from opsbook.classroom.course import State
    from opsbook.classroom.grade import grade_class

    course = _course(FIXTURE, grading_cache, tmp_path / "course")
    release = nbformat.read(course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    solved = splice(release, solution_code(nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4)))
    students = [f"s{i}" for i in range(4)]
    for student in students:
        _submit(course, student, solved, FIXTURE.name)
    state_file = course / "class_grading" / FIXTURE.name / "state.jsonl"
    opsbook = Path(sys.executable).parent / "opsbook"
    run = subprocess.Popen([str(opsbook), "class", "grade", FIXTURE.name, "--course", str(course), "--workers", "1",
                            "--cell-timeout", "5", "--no-progress"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (state_file.is_file() and state_file.read_text().strip()):
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # the hardest interruption: no clean-up code runs
    run.wait()
    first = State(state_file).entries
    assert 1 <= len(first) < len(students), "the run was stopped part-way"
    time.sleep(1)
    assert not _sandbox_processes(), "killing the grader kills its sandboxes"

    report = grade_class(FIXTURE.name, course, workers=2, limits=FAST, progress=False)
    assert {o.student for o in report.outcomes if o.skipped} == set(first)
    assert {o.student for o in report.graded} == set(students) - set(first)
    assert all(o.score == 5 for o in report.outcomes)


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_redteam_fixture_none_inflates_none_stops_the_run_nothing_lost(grading_cache, tmp_path):
    from nbgrader.api import Gradebook

    from opsbook.classroom.export import CSV_COLUMNS, export_csv
    from opsbook.classroom.feedback import class_feedback
    from opsbook.classroom.grade import grade_class

    course = _course(redteam.SOURCE, grading_cache, tmp_path / "course")
    cases = redteam.load_cases()
    assert len(cases) >= 30
    honest = {"id": "honest", "code": {"ex1_answer": "SOLUTION", "ex2_answer": "SOLUTION"},
              "expect": {"score": 5, "status": "graded", "flags": []}}
    redteam.build_all(course, [*cases, honest])
    gradebook = course / "gradebook.db"
    before = _hashes(course, ("submitted", "source", "release"))

    report = grade_class(redteam.ASSIGNMENT, course, workers=2, limits=FAST, progress=False)
    got = {o.student: o for o in report.outcomes}
    assert set(got) == {c["id"] for c in cases} | {"honest"}, "every submission is recorded"
    problems = _check_cases([*cases, honest], got)
    assert not problems, "\n".join(problems)
    assert _hashes(course, ("submitted", "source", "release")) == before, "no submission or course file was modified"
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        stored = {s.student.id: s.score for s in gb.assignment_submissions(redteam.ASSIGNMENT)}
    assert stored == {o.student: o.score for o in report.outcomes}, "the gradebook holds exactly the results"
    assert not _sandbox_processes(), "no process of a sandbox outlives the run"
    assert "probe_attack" in (course / "class_grading" / redteam.ASSIGNMENT / "integrity.md").read_text()

    run = class_feedback(redteam.ASSIGNMENT, course)
    assert len(run.written) == len(cases) + 1 and not run.failed
    secrets = _hidden_lines(redteam.SOURCE / f"{redteam.ASSIGNMENT}.ipynb")
    assert any("REDTEAM-HIDDEN-MARKER" in s for s in secrets)
    for path in run.written:
        assert not _leaks(path, secrets, course), f"{path} shows a hidden test"

    rows = list(csv.DictReader(export_csv(redteam.ASSIGNMENT, course).open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 2 * (len(cases) + 1)
    probe = [r for r in rows if r["student"] == "probe_attack"]
    assert {r["exercise"] for r in probe} == {"ex1_check", "ex2_check"}
    assert all(float(r["points"]) == 0 and "tamper:zeroed" in r["flags"] for r in probe)


def _grade_course_cases(assignment: str, grading_cache: Path, tmp_path: Path, world: Path) -> tuple[Path, dict, list]:
    from opsbook.classroom.grade import grade_class

    course = _course(SOLUTIONS / assignment, grading_cache, tmp_path / "course")
    cases = [c for c in redteam.load_cases(redteam.COURSE_CASES) if c["assignment"] == assignment]
    redteam.build_all(course, cases, assignment)
    worlds = tmp_path / "worlds"
    worlds.mkdir()
    for case in cases:
        (worlds / case["id"]).symlink_to(world)
    report = grade_class(assignment, course, workers=2, worlds=worlds, limits=COURSE_LIMITS, progress=False)
    return course, {o.student: o for o in report.outcomes}, cases


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
@pytest.mark.parametrize("assignment", ["01_metrics", "03_retention"])
def test_redteam_on_course_notebooks_scores_no_more_than_the_blank(assignment, grading_cache, tmp_path, small_world):
    """Forged replies, a rewritten kernel, a hijacked launcher, startup files, frame oracles, shared state and
    exfiltration: each scores what its honest part earns (the blank's 0 otherwise), with the flag that names
    it; the honest and blank submissions raise no flag, and the class's feedback releases without a hidden test."""
    from opsbook.classroom.feedback import class_feedback

    course, got, cases = _grade_course_cases(assignment, grading_cache, tmp_path, small_world)
    problems = _check_cases(cases, got)
    assert not problems, "\n".join(problems)
    run = class_feedback(assignment, course)
    assert not run.failed and len(run.written) == len(cases)
    secrets = _hidden_lines(SOLUTIONS / assignment / f"{assignment}.ipynb")
    assert secrets, "the notebook has hidden tests to protect"
    for path in run.written:
        assert not _leaks(path, secrets, course), f"{path} shows a hidden test"
    assert not _sandbox_processes()


@pytest.mark.parametrize(("option", "value", "says"), [("--users", "500", "5,000 to 100,000"),
                                                      ("--days", "400", "175 to 366"), ("--users", "many", "many")])
def test_class_worlds_refuses_worlds_the_course_does_not_support(tmp_path, capsys, option, value, says):
    from opsbook.cli import main

    roster = tmp_path / "students.csv"
    roster.write_text("id\namy\n")
    with pytest.raises(SystemExit) as stop:
        main(["class", "worlds", "--students", str(roster), "--out", str(tmp_path / "w"), option, value])
    assert stop.value.code == 2 and says in capsys.readouterr().err and not (tmp_path / "w").exists()


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_each_student_is_graded_on_their_own_world(grading_cache, tmp_path):
    from opsbook.classroom.grade import grade_class
    from opsbook.classroom.worlds import make_worlds
    from opsbook.data import load_world

    worlds = tmp_path / "worlds"
    manifest = make_worlds(["amy", "ben", "cara", "dan"], worlds, users=500, salt="test-term", progress=False)
    assert set(manifest["students"]) == {"amy", "ben", "cara", "dan"} and manifest["days"] == 182
    assert (worlds / "_instructor" / "amy.answer_key.json").is_file() and not list((worlds / "amy").glob("*key*"))
    assert make_worlds(["amy"], worlds, users=500, salt="test-term", progress=False)["students"]["amy"] == \
        manifest["students"]["amy"], "same salt, same world"

    def answers(student: str) -> dict[str, str]:
        users = load_world(worlds / student, tables=["users"])["users"]
        n = int((users["platform"] == "android").sum())
        share = round(float(users["channel"].value_counts(normalize=True).iloc[0]), 4)
        return {"ex1_answer": f"n_android = {n}", "ex2_answer": f"top_share = {share}"}

    amy, ben = answers("amy"), answers("ben")
    assert amy != ben, "two students' worlds give different answers"
    course = _course(WORLDS_FIXTURE, grading_cache, tmp_path / "course")
    release = nbformat.read(course / "release" / "98_worlds" / "98_worlds.ipynb", as_version=4)
    _submit(course, "amy", splice(release, amy), "98_worlds")
    _submit(course, "ben", splice(release, amy), "98_worlds")        # copied from amy
    _submit(course, "cara", splice(release, answers("cara")), "98_worlds")
    _submit(course, "dan", splice(release, solution_code(nbformat.read(WORLDS_FIXTURE / "98_worlds.ipynb",
                                                                       as_version=4))), "98_worlds")
    _submit(course, "eve", splice(release, amy), "98_worlds")        # no world generated for eve

    report = grade_class("98_worlds", course, workers=2, worlds=worlds, limits=FAST, progress=False)
    scores = {o.student: (str(o.status), o.score) for o in report.outcomes}
    assert scores["amy"] == scores["cara"] == scores["dan"] == ("graded", 3)
    expected_ben = (amy["ex1_answer"] == ben["ex1_answer"]) * 1 + (amy["ex2_answer"] == ben["ex2_answer"]) * 2
    assert scores["ben"] == ("graded", expected_ben) and expected_ben < 3, "a copy fails where the worlds differ"
    assert scores["eve"][0] == "no-world"


# ----------------------------------------------------------------------------- self-grading
SELF_GRADE_ATTACKS = ["truncate_world", "loader_elsewhere", "swap_check_module", "forged_reply", "frame_oracle"]


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
@pytest.mark.parametrize("case_id", SELF_GRADE_ATTACKS)
def test_self_grading_judges_the_same_way(case_id, grading_cache, tmp_path, monkeypatch, small_world):
    """`opsbook grade` judges outside the kernel too: the attacks that fooled in-kernel self-grading earn nothing."""
    from opsbook.grading.selfgrade import grade_notebook

    case = next(c for c in redteam.load_cases(redteam.COURSE_CASES) if c["id"] == case_id)
    assignment = case["assignment"]
    course = _course(SOLUTIONS / assignment, grading_cache, tmp_path / "course")
    folder = redteam.build_case(case, nbformat.read(course / "release" / assignment / f"{assignment}.ipynb",
                                                    as_version=4),
                                solution_code(nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb",
                                                            as_version=4)), course)
    monkeypatch.setenv("OPSBOOK_DATA_DIR", str(small_world))
    report = grade_notebook(folder / f"{assignment}.ipynb", SOLUTIONS, tmp_path / "work", timeout=60)
    assert report.graded.score == 0, {c.grade_id: c.message for c in report.graded.cells.values() if c.score}


@needs_sandbox
@pytest.mark.slow
def test_self_grading_never_lets_a_notebook_write_into_the_repository(tmp_path):
    from opsbook.grading.selfgrade import grade_notebook

    target = ROOT / "opsbook" / "written_by_a_notebook.py"
    data = ROOT / "datasets" / "written_by_a_notebook.txt"
    release = nbformat.read(ROOT / "notebooks" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4) \
        if (ROOT / "notebooks" / FIXTURE.name).exists() else None
    course = prepare_course(FIXTURE, tmp_path / "cache")
    release = release or nbformat.read(course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    release.cells.append(nbformat.v4.new_code_cell(
        f"for path in [{str(target)!r}, {str(data)!r}]:\n"
        "    try:\n        open(path, 'w').write('x')\n    except OSError as exc:\n        print('blocked', exc)"))
    notebook = tmp_path / f"{FIXTURE.name}.ipynb"
    nbformat.write(release, notebook)
    grade_notebook(notebook, FIXTURE.parent, tmp_path / "work")
    assert not target.exists() and not data.exists(), "a self-graded notebook wrote into the repository"


def test_a_learners_own_sandbox_does_not_count_their_desktops_processes(tmp_path, monkeypatch):
    """Self-grading keeps the learner's user, whose browser and desktop RLIMIT_NPROC would count too."""
    from opsbook.grading.sandbox import SandboxSpec

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert not any(a.startswith("--nproc") for a in SandboxSpec(workdir=tmp_path, uid=None).command(["true"]))
    assert any(a.startswith("--nproc") for a in SandboxSpec(workdir=tmp_path, uid=199_999).command(["true"]))
