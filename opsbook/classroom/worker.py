"""Grade one submission in a worker process: copy, check, sanitize, execute sandboxed and judged, report.

The worker is trusted code: it never runs submitted code itself. For each
notebook of the submission it

1. copies the submission folder into a fresh working folder: regular files
   only, sizes capped, and nothing that could prepare the kernel (Python
   modules, ``.pth`` files, IPython or Jupyter folders, ``matplotlibrc``,
   hidden folders), each left out with a ``kernel-prep:`` flag, so the
   submission itself is never touched and nothing of it runs at kernel start;
2. reads the notebook (``not-json`` and ``not-a-notebook`` are recorded, not raised);
3. writes the integrity report: graded cells edited, deleted, duplicated or
   re-typed (against the release and the gradebook), and code a person should read;
4. sanitizes it with nbgrader's own preprocessors, as ``nbgrader autograde``
   does (clear outputs, de-duplicate grade ids, restore the kernelspec and every
   locked or graded cell from the gradebook, put deleted test cells back);
5. executes it with ``SandboxedExecute``: the learner's cells in a kernel in
   the sandbox, every test cell judged in this process (``opsbook.grading.judge``)
   against the student's world on disk;
6. runs nbgrader's post-execution preprocessors and returns the executed
   notebook, as JSON text, with its flags.

Scores are not computed here: the parent writes the executed notebook into the
gradebook with nbgrader's ``SaveAutoGrades``; a worker has no write access to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from opsbook.classroom import integrity
from opsbook.classroom.status import Status
from opsbook.grading.sandbox import Limits, SandboxedExecute, SandboxSpec

MAX_FILE_BYTES = 50 * 1024 * 1024     # largest single file copied from a submission
MAX_SUBMISSION_BYTES = 200 * 1024 * 1024
KERNEL_PREP_FILES = {"matplotlibrc", "kernel.json", "sitecustomize.py", "usercustomize.py", "ipython_config.py",
                     "jupyter_config.py", "ipython_kernel_config.py"}
KERNEL_PREP_SUFFIXES = (".py", ".pth", ".pyc", ".so")


@dataclass
class Assignment:
    """What every worker needs to know about the assignment (sent once, at worker start)."""

    course_root: str
    assignment: str
    notebooks: dict[str, dict]        # notebook id -> {"master": {...}, "release": notebook JSON text}
    db_url: str                       # a read-only snapshot of the gradebook
    config_file: str | None           # the course's nbgrader config (None: opsbook's course config)
    limits: Limits = field(default_factory=Limits)
    mpl_cache: str | None = None      # a prepared matplotlib config dir, copied into each working folder


def copy_submission(source: Path, target: Path) -> list[str]:
    """Copy the regular files of ``source`` into ``target``; return flags for what was left out."""
    flags, total = [], 0
    target.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = Path(dirpath).relative_to(source)
        for name in list(dirnames):
            if name == ".ipynb_checkpoints":
                dirnames.remove(name)
            elif (Path(dirpath) / name).is_symlink():
                flags.append(f"symlink-skipped:{rel / name}")
                dirnames.remove(name)
            elif name.startswith(".") or name == "__pycache__":
                flags.append(f"kernel-prep:{rel / name}/")
                dirnames.remove(name)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                flags.append(f"symlink-skipped:{rel / name}")
                continue
            if name in KERNEL_PREP_FILES or name.endswith(KERNEL_PREP_SUFFIXES):
                flags.append(f"kernel-prep:{rel / name}")
                continue
            size = path.stat().st_size
            if size > MAX_FILE_BYTES or total + size > MAX_SUBMISSION_BYTES:
                flags.append(f"file-too-large:{rel / name}")
                continue
            total += size
            (target / rel).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / rel / name)
    return flags


class Worker:
    """One worker slot: grades submissions one after another, each with a fresh kernel and folder."""

    def __init__(self, job: Assignment, slot: int, uid: int, workroot: Path):
        self.job = job
        self.slot = slot
        self.uid = uid
        self.workdir = Path(workroot) / f"s{slot}" / "w"
        self.config = load_config(job)
        # Set through the config: nbclient re-reads it when a notebook starts.
        execute = self.config.Execute
        execute.timeout = job.limits.cell_timeout
        execute.interrupt_on_timeout = True
        execute.shutdown_kernel = "immediate"
        execute.record_timing = False

    def grade(self, student: str, submission: str, world: str | None) -> dict:
        """Everything the parent needs to write this submission into the gradebook."""
        start = time.monotonic()
        deadline = start + self.job.limits.timeout
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        copy_flags = copy_submission(Path(submission), self.workdir)
        result: dict = {"student": student, "flags": copy_flags, "notebooks": {}, "status": Status.GRADED}
        try:
            for notebook_id, info in self.job.notebooks.items():
                result["notebooks"][notebook_id] = self._grade_notebook(student, notebook_id, info, world, deadline)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        result["seconds"] = time.monotonic() - start
        return result

    def _grade_notebook(self, student: str, notebook_id: str, info: dict, world: str | None,
                        deadline: float) -> dict:
        out: dict = {"status": Status.GRADED, "flags": [], "hard": [], "executed": None, "integrity": {},
                     "message": ""}
        nb = self._read(self.workdir / f"{notebook_id}.ipynb", out)
        if nb is None:
            return out
        release = nbformat.reads(info["release"], as_version=4)
        try:
            shape = integrity.structure(nb, release, info["master"])
            findings = integrity.scan_code(nb, {c.source for c in release.cells})
        except Exception as exc:  # noqa: BLE001 - metadata too odd to compare: say so, grade anyway
            out["flags"].append("integrity-check-failed")
            out["message"] = f"the integrity check could not read the notebook: {type(exc).__name__}: {exc}"
        else:
            out["integrity"] = {"structure": shape.as_dict(), "code": [f.as_dict() for f in findings]}
            out["flags"] += shape.flags()
            out["hard"] += [f"code: {f.rule} in cell {f.cell} line {f.line}: {f.code}" for f in findings
                            if f.level == "hard"]
        resources = {"nbgrader": {"notebook": notebook_id, "assignment": self.job.assignment, "student": student,
                                  "db_url": self.job.db_url},
                     "metadata": {"path": str(self.workdir)}, "unique_key": notebook_id}
        try:
            nb, resources = self._sanitize(nb, resources)
        except Exception as exc:  # noqa: BLE001 - corrupt nbgrader metadata
            out.update(status=Status.INVALID, message=f"nbgrader could not read the graded cells: "
                                                      f"{str(exc).splitlines()[0][:200]}")
            out["flags"].append("corrupt-metadata")
            return out
        inject_parameters(nb, release)
        executor = self._execute(nb, resources, world, deadline)
        out["flags"] += executor.flags
        nb, resources = self._finish(executor.nb, resources)
        out["executed"] = nbformat.writes(nb)
        return out

    @staticmethod
    def _read(path: Path, out: dict) -> NotebookNode | None:
        if not path.is_file():
            out.update(status=Status.MISSING, message=f"no {path.name} in the submission")
            out["flags"].append("missing-notebook")
            return None
        text = path.read_bytes()
        try:
            raw = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            out.update(status=Status.INVALID, message=f"not valid JSON: {exc}")
            out["flags"].append("not-json")
            return None
        try:
            nb = nbformat.reads(text.decode("utf-8"), as_version=4)
            if not isinstance(raw, dict) or not isinstance(nb.get("cells"), list) or not all(
                    isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw")
                    and isinstance(c.get("source"), str) for c in nb.cells):
                raise ValueError("no list of cells with a type and a source")
        except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for JSON that is not a notebook
            out.update(status=Status.INVALID, message=f"JSON but not a notebook: {str(exc).splitlines()[0][:200]}")
            out["flags"].append("not-a-notebook")
            return None
        return nb

    def _sanitize(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearOutput,
            DeduplicateIds,
            OverwriteCells,
            OverwriteKernelspec,
        )

        overwrite = OverwriteCells(config=self.config)
        overwrite.add_missing_cells = True  # a deleted test cell comes back and still judges the answer
        for pp in (ClearOutput(config=self.config), DeduplicateIds(config=self.config)):
            nb, resources = pp(nb, resources)
        for cell in nb.cells:  # DeduplicateIds leaves `nbgrader: {}` on the extra copies: make them plain cells
            if cell.metadata.get("nbgrader", None) == {}:
                del cell.metadata["nbgrader"]
        for pp in (OverwriteKernelspec(config=self.config), overwrite, CheckCellMetadata(config=self.config)):
            nb, resources = pp(nb, resources)
        return nb, resources

    def _execute(self, nb: NotebookNode, resources: dict, world: str | None, deadline: float) -> SandboxedExecute:
        from opsbook.grading.judge import error_output

        mpl = None
        if self.job.mpl_cache and Path(self.job.mpl_cache).is_dir():
            mpl = self.workdir / ".mplconfig"
            shutil.copytree(self.job.mpl_cache, mpl, dirs_exist_ok=True)
        spec = SandboxSpec(workdir=self.workdir, uid=self.uid, limits=self.job.limits,
                           world=Path(world) if world else None, mpl_dir=str(mpl) if mpl else None)
        spec.prepare()
        executor = SandboxedExecute(spec, deadline, config=self.config, data_dir=str(world or ""))
        try:
            executor.preprocess(nb, resources)
        except Exception as exc:  # noqa: BLE001 - the kernel could not start or the grader broke: keep going
            executor.flag(f"grader-error:{type(exc).__name__}")
            executor.nb = nb
            why = f"the grader failed: {type(exc).__name__}: {str(exc)[:200]}"
            for cell in nb.cells:
                grading = cell.metadata.get("nbgrader", {})
                if grading.get("grade") and cell.cell_type == "code" and not cell.get("outputs"):
                    cell.outputs = [error_output("NotRun", f"not run: {why}")]
        return executor

    def _finish(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.preprocessors import IgnorePattern, LimitOutput

        for pp in (IgnorePattern(config=self.config), ClearMetadataPreprocessor(config=self.config),
                   LimitOutput(config=self.config)):
            nb, resources = pp(nb, resources)
        return nb, resources


INJECTED = "DATA_DIR = None  # injected by the class grader: the world is $OPSBOOK_DATA_DIR, set for this student"


def inject_parameters(nb: NotebookNode, release: NotebookNode) -> None:
    """Pin ``DATA_DIR`` after the parameters cell, as papermill does, so a submission runs on its own world."""
    first = next((c for c in release.cells if c.cell_type == "code"), None)
    if first is None or "parameters" not in first.metadata.get("tags", []) or "DATA_DIR" not in first.source:
        return
    position = next((i + 1 for i, c in enumerate(nb.cells)
                     if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(position, nbformat.v4.new_code_cell(INJECTED, metadata={"tags": ["injected-parameters"]}))


def load_config(job: Assignment):  # noqa: ANN201 - traitlets Config
    """The course's nbgrader settings, pointed at the class course folder."""
    from traitlets.config.loader import PyFileConfigLoader

    from opsbook.grading.nbcourse import course_config

    if job.config_file:
        path = Path(job.config_file)
        config = PyFileConfigLoader(path.name, str(path.parent)).load_config()
        config.CourseDirectory.root = job.course_root
    else:
        config = course_config(Path(job.course_root))
    return config


def worker_main(conn, job: Assignment, slot: int, uid: int, workroot: str) -> None:  # noqa: ANN001
    """Entry point of a worker process: receive (student, submission, world), send results back."""
    import ctypes
    import signal

    try:  # die with the parent: an interrupted class run leaves no kernels behind
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.environ.pop("OPSBOOK_DATA_DIR", None)
    import warnings

    warnings.simplefilter("ignore")  # nbformat and SQLAlchemy notices about submissions are not the instructor's
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = Worker(job, slot, uid, Path(workroot))
    conn.send(("ready", slot))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        student, submission, world = task
        try:
            result = worker.grade(student, submission, world)
        except Exception as exc:  # noqa: BLE001 - report, never die on one submission
            import traceback

            result = {"student": student, "status": Status.ERROR, "flags": [f"grader-error:{type(exc).__name__}"],
                      "notebooks": {}, "message": traceback.format_exc()[-2000:]}
        conn.send(("result", result))
