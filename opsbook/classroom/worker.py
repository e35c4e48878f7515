"""Grade one submission in a worker process: copy, check, sanitize, run sandboxed, report.

The worker is trusted code; it never runs submitted code itself. For each
notebook of the submission it

1. copies the submission folder into a fresh working folder (regular files only:
   symlinks are dropped, sizes are capped), so the submission is never touched;
2. reads the notebook (``not-json`` and ``not-a-notebook`` are recorded, not raised);
3. writes the integrity report: graded cells edited, deleted, duplicated or
   re-typed (against the release and the gradebook), and suspicious code;
4. sanitizes it with nbgrader's own preprocessors, as ``nbgrader autograde``
   does (clear outputs, de-duplicate grade ids, restore the kernelspec and every
   locked or graded cell from the gradebook, put deleted test cells back);
5. executes it with nbgrader's ``Execute`` preprocessor in a kernel inside the
   sandbox (``sandbox.py``), calling the kernel guard (``guard.py``) before and
   after every test cell, keeping output within limits and surviving timeouts,
   hangs and kernel deaths;
6. runs nbgrader's post-execution preprocessors (IgnorePattern, metadata
   clean-up, LimitOutput) and returns the executed notebook, as JSON text, with
   its flags.

Scores are not computed here: the parent writes the executed notebook into the
gradebook with nbgrader's ``SaveAutoGrades``; a worker has no write access to it
(it reads a snapshot copy).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute

from opsbook.classroom import integrity
from opsbook.kernel.guard import ALLOWED_ROOTS_ENV, KEY_FILE_ENV, WATCH_ROOTS_ENV, verify
from opsbook.classroom.sandbox import Limits, SandboxedKernelManager, SandboxSpec

GUARD_EXTENSION = "--IPKernelApp.extensions=opsbook.kernel.guard"
MAX_FILE_BYTES = 50 * 1024 * 1024     # largest single file copied from a submission
MAX_SUBMISSION_BYTES = 200 * 1024 * 1024
PROBE_SECONDS = 10                    # how long an interrupted kernel has to become responsive again
GUARD_SECONDS = 30


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


def _label(cell: NotebookNode, index: int) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _msg_size(msg: dict) -> int:
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values()) + \
        sum(len(line) for line in content.get("traceback", []))


class GuardedExecute(Execute):
    """nbgrader's Execute, with the kernel in a sandbox and the guard around every test cell."""

    def __init__(self, sandbox: SandboxSpec, guard_key: bytes, limits: Limits, deadline: float,
                 names: dict[str, str] | None = None, **kw: Any):
        super().__init__(**kw)
        self.names = names or {}
        self.sandbox = sandbox
        self.guard_key = guard_key
        self.limits = limits
        self.deadline = deadline
        self.hard: list[str] = []      # tampering: zeroes the submission (policy "zero")
        self.soft: list[str] = []      # worth a look
        self.flags: list[str] = []     # what happened (timeouts, kernel death, floods...)
        self.dead: str | None = None
        self._bytes_cell = self._bytes_nb = 0
        self._cut: set[str] = set()
        self._label = ""

    # -- the kernel -----------------------------------------------------------------
    def create_kernel_manager(self) -> SandboxedKernelManager:
        sockets = Path(self.sandbox.workdir) / ".k"
        km = SandboxedKernelManager(kernel_name="python3", config=self.config, transport="ipc",
                                    ip=str(sockets / "kernel"), connection_file=str(sockets / "kernel.json"))
        km.sandbox = self.sandbox
        self.kernel_name = "python3"
        self.km = km
        return km

    async def _reply(self, msg_id: str, timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return None
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=remaining))
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def _checkpoint(self, phase: str) -> dict | None:
        """Run the guard in the kernel; its verified report, or None (no reply, error, forged)."""
        nonce = secrets.token_hex(12)
        expr = (f"__import__('opsbook.kernel.guard', fromlist=['checkpoint'])"
                f".checkpoint({phase!r}, {nonce!r}, {self.names!r})")
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"guard": expr},
                                 allow_stdin=False)
        reply = await self._reply(msg_id, GUARD_SECONDS)
        try:
            value = reply["content"]["user_expressions"]["guard"]
            text = ast.literal_eval(value["data"]["text/plain"])
        except (TypeError, KeyError, ValueError, SyntaxError):
            return None
        report = verify(text, self.guard_key, nonce) if isinstance(text, str) else None
        if report is not None:
            for what in report["hard"]:
                self._add(self.hard, f"{self._label}: {what}")
            for what in report["soft"]:
                self._add(self.soft, what)
            if report["shadowed"]:
                self._add(self.soft, f"{self._label}: notebook names hiding builtins set aside for the test: "
                          + ", ".join(sorted(report["shadowed"])))
        return report

    async def _probe(self) -> bool:
        """Is the kernel idle again (after an interrupt)?"""
        try:
            msg_id = self.kc.execute("", silent=True, store_history=False, allow_stdin=False)
        except Exception:  # noqa: BLE001 - channels closed: not responsive
            return False
        return await self._reply(msg_id, min(PROBE_SECONDS, max(3, self.limits.cell_timeout))) is not None

    async def _stop(self, why: str) -> None:
        self.dead = why
        try:
            await ensure_async(self.km.kill_kernel())
        except Exception:  # noqa: BLE001 - already gone
            pass

    @staticmethod
    def _add(target: list[str], what: str) -> None:
        if what not in target:
            target.append(what)

    # -- cells ----------------------------------------------------------------------
    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        label = self._label = _label(cell, cell_index)
        test = nbutils.is_grade(cell) and not nbutils.is_solution(cell)
        if self.dead is None and time.monotonic() > self.deadline:
            self._add(self.flags, f"time-limit:{label}")
            await self._stop(f"the submission ran out of time ({self.limits.timeout} s) before {label}")
        if self.dead is not None:
            cell.outputs = [_error("NotRun", f"not run: {self.dead}")] if nbutils.is_grade(cell) else []
            return cell
        self._bytes_cell = 0
        failed_check = False
        if test and await self._checkpoint("pre") is None:
            failed_check = True
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._add(self.flags, f"kernel-died:{label}")
            cell.outputs.append(_error("DeadKernelError", "the kernel died while running this cell "
                                       "(a crash, os._exit, or the memory limit)"))
            self.dead = f"the kernel died in {label}"
            return cell
        except CellTimeoutError:
            cell.outputs.append(_error("CellTimeoutError", f"stopped after {self.timeout} s"))
        if any(o.output_type == "error" and o.ename in ("CellTimeoutError", "KeyboardInterrupt")
               for o in cell.outputs):
            self._add(self.flags, f"timeout:{label}")
            if not await self._probe():
                self._add(self.flags, f"unresponsive:{label}")
                await self._stop(f"the kernel did not stop after {label} timed out")
                return cell
        if test and self.dead is None:
            if await self._checkpoint("post") is None:
                failed_check = True
            self._check_forged_result(cell, label)
        if test and failed_check:
            self._add(self.hard, f"{label}: the grader could not verify the kernel around this test")
            cell.outputs.append(_error("GraderCheckFailed", "the grader could not verify the kernel around "
                                       "this test, so it earns no points"))
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the base coroutine at class creation

    def on_cell_executed(self, **kwargs: Any) -> None:
        cell, reply = kwargs["cell"], kwargs["execute_reply"]
        content = reply.get("content", {}) if reply else {}
        shown = any(o.output_type == "error" for o in cell.outputs)
        if content.get("status") == "error" and not shown and content.get("ename") != "CellTimeoutError":
            what = f"{self._label}: an error ({content.get('ename')}) was raised but its traceback was hidden"
            if nbutils.is_grade(cell):
                self._add(self.hard, what)
            else:
                self._add(self.soft, what)
        super().on_cell_executed(**kwargs)

    def _check_forged_result(self, cell: NotebookNode, label: str) -> None:
        """A test cell that ends in a statement cannot produce a result: one that shows up was forged."""
        try:
            body = ast.parse(integrity.to_python(cell.source)).body
        except SyntaxError:
            return
        if body and isinstance(body[-1], ast.Expr):
            return  # the test may report partial credit
        forged = [o for o in cell.outputs if o.output_type == "execute_result"]
        if forged:
            self._add(self.hard, f"{label}: a result was injected into a test cell (partial-credit forgery)")
            cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        size = _msg_size(msg)
        self._bytes_cell += size
        self._bytes_nb += size
        over = (self._bytes_cell > self.limits.output_kb * 1024
                or self._bytes_nb > self.limits.notebook_output_kb * 1024)
        if msg["msg_type"] == "error" or not over:
            return super().output(outs, msg, display_id, cell_index)
        stream = msg["content"].get("name", "stdout") if msg["msg_type"] == "stream" else "stdout"
        key = f"{cell_index}:{stream}"
        if key not in self._cut:
            self._cut.add(key)
            self._add(self.flags, f"output-flood:{self._label}")
            outs.append(nbformat.v4.new_output("stream", name=stream, text=(
                f"\n[... the grader cut this cell's output here: more than {self.limits.output_kb} kB ...]\n")))
        return None


def copy_submission(source: Path, target: Path) -> list[str]:
    """Copy the regular files of ``source`` into ``target``; return flags for what was left out."""
    flags, total = [], 0
    target.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = Path(dirpath).relative_to(source)
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():
                flags.append(f"symlink-skipped:{rel / name}")
                dirnames.remove(name)
            elif name == ".ipynb_checkpoints":
                dirnames.remove(name)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                flags.append(f"symlink-skipped:{rel / name}")
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
        from traitlets.config import Config

        self.job = job
        self.slot = slot
        self.uid = uid
        self.workdir = Path(workroot) / f"s{slot}" / "w"
        self.config: Config = load_config(job)
        # Set through the config: nbclient re-reads it when a notebook starts, so plain assignments would not stick.
        execute = self.config.Execute
        execute.timeout = job.limits.cell_timeout
        execute.interrupt_on_timeout = True
        execute.shutdown_kernel = "immediate"
        execute.record_timing = False
        arguments = list(execute.get("extra_arguments", []))
        execute.extra_arguments = arguments + ([GUARD_EXTENSION] if GUARD_EXTENSION not in arguments else [])

    def grade(self, student: str, submission: str, world: str | None) -> dict:
        """Everything the parent needs to write this submission into the gradebook."""
        start = time.monotonic()
        limits = self.job.limits
        deadline = start + limits.timeout
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        copy_flags = copy_submission(Path(submission), self.workdir)
        result: dict = {"student": student, "flags": copy_flags, "notebooks": {}, "status": "graded"}
        try:
            for notebook_id, info in self.job.notebooks.items():
                result["notebooks"][notebook_id] = self._grade_notebook(student, notebook_id, info, world, deadline)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        result["seconds"] = time.monotonic() - start
        return result

    def _grade_notebook(self, student: str, notebook_id: str, info: dict, world: str | None,
                        deadline: float) -> dict:
        self.names = release_imports(nbformat.reads(info["release"], as_version=4))
        out: dict = {"status": "graded", "flags": [], "hard": [], "soft": [], "executed": None,
                     "integrity": {}, "message": ""}
        path = self.workdir / f"{notebook_id}.ipynb"
        if not path.is_file():
            out.update(status="missing", message=f"no {notebook_id}.ipynb in the submission")
            out["flags"].append("missing-notebook")
            return out
        text = path.read_bytes()
        try:
            raw = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            out.update(status="invalid", message=f"not valid JSON: {exc}")
            out["flags"].append("not-json")
            return out
        try:
            nb = nbformat.reads(text.decode("utf-8"), as_version=4)
            if not isinstance(raw, dict) or not isinstance(nb.get("cells"), list) or not all(
                    isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw")
                    and isinstance(c.get("source"), str) for c in nb.cells):
                raise ValueError("no list of cells with a type and a source")
        except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for JSON that is not a notebook
            out.update(status="invalid", message=f"JSON but not a notebook: {str(exc).splitlines()[0][:200]}")
            out["flags"].append("not-a-notebook")
            return out
        release = nbformat.reads(info["release"], as_version=4)
        try:
            shape = integrity.structure(nb, release, info["master"])
            findings = integrity.scan_code(nb, {c.source for c in release.cells})
        except Exception as exc:  # noqa: BLE001 - metadata too odd to compare: say so, grade anyway
            out["flags"].append("integrity-check-failed")
            out["soft"].append(f"the integrity check could not read the notebook: {type(exc).__name__}: {exc}")
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
            out.update(status="invalid", message=f"nbgrader could not read the graded cells: "
                                                 f"{str(exc).splitlines()[0][:200]}")
            out["flags"].append("corrupt-metadata")
            return out
        inject_parameters(nb, release)
        executor = self._execute(nb, resources, world, deadline)
        out["flags"] += executor.flags
        out["hard"] += executor.hard
        out["soft"] += executor.soft
        nb = executor.nb
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error" and output.ename == "MemoryError":
                    self._flag(out, f"memory-limit:{_label(cell, nb.cells.index(cell))}")
                if output.output_type == "error" and (output.ename == "BlockingIOError" or
                                                      "Resource temporarily unavailable" in str(output.evalue)):
                    self._flag(out, "process-limit")
        nb, resources = self._finish(nb, resources)
        out["executed"] = nbformat.writes(nb)
        return out

    @staticmethod
    def _flag(out: dict, what: str) -> None:
        if what not in out["flags"]:
            out["flags"].append(what)

    def _sanitize(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells,
                                            OverwriteKernelspec)

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

    def _execute(self, nb: NotebookNode, resources: dict, world: str | None, deadline: float) -> GuardedExecute:
        limits = self.job.limits
        key = secrets.token_bytes(32)
        (self.workdir / ".k").mkdir(exist_ok=True)
        key_file = self.workdir / ".k" / f"guard-{secrets.token_hex(6)}"
        key_file.write_bytes(key)
        if self.job.mpl_cache and Path(self.job.mpl_cache).is_dir():
            shutil.copytree(self.job.mpl_cache, self.workdir / ".mplconfig", dirs_exist_ok=True)
        roots = [str(self.workdir)] + ([str(Path(world).resolve())] if world else [])
        spec = SandboxSpec(workdir=self.workdir, uid=self.uid, limits=limits, world=Path(world) if world else None,
                           env={KEY_FILE_ENV: str(key_file), ALLOWED_ROOTS_ENV: os.pathsep.join(roots),
                                WATCH_ROOTS_ENV: str(Path(self.job.course_root).resolve())})
        spec.prepare()
        executor = GuardedExecute(spec, key, limits, deadline, names=self.names, config=self.config)
        try:
            executor.preprocess(nb, resources)
        except Exception as exc:  # noqa: BLE001 - the kernel could not start or the grader broke: keep going
            executor.flags.append(f"grader-error:{type(exc).__name__}")
            executor.dead = f"the grader failed: {type(exc).__name__}: {str(exc)[:200]}"
            executor.nb = nb
            for index, cell in enumerate(nb.cells):
                if nbutils.is_grade(cell) and cell.cell_type == "code" and not cell.get("outputs"):
                    cell.outputs = [_error("NotRun", f"not run: {executor.dead}")]
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
    """Pin ``DATA_DIR`` after the parameters cell, as papermill does, so a submission grades on its own world."""
    first = next((c for c in release.cells if c.cell_type == "code"), None)
    if first is None or "parameters" not in first.metadata.get("tags", []) or "DATA_DIR" not in first.source:
        return
    position = next((i + 1 for i, c in enumerate(nb.cells)
                     if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(position, nbformat.v4.new_code_cell(INJECTED, metadata={"tags": ["injected-parameters"]}))


def release_imports(release: NotebookNode) -> dict[str, str]:
    """Names the release's own cells (not the answer cells) import: ``{"np": "numpy", "Counter": "collections.Counter"}``."""
    names: dict[str, str] = {}
    for cell in release.cells:
        if cell.cell_type != "code" or nbutils.is_solution(cell):
            continue
        try:
            tree = ast.parse(integrity.to_python(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        names[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


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

            result = {"student": student, "status": "error", "flags": [f"grader-error:{type(exc).__name__}"],
                      "notebooks": {}, "message": traceback.format_exc()[-2000:]}
        conn.send(("result", result))
