"""Grading speed: `opsbook grade` as a learner runs it, and single nbgrader autograde runs.

Self-grading runs the console command in a subprocess (cold: the gradebook is
generated first; warm: it comes from the cache). Autograde times one run on the
untouched release of each notebook (``--quick``: the fixture only).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opsbook.course.manifest import load_manifest
from opsbook.paths import SOLUTIONS
from opsbook.grading.nbcourse import Course, prepare_course

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
        release = prepare_course(FIXTURE, scratch / "fixture-cache") / "release" / FIXTURE.name / f"{FIXTURE.name}.ipynb"
        rows.append(("opsbook grade 99_fixture, cold cache", _self_grade(release, scratch / "grades")))
        rows.append(("opsbook grade 99_fixture, warm cache", _self_grade(release, scratch / "grades")))
        folders = [FIXTURE] + ([] if quick else [SOLUTIONS / e.id for e in load_manifest()])
        for folder in folders:
            generated, graded = _autograde(folder, scratch)
            rows.append((f"generate_assignment {folder.name}", generated))
            rows.append((f"autograde {folder.name} (one run, untouched release)", graded))
    width = max(len(name) for name, _ in rows)
    print(f"\nGrading\n{'step':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.1f}")


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
    wrong = {**solved, "ex2_answer": "def signups_by_channel(users):\n    return users['channel'].value_counts(normalize=True)"}
    for i in range(n):
        folder = course / "submitted" / f"student{i:03d}" / FIXTURE.name
        folder.mkdir(parents=True)
        nbformat.write(splice(release, wrong if i % 3 == 2 else solved), folder / f"{FIXTURE.name}.ipynb")
    return course


def _serial_nbgrader(course: Path) -> tuple[float, dict[str, float]]:
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
    return seconds, scores


def _class_grade(course: Path, workers: int) -> tuple[float, dict[str, float], list[float]]:
    """Seconds for `opsbook class grade` (sandboxed, guarded, ``workers`` processes), scores, per-submission seconds."""
    from opsbook.classroom.grade import grade_class
    from opsbook.classroom.sandbox import Limits

    start = time.perf_counter()
    report = grade_class(FIXTURE.name, course, workers=workers, limits=Limits(), progress=False)
    seconds = time.perf_counter() - start
    return seconds, {o.student: o.score for o in report.outcomes}, [o.seconds for o in report.outcomes]


def class_grading(sizes: tuple[int, ...] = CLASS_SIZES, workers: int = 2) -> None:
    """Print seconds per submission: serial `nbgrader autograde` versus `opsbook class grade`, same run."""
    import statistics

    from opsbook.classroom.sandbox import unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"\nClass grading: skipped, the sandbox cannot run here ({reason})")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-class-") as tmp:
        scratch = Path(tmp)
        for n in sizes:
            plain_s, plain_scores = _serial_nbgrader(_class_course(scratch, n))
            ours_s, our_scores, each = _class_grade(_class_course(scratch, n), workers)
            if plain_scores != our_scores:
                raise RuntimeError(f"class grade and nbgrader disagree on {n} submissions")
            rows.append([f"{n}", f"{plain_s:.1f}", f"{plain_s / n:.2f}", f"{ours_s:.1f}", f"{ours_s / n:.2f}",
                         f"{statistics.median(each):.2f}", f"{plain_s / ours_s:.1f}x"])
    header = ["submissions", "nbgrader s", "s/sub", "class grade s", "s/sub", "median worker s/sub", "speed-up"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\nClass grading of {FIXTURE.name}: serial `nbgrader autograde` vs `opsbook class grade --workers "
          f"{workers}` (bwrap sandbox, guard, limits on), same run, same scores")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
