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

from opsbook.course import SOLUTIONS, load_manifest
from opsbook.grading.coursedir import Course, prepare_course

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
