"""Release: tidy the source notebooks, regenerate the learners' copies with nbgrader, check hygiene.

Committed notebooks carry no outputs, no execution counts, the kernelspec
``python3`` and only the metadata nbgrader and papermill need, so diffs stay
readable and a release is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
SOURCE_CELL_KEYS = {"nbgrader", "tags"}
RELEASE_CELL_KEYS = SOURCE_CELL_KEYS | {"deletable", "editable"}  # nbgrader locks graded cells


def tidy_notebook(path: Path) -> bool:
    """Strip outputs, counts and extra metadata from a source notebook in place; True if it changed."""
    before = Path(path).read_text(encoding="utf-8")
    nb = _read(before)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    nb.metadata = NotebookNode(kernelspec=dict(KERNELSPEC))
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if not cell.get("id") or cell.id in seen:  # missing (old Jupyter) or duplicated (copy-paste)
            cell.id = f"cell-{index:03d}"
            while cell.id in seen:
                cell.id += "x"
        seen.add(cell.id)
        cell.metadata = NotebookNode({k: v for k, v in cell.metadata.items() if k in SOURCE_CELL_KEYS})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    after = nbformat.writes(nb) + "\n"
    if after != before:
        Path(path).write_text(after, encoding="utf-8")
    return after != before


def release(source_root: Path, release_root: Path, keep: tuple[str, ...] = ("zh",)) -> list[Path]:
    """Regenerate ``release_root/<id>/`` from every ``source_root/<id>/`` with nbgrader's generate_assignment.

    Release folders whose source is gone are removed (but the editions named in ``keep``, such as
    ``notebooks/zh/``). Returns the notebooks written.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from opsbook.grading.nbcourse import course_config, run_converter

    ids = sorted(p.name for p in Path(source_root).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    with tempfile.TemporaryDirectory(prefix="opsbook-release-") as tmp:
        course = Path(tmp)
        config = course_config(course)
        config.GenerateAssignment.no_database = True  # what `nbgrader generate_assignment --no-db` sets
        config.SaveCells.enabled = False
        for assignment in ids:
            shutil.copytree(Path(source_root) / assignment, course / "source" / assignment)
            config.CourseDirectory.assignment_id = assignment
            converter = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
            converter.force = True
            run_converter(converter, f"generate_assignment {assignment}")
        release_root = Path(release_root)
        release_root.mkdir(parents=True, exist_ok=True)
        for stale in sorted(p for p in release_root.iterdir() if p.is_dir() and p.name not in ids + list(keep)):
            shutil.rmtree(stale)
        for assignment in ids:
            shutil.rmtree(release_root / assignment, ignore_errors=True)
            shutil.copytree(course / "release" / assignment, release_root / assignment)
    return sorted(release_root.glob("*/*.ipynb"))


def notebook_problems(path: Path, kind: str) -> list[str]:
    """What keeps a committed notebook from being clean (``kind`` is "source" or "release")."""
    nb = _read(Path(path).read_text(encoding="utf-8"))
    problems = []
    if nb.nbformat_minor < 5:
        problems.append(f"nbformat 4.{nb.nbformat_minor}: cell ids need 4.5")
    if dict(nb.metadata) != {"kernelspec": KERNELSPEC}:
        problems.append(f"notebook metadata must be exactly kernelspec python3, got {dict(nb.metadata)}")
    ids = [c.get("id") for c in nb.cells]
    if None in ids or len(set(ids)) != len(ids):
        problems.append("every cell needs a unique id")
    allowed = SOURCE_CELL_KEYS if kind == "source" else RELEASE_CELL_KEYS
    for index, cell in enumerate(nb.cells, start=1):
        extra = set(cell.metadata) - allowed
        if extra:
            problems.append(f"cell {index}: metadata {sorted(extra)} not allowed")
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            problems.append(f"cell {index}: outputs or execution count not stripped")
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade") and not grading.get("points"):
            problems.append(f"cell {index} ({grading.get('grade_id')}): a graded cell needs points > 0")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or "parameters" not in code[0].metadata.get("tags", []):
        problems.append("the first code cell must be tagged `parameters` and set DATA_DIR")
    elif "DATA_DIR" not in _papermill_parameters(path):
        problems.append("papermill cannot read DATA_DIR from the parameters cell "
                        "(one assignment per line, no '=' in comments: papermill issue #772)")
    return problems


def _papermill_parameters(path: Path) -> dict:
    import logging

    import papermill

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its "Unable to parse line" warning is reported by the caller
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's MissingIDFieldWarning: reported by notebook_problems
            return papermill.inspect_notebook(str(path))
    finally:
        logger.setLevel(level)


def _read(text: str) -> NotebookNode:
    """Read a notebook keeping missing cell ids missing (nbformat would invent random ones)."""
    raw = json.loads(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MissingIDFieldWarning: handled here
        nb = nbformat.reads(text, as_version=4)
    for cell, raw_cell in zip(nb.cells, raw.get("cells", [])):
        if "id" not in raw_cell:
            cell.pop("id", None)
    return nb


def translated_sources(source_root: Path, target: Path, ids: list[str], language: str = "zh",
                       translations: Path | None = None) -> list[Path]:
    """Write the ``language`` edition's source notebooks (hidden tests included) into ``target/<id>/``.

    Only notebooks with a translation file are written; raises ``TranslationError`` when one is incomplete
    or stale. Other files of a source folder (not ``contracts.yml``) are copied as they are.
    """
    from opsbook.course.translate import TRANSLATIONS, build_zh, load_translation, translation_path

    root = translations or TRANSLATIONS
    written = []
    for nb_id in ids:
        if not translation_path(nb_id, language, root).is_file():
            continue
        folder = Path(source_root) / nb_id
        nb = build_zh(_read((folder / f"{nb_id}.ipynb").read_text(encoding="utf-8")),
                      load_translation(nb_id, language, root))
        out = Path(target) / nb_id
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(folder, out, ignore=shutil.ignore_patterns("contracts.yml", f"{nb_id}.ipynb", "*.pyc"))
        nbformat.write(nb, out / f"{nb_id}.ipynb")
        written.append(out / f"{nb_id}.ipynb")
    return written
