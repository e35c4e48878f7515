"""Where things live in the course repository. A leaf module: it imports nothing from opsbook.

Every path is resolved from this file's location, never from the working folder.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the nbgrader course folder)."""
MANIFEST = ROOT / "course.yml"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
DATASETS = ROOT / "datasets"
BUILD = ROOT / "build"
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh.md"
DOCS = ROOT / "docs"
NBGRADER_CONFIG = ROOT / "autograder" / "nbgrader_config.py"
ZH_SOURCES = BUILD / "zh" / "solutions"
"""The Chinese edition's source notebooks (hidden tests included), built from solutions/ and translations/zh/."""


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it, for messages."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
