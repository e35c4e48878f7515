"""Grading speed: `opsbook grade` as a learner runs it, single nbgrader autograde runs, and a class.

Self-grading runs the console command in a subprocess (cold: the gradebook is
generated first; warm: it comes from the cache). Autograde times one run on the
untouched release of each notebook (``--quick``: the fixture only). The class
table grades the same class of the fixture three ways: plain serial ``nbgrader
autograde``, ``opsbook class grade`` with its local pool of two workers, and
``opsbook class grade --scheduler`` on a Dask cluster of two worker processes
on 127.0.0.1 (started, with the grader imported, before the clock runs, as a
cluster that has graded before would be).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opsbook.course.manifest import load_manifest
from opsbook.grading.nbcourse import Course, prepare_course
from opsbook.paths import SOLUTIONS
from opsbook.texttable import format_table

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "solutions" / "99_fixture"


def _self_grade(release: Path, work: Path) -> float:
    start = time.perf_counter()
    opsbook = Path(sys.executable).parent / "opsbook"  # the console script a learner runs
    subprocess.run([opsbook, "grade", release, "--source", FIXTURE.parent, "--work", work], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def _autograde(folder: Path, scratch: Path) -> tuple[float, float]:
    """Seconds to generate the course, seconds for one autograde of the untouched release."""
    start = time.perf_counter()
    template = prepare_course(folder, scratch / "cache")
    generated = time.perf_counter() - start
    course = Course(template, scratch / folder.name)
    start = time.perf_counter()
    course.autograde("bench", course.release)
    return generated, time.perf_counter() - start


def run(quick: bool = False) -> None:
    """Print the grading table."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as tmp:
        scratch = Path(tmp)
        course = prepare_course(FIXTURE, scratch / "fixture-cache")
        release = course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb"
        rows.append(("opsbook grade 99_fixture, cold cache", _self_grade(release, scratch / "grades")))
        rows.append(("opsbook grade 99_fixture, warm cache", _self_grade(release, scratch / "grades")))
        folders = [FIXTURE] + ([] if quick else [SOLUTIONS / e.id for e in load_manifest()])
        for folder in folders:
            generated, graded = _autograde(folder, scratch)
            rows.append((f"generate_assignment {folder.name}", generated))
            rows.append((f"autograde {folder.name} (one run, untouched release)", graded))
    print("\nGrading")
    print(format_table(("step", "seconds"), [(name, f"{seconds:.1f}") for name, seconds in rows], right=(1,)))


# --------------------------------------------------------------------------- class grading (opsbook class grade)
CLASS_SIZES = (25, 50)


def _class_course(scratch: Path, n: int) -> Path:
    """A course of the 99_fixture assignment with ``n`` submissions (reference answers, every third one wrong)."""
    import shutil

    import nbformat

    from opsbook.course.contracts import solution_code, splice

    course = scratch / f"class-{n}-{time.monotonic_ns()}"
    shutil.copytree(prepare_course(FIXTURE, scratch / "fixture-cache"), course)
    release = nbformat.read(course / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb", as_version=4)
    solved = solution_code(nbformat.read(FIXTURE / f"{FIXTURE.name}.ipynb", as_version=4))
    wrong = {**solved, "ex2_answer": "def signups_by_channel(users):\n"
                                     "    return users['channel'].value_counts(normalize=True)"}
    for i in range(n):
        folder = course / "submitted" / f"student{i:03d}" / FIXTURE.name
        folder.mkdir(parents=True)
        nbformat.write(splice(release, wrong if i % 3 == 2 else solved), folder / f"{FIXTURE.name}.ipynb")
    return course


def _serial_nbgrader(course: Path) -> tuple[float, dict[str, float], list[float]]:
    """Seconds for one plain `nbgrader autograde` over the whole class, and the scores it gave."""
    from nbgrader.api import Gradebook

    from opsbook.grading.nbcourse import write_plain_config

    write_plain_config(course, f'c.NbGrader.logfile = "{course}/nbgrader.log"\n')
    nbgrader = Path(sys.executable).parent / "nbgrader"
    start = time.perf_counter()
    subprocess.run([str(nbgrader), "autograde", FIXTURE.name], cwd=course, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(FIXTURE.name)}
    return seconds, scores, []


def _class_grade(course: Path, workers: int, scheduler: str | None = None) -> tuple[float, dict[str, float], list]:
    """Seconds for `opsbook class grade` (local pool, or Dask's at ``scheduler``), scores, seconds per submission."""
    from opsbook.classroom.grade import grade_class
    from opsbook.grading.sandbox import Limits

    start = time.perf_counter()
    report = grade_class(FIXTURE.name, course, workers=workers, limits=Limits(), progress=False, scheduler=scheduler)
    seconds = time.perf_counter() - start
    return seconds, {o.student: o.score for o in report.outcomes}, [o.seconds for o in report.outcomes]


def class_grading(sizes: tuple[int, ...] = CLASS_SIZES, workers: int = 2) -> None:
    """Print submissions per second: serial `nbgrader autograde`, the local pool, a Dask cluster; same class."""
    import importlib
    import logging
    import statistics

    from distributed import Client, LocalCluster

    from opsbook.grading.sandbox import unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"\nClass grading: skipped, the sandbox cannot run here ({reason})")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-class-") as tmp, \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        scratch = Path(tmp)
        with Client(cluster.scheduler_address, set_as_default=False) as client:   # a cluster that graded before
            client.run(importlib.import_module, "opsbook.classroom.worker")
        engines = (("nbgrader autograde, serial, no sandbox", lambda c: _serial_nbgrader(c)),
                   (f"opsbook class grade --workers {workers}", lambda c: _class_grade(c, workers)),
                   (f"opsbook class grade --scheduler (Dask, {workers} worker processes)",
                    lambda c: _class_grade(c, workers, cluster.scheduler_address)))
        for n in sizes:
            reference = None
            for name, grade in engines:
                seconds, scores, each = grade(_class_course(scratch, n))
                reference = reference or scores
                if scores != reference:
                    raise RuntimeError(f"{name} disagrees with nbgrader on {n} submissions")
                rows.append((name, n, f"{seconds:.1f}", f"{n / seconds:.2f}",
                             f"{statistics.median(each):.2f}" if each else "-"))
    print(f"\nClass grading of {FIXTURE.name} (reference answers, every third one wrong): the same class three "
          "ways, same scores; sandbox, judge and limits on for opsbook")
    print(format_table(("engine", "submissions", "seconds", "submissions/s", "median s/submission"), rows,
                       right=(1, 2, 3, 4)))
