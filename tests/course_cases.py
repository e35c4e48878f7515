"""What the course tests run over: the manifest's notebooks plus the grader's fixture assignment.

Imported by the test modules (not a conftest: these are only the course pipeline's helpers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.course.manifest import load_manifest
from opsbook.paths import ROOT, SOLUTIONS

FIXTURE_SOURCES = ROOT / "tests" / "fixtures" / "solutions"
FIXTURE = FIXTURE_SOURCES / "99_fixture"
COURSE_IDS = [entry.id for entry in load_manifest()]
ASSIGNMENTS = [SOLUTIONS / nb_id for nb_id in COURSE_IDS] + [FIXTURE]


def assignment_params() -> list:
    """One pytest param per assignment folder (course notebooks and the fixture), named by its id."""
    return [pytest.param(folder, id=folder.name) for folder in ASSIGNMENTS]


@pytest.fixture(scope="session")
def grading_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated nbgrader courses are cached; shared by the xdist workers of a session."""
    cache = tmp_path_factory.getbasetemp().parent / "opsbook-nbgrader-courses"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture(scope="module")
def headless_plots():
    """Kernels started by the module's tests build figures but skip rendering them (a fifth faster).

    Grading and execution do not depend on the rendered images; `make course` renders them.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "agg")
        yield
