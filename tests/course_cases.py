"""What the course tests run over: the manifest's notebooks plus the grader's fixture assignment."""

from __future__ import annotations

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
