"""Shared fixtures. Keep this small: helpers used by one test file live in that file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_world import write_tiny_world


@pytest.fixture
def tiny_world_dir(tmp_path: Path) -> Path:
    """A fresh, valid tiny world in a temporary folder (safe to modify)."""
    return write_tiny_world(tmp_path / "world")


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
