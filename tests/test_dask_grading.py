"""`opsbook class grade --scheduler`: a real Dask scheduler with two worker processes on 127.0.0.1 grades a class.

Each Dask worker grades like a local worker (same sandbox, limits and judge): the red-team cases that hit a
limit are recorded the same way, and only the parent writes the gradebook. Needs root and bwrap, like the
other class-grading tests.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.grading.nbcourse import prepare_course
from opsbook.grading.sandbox import unavailable_reason
from opsbook.paths import ROOT

sys.path.insert(0, str(ROOT / "tests" / "redteam"))
import build as redteam  # the red team's builder lives beside its cases

REASON = unavailable_reason()
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("classgrade"),
              pytest.mark.skipif(REASON is not None, reason=f"the bwrap sandbox cannot run here: {REASON}")]
CASES = ("infinite_loop_answer", "memory_hog_8gb", "os_exit", "overwrite_gradebook", "not_json")


@pytest.fixture(scope="module")
def cluster():
    """A Dask scheduler and two single-threaded worker processes, on 127.0.0.1 only."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local:
        yield local


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_a_dask_cluster_grades_like_local_workers_and_only_the_parent_writes(cluster, grading_cache, tmp_path):
    from distributed import Client, get_task_stream
    from nbgrader.api import Gradebook

    from opsbook.classroom.course import State
    from opsbook.classroom.pool import DASK_UID_BASE

    course = Path(shutil.copytree(prepare_course(redteam.SOURCE, grading_cache), tmp_path / "course"))
    cases = [c for c in redteam.load_cases() if c["id"] in CASES]
    honest = [{"id": f"honest{i}", "code": {"ex1_answer": "SOLUTION", "ex2_answer": "SOLUTION"},
               "expect": {"score": 5, "status": "graded", "flags": []}} for i in range(2)]
    blank = {"id": "blank", "code": {}, "expect": {"score": 0, "status": "graded", "flags": []}}
    every = [*cases, *honest, blank]
    redteam.build_all(course, every)
    before = _hashes(course / "submitted")
    gradebook_before = hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest()

    opsbook = Path(sys.executable).parent / "opsbook"
    with Client(cluster.scheduler_address, set_as_default=False) as client, get_task_stream(client) as stream:
        run = subprocess.run([str(opsbook), "class", "grade", redteam.ASSIGNMENT, "--course", str(course),
                              "--scheduler", cluster.scheduler_address, "--cell-timeout", "5", "--timeout", "90",
                              "--no-progress"], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        workers = client.run(lambda: __import__("os").getpid())
    graded_on = {task["worker"] for task in stream.data if str(task["key"]).startswith("grade-")}
    assert len(graded_on) == 2, f"both Dask workers graded: {graded_on}"

    entries = State(course / "class_grading" / redteam.ASSIGNMENT / "state.jsonl").entries
    assert set(entries) == {c["id"] for c in every}
    for case in every:
        entry, expect = entries[case["id"]], case["expect"]
        assert (entry["status"], entry["score"]) == (expect["status"], expect["score"]), (case["id"], entry)
        for flag in expect["flags"]:
            assert any(f == flag or (flag.endswith(":") and f.startswith(flag)) for f in entry["flags"]), \
                (case["id"], flag, entry["flags"])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        stored = {s.student.id: s.score for s in gb.assignment_submissions(redteam.ASSIGNMENT)}
    assert stored == {student: entry["score"] for student, entry in entries.items()}, \
        "the parent wrote every result into the gradebook"
    assert hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest() != gradebook_before
    assert _hashes(course / "submitted") == before, "submissions are never modified"
    for pid in workers.values():
        assert not list(Path("/tmp").glob(f"ob-{pid}-dask-*")), "each worker removed its working folder"
    out = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert not [uid for uid in out if int(uid) >= DASK_UID_BASE], "no sandbox process of a Dask worker outlives the run"


def test_no_scheduler_is_a_clear_error(grading_cache, tmp_path):
    from opsbook.classroom.course import ClassGradingError
    from opsbook.classroom.grade import grade_class

    course = Path(shutil.copytree(prepare_course(redteam.SOURCE, grading_cache), tmp_path / "course"))
    redteam.build_all(course, [{"id": "blank", "code": {}}])
    with pytest.raises(ClassGradingError, match="no Dask scheduler answers"):
        grade_class(redteam.ASSIGNMENT, course, scheduler="tcp://127.0.0.1:9", progress=False)
