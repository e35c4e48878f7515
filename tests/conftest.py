"""Shared fixtures. Keep this small: helpers used by one test file live in that file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_world import write_tiny_world


@pytest.fixture(autouse=True)
def english_messages():
    """Every test starts with the messages in English, whatever an earlier test in this worker chose."""
    from opsbook import language

    language.set("en")
    yield


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


def _shared_world(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: object) -> Path:
    """A generated world shared by the xdist workers of a session (made once, atomically)."""
    import uuid

    from opsbook.world.config import WorldConfig
    from opsbook.world.generate import generate_world, write_world

    target = tmp_path_factory.getbasetemp().parent / "opsbook-worlds" / name
    if not (target / "world.json").is_file():
        building = target.parent / f".{name}-{uuid.uuid4().hex}"
        write_world(generate_world(WorldConfig(**settings), progress=False), building)
        try:
            building.rename(target)
        except OSError:
            import shutil

            shutil.rmtree(building)
    return target


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest world the generator accepts (fewest users, fewest days), another seed than the default."""
    from opsbook.world.config import ACCEPTED

    return _shared_world(tmp_path_factory, "small", seed=11, n_users=ACCEPTED["n_users"][0],
                         days=ACCEPTED["days"][0])


@pytest.fixture(scope="session")
def long_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The longest world the generator accepts (a whole year), with the fewest users."""
    from opsbook.world.config import ACCEPTED

    return _shared_world(tmp_path_factory, "long", seed=23, n_users=ACCEPTED["n_users"][0],
                         days=ACCEPTED["days"][1])
