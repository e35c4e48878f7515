"""Shared fixtures. Keep this small: helpers used by one test file live in that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiny_world import write_tiny_world


@pytest.fixture
def tiny_world_dir(tmp_path: Path) -> Path:
    """A fresh, valid tiny world in a temporary folder (safe to modify)."""
    return write_tiny_world(tmp_path / "world")
