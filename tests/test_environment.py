"""The environment files agree: pyproject pins == requirements.lock == what environment.yml installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_direct_dependency_is_pinned_exactly_and_matches_the_lock():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    lock = _lock()
    for spec in direct:
        name, _, version = spec.partition("==")
        assert version, f"{spec!r} is not pinned with =="
        key = re.sub(r"[-_.]+", "-", name.strip()).lower()
        assert lock.get(key) == version.strip(), f"{name}: pyproject {version} but requirements.lock {lock.get(key)}"


def test_environment_yml_installs_through_the_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c requirements.lock" in pip and any(p.startswith("-e .") for p in pip)
    assert "python=3.11" in env["dependencies"]
