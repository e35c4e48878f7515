"""``opsbook class``: per-student worlds, parallel sandboxed grading, anti-cheat, feedback without leaks, CSV.

Fast tests check the pieces (seeds, integrity scan, signed guard reports,
redaction). The slow ones grade real submissions in bubblewrap sandboxes: the
fixture assignment (parallel, resume, submissions untouched), an interrupted
run, the red-team set of tests/redteam/, per-student worlds, and one course
notebook. They need bwrap and root (CI is root; `make test` installs
bubblewrap) and are skipped, with the reason, where the sandbox cannot run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from course_cases import FIXTURE, grading_cache  # noqa: F401 - grading_cache is a fixture

from opsbook.paths import ROOT, SOLUTIONS
from opsbook.course.contracts import solution_code, splice
from opsbook.grading.nbcourse import prepare_course
from opsbook.classroom.sandbox import Limits, SandboxSpec, unavailable_reason

sys.path.insert(0, str(ROOT / "tests" / "redteam"))
import build as redteam  # noqa: E402

WORLDS_FIXTURE = ROOT / "tests" / "fixtures" / "class" / "98_worlds"
REASON = unavailable_reason()
needs_sandbox = pytest.mark.skipif(REASON is not None, reason=f"the bwrap sandbox cannot run here: {REASON}")
FAST = Limits(cell_timeout=5, timeout=90)


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
    note = release_note({"students": {"amy": {}}, "users": 5000, "seed_rule": "x"})
    assert "OPSBOOK_DATA_DIR" in note and "_instructor" in note


def test_guard_reports_are_signed_for_one_nonce():
    import hashlib as h
    import hmac

    from opsbook.kernel.guard import verify

    body = json.dumps({"phase": "pre", "nonce": "n1", "hard": [], "soft": [], "shadowed": []}, sort_keys=True)
    good = json.dumps({"body": body, "mac": hmac.new(b"k", body.encode(), h.sha256).hexdigest()})
    assert verify(good, b"k", "n1")["hard"] == []
    assert verify(good, b"other key", "n1") is None, "a report signed with another key is a forgery"
    assert verify(good, b"k", "n2") is None, "a replayed report (old nonce) is a forgery"
    assert verify("{}", b"k", "n1") is None and verify("not json", b"k", "n1") is None


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
        nbformat.v4.new_code_cell("import opsbook.kernel.guard"),
    ])
    found = {(f.rule, f.cell) for f in scan_code(nb, {c.source for c in release.cells})}
    rules = {rule for rule, _ in found}
    assert {"builtins", "sys-modules", "kernel-internals", "shadowed-builtin", "monkeypatch", "eq-override",
            "builtin-subclass", "file-access", "process", "traceback-hiding", "grader"} <= rules
    assert not any(cell == 1 for _, cell in found), "cells identical to the release are instructor code"
    assert not any(cell == 3 for _, cell in found), "a comment is not code"
    assert ("grader", 4) in found


def test_redaction_removes_quoted_hidden_lines():
    from opsbook.classroom.export import REDACTED, _redact, split_lines

    source = ("assert f(1) == 2, 'visible'\n### BEGIN HIDDEN TESTS\nfor case in secret_cases():\n"
              "    assert f(case) == expected(case)\nx = 1\n### END HIDDEN TESTS")
    hidden, visible = split_lines(source)
    secrets = hidden - visible
    assert secrets == {"for case in secret_cases():", "assert f(case) == expected(case)"}
    text, changed = _redact("In[3]: for case in secret_cases():\nfine\n", secrets)
    assert changed and text == f"{REDACTED}\nfine\n"


def test_cli_lists_class_commands(capsys):
    from opsbook.cli import main

    with pytest.raises(SystemExit):
        main(["class", "--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("worlds", "grade", "feedback", "export"))


# ----------------------------------------------------------------------------- sandbox
@needs_sandbox
def test_sandbox_hides_the_course_blocks_network_and_sets_limits(tmp_path):
    from opsbook.classroom.sandbox import chown_tree

    work = tmp_path / "work"
    spec = SandboxSpec(workdir=work, uid=199_999, limits=Limits(memory_mb=1024, nproc=32))
    chown_tree(work, spec.uid)
    probe = (
        "import os, resource, socket, json\n"
        "out = {'uid': os.getuid(), 'course': os.path.exists(%r), 'tests': os.path.exists(%r),\n"
        "       'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0], 'as': resource.getrlimit(resource.RLIMIT_AS)[0]}\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2); out['net'] = True\n"
        "except OSError:\n    out['net'] = False\n"
        "for path in ('/etc/x', %r):\n"
        "    try:\n        open(path, 'w').write('x'); out[path] = True\n"
        "    except OSError:\n        out[path] = False\n"
        "open('ok.txt', 'w').write('fine')\nprint(json.dumps(out))\n"
    ) % (str(ROOT / "solutions"), str(ROOT / "tests"), str(ROOT / "opsbook" / "x.py"))
    run = subprocess.run(spec.command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=120,
                         cwd=work)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["uid"] == 199_999 and out["nproc"] == 32 and out["as"] == 1024 ** 3
    assert not out["course"] and not out["tests"], "solutions and tests must not exist inside the sandbox"
    assert not out["net"], "no network in the sandbox"
    assert not out["/etc/x"] and not out[str(ROOT / "opsbook" / "x.py")], "only the working folder is writable"
    assert (work / "ok.txt").read_text() == "fine"


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_class_grade_in_parallel_resumes_and_never_touches_submissions(grading_cache, tmp_path):
    from nbgrader.api import Gradebook

    from opsbook.classroom.grade import grade_class

    course = _course(FIXTURE, grading_cache, tmp_path / "course")
    release = nbformat.read(course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    solutions = solution_code(nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4))
    wrong = {**solutions, "ex2_answer": "def signups_by_channel(users):\n    return users['channel'].value_counts(normalize=True)"}
    _submit(course, "ada", splice(release, solutions), FIXTURE.name)
    _submit(course, "bo", splice(release, wrong), FIXTURE.name)
    folder = _submit(course, "cy", release, FIXTURE.name)
    (folder / "timestamp.txt").write_text("2030-01-01 00:00:00.000000 UTC")
    before = _hashes(course)

    report = grade_class(FIXTURE.name, course, workers=2, limits=FAST, progress=False)
    scores = {o.student: (o.status, o.score, o.max_score) for o in report.outcomes}
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
    from opsbook.classroom.grade import State, grade_class

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
def test_redteam_none_inflates_none_stops_the_run_nothing_lost(grading_cache, tmp_path):
    from nbgrader.api import Gradebook

    from opsbook.classroom.grade import grade_class
    from opsbook.classroom.export import CSV_COLUMNS, class_feedback, export_csv

    course = _course(redteam.SOURCE, grading_cache, tmp_path / "course")
    cases = redteam.load_cases()
    assert len(cases) >= 15
    redteam.build_all(course, cases)
    honest = redteam.build_case({"id": "honest", "code": {"ex1_answer": "SOLUTION", "ex2_answer": "SOLUTION"}},
                                nbformat.read(course / "release" / redteam.ASSIGNMENT / f"{redteam.ASSIGNMENT}.ipynb",
                                              as_version=4),
                                solution_code(nbformat.read(redteam.SOURCE / f"{redteam.ASSIGNMENT}.ipynb",
                                                            as_version=4)), course)
    assert honest.is_dir()
    gradebook = course / "gradebook.db"
    before = _hashes(course, ("submitted", "source", "release"))

    report = grade_class(redteam.ASSIGNMENT, course, workers=2, limits=FAST, progress=False)
    got = {o.student: o for o in report.outcomes}
    assert set(got) == {c["id"] for c in cases} | {"honest"}, "every submission is recorded"
    assert (got["honest"].score, got["honest"].flags) == (5, [])
    problems = []
    for case in cases:
        outcome, expect = got[case["id"]], case["expect"]
        if outcome.score != expect["score"] or outcome.status != expect["status"]:
            problems.append(f"{case['id']}: {outcome.status} {outcome.score:g}, expected {expect['status']} "
                            f"{expect['score']} ({outcome.flags})")
        missing = [f for f in expect["flags"] if not any(g == f or (f.endswith(":") and g.startswith(f))
                                                         for g in outcome.flags)]
        if missing:
            problems.append(f"{case['id']}: flags {outcome.flags} lack {missing}")
    assert not problems, "\n".join(problems)
    assert _hashes(course, ("submitted", "source", "release")) == before, "no submission or course file was modified"
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        stored = {s.student.id: s.score for s in gb.assignment_submissions(redteam.ASSIGNMENT)}
    assert stored == {o.student: o.score for o in report.outcomes}, "the gradebook holds exactly the results"
    assert not _sandbox_processes(), "no process of a sandbox outlives the run"

    integrity = json.loads((course / "class_grading" / redteam.ASSIGNMENT / "integrity" / "showtraceback_patch.json")
                           .read_text())
    assert any("showtraceback" in t for t in integrity["tampering"])
    assert "showtraceback_patch" in (course / "class_grading" / redteam.ASSIGNMENT / "integrity.md").read_text()

    feedback = class_feedback(redteam.ASSIGNMENT, course)
    assert len(feedback) == len(cases) + 1
    for path in feedback:
        assert "REDTEAM-HIDDEN-MARKER" not in path.read_text(encoding="utf-8"), f"{path} leaks the hidden tests"
    leak = course / "feedback" / "leak_hidden_tests" / redteam.ASSIGNMENT / f"{redteam.ASSIGNMENT}.html"
    assert "hidden tests was removed" in leak.read_text(encoding="utf-8")

    rows = list(csv.DictReader(export_csv(redteam.ASSIGNMENT, course).open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 2 * (len(cases) + 1)
    shadow = [r for r in rows if r["student"] == "showtraceback_patch"]
    assert {r["exercise"] for r in shadow} == {"ex1_check", "ex2_check"}
    assert all(float(r["points"]) == 0 and "tamper:zeroed" in r["flags"] for r in shadow)


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_each_student_is_graded_on_their_own_world(grading_cache, tmp_path):
    from opsbook.data import load_world
    from opsbook.classroom.grade import grade_class
    from opsbook.classroom.worlds import make_worlds

    worlds = tmp_path / "worlds"
    manifest = make_worlds(["amy", "ben", "cara", "dan"], worlds, users=500, salt="test-term", progress=False)
    assert set(manifest["students"]) == {"amy", "ben", "cara", "dan"}
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
    scores = {o.student: (o.status, o.score) for o in report.outcomes}
    assert scores["amy"] == scores["cara"] == scores["dan"] == ("graded", 3)
    expected_ben = (amy["ex1_answer"] == ben["ex1_answer"]) * 1 + (amy["ex2_answer"] == ben["ex2_answer"]) * 2
    assert scores["ben"] == ("graded", expected_ben) and expected_ben < 3, "a copy fails where the worlds differ"
    assert scores["eve"][0] == "no-world"


@needs_sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("classgrade")
def test_a_course_notebook_grades_full_on_student_worlds_without_false_alarms(grading_cache, tmp_path):
    from opsbook.classroom.grade import grade_class
    from opsbook.classroom.worlds import make_worlds

    notebook = "00_welcome"
    worlds = tmp_path / "worlds"
    make_worlds(["amy", "ben"], worlds, users=500, salt="welcome", progress=False)
    course = _course(SOLUTIONS / notebook, grading_cache, tmp_path / "course")
    release = nbformat.read(course / "release" / notebook / f"{notebook}.ipynb", as_version=4)
    solved = splice(release, solution_code(nbformat.read(SOLUTIONS / notebook / f"{notebook}.ipynb", as_version=4)))
    for student in ("amy", "ben"):
        _submit(course, student, solved, notebook)
    _submit(course, "cy", release, notebook)
    report = grade_class(notebook, course, workers=2, worlds=worlds, limits=Limits(cell_timeout=120, timeout=600),
                         progress=False)
    scores = {o.student: o for o in report.outcomes}
    for student in ("amy", "ben"):
        assert scores[student].score == scores[student].max_score > 0, scores[student].flags
        assert not [f for f in scores[student].flags if f.startswith(("tamper", "review"))], scores[student].flags
    assert scores["cy"].score == 0 and not [f for f in scores["cy"].flags if f.startswith("tamper")]
