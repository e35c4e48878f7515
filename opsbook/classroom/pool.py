"""Worker pools that grade submissions in parallel: forked processes here, or the workers of a Dask cluster.

A pool takes submissions and calls ``on_result(submission, result, seconds)``
in the parent process for each one, in the order they finish. ``result`` is the
worker's dict (``Worker.grade``), or ``{"status": "timeout"|"crashed", ...}``
when the worker overran its deadline or died; a dead or late worker is replaced
and the run goes on. Only the parent writes anything. ``LocalPool`` is the
default; ``DaskPool`` (``opsbook class grade --scheduler ADDRESS``) hands the
same work to a Dask ``distributed`` cluster.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from opsbook.classroom.course import ClassGradingError, Submission
from opsbook.classroom.status import Status
from opsbook.classroom.worker import Assignment

OnResult = Callable[[Submission, dict, float], None]
MAX_STARTS = 3


class _Slot:
    """One worker process and the submission it is grading."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, job: Assignment, index: int, uid: int,
                 workroot: Path):
        from opsbook.classroom.worker import worker_main

        self.index, self.uid = index, uid
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, job, index, uid, str(workroot)),
                                   name=f"opsbook-grader-{index}", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.task: Submission | None = None
        self.deadline = 0.0
        self.started = 0.0

    def send(self, submission: Submission, timeout: float) -> None:
        self.task = submission
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.conn.send((submission.student, str(submission.folder),
                        str(submission.world) if submission.world else None))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()


class LocalPool:
    """``workers`` forked processes on this machine, each with its own sandbox user (``uid_base + i``)."""

    def __init__(self, job: Assignment, workers: int, uid_base: int, workroot: Path, timeout: float):
        # fork: a worker starts with nbgrader already imported (spawn would import it again, seconds per worker).
        self.ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        self.job, self.workers, self.uid_base, self.workroot, self.timeout = job, workers, uid_base, workroot, timeout

    def run(self, submissions: list[Submission], on_result: OnResult) -> None:
        """Grade every submission; returns when all are done (or raises ``ClassGradingError``)."""
        pending = list(submissions)
        starts: Counter = Counter()
        slots = [self._start(i) for i in range(max(1, min(self.workers, len(pending))))]
        try:
            while pending or any(s.task for s in slots):
                for slot in slots:
                    if slot.ready and slot.task is None and pending:
                        slot.send(pending.pop(0), self.timeout)
                ready = wait([s.conn for s in slots] + [s.process.sentinel for s in slots], timeout=1.0)
                for i, slot in enumerate(slots):
                    if self._step(slot, ready, on_result):
                        continue
                    if slot.task is None and not slot.ready:
                        starts[i] += 1
                        if starts[i] > MAX_STARTS:
                            raise ClassGradingError("a grading worker cannot start; run `opsbook class grade` "
                                                    "with --workers 1 to see why")
                    slot.kill()
                    slots[i] = self._start(i)
        finally:
            for slot in slots:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
            for slot in slots:
                slot.process.join(5)
                slot.kill()

    def _start(self, index: int) -> _Slot:
        return _Slot(self.ctx, self.job, index, self.uid_base + index, self.workroot)

    @staticmethod
    def _step(slot: _Slot, ready: list, on_result: OnResult) -> bool:
        """Handle what ``slot`` sent; False when the slot must be replaced (dead, late or never started)."""
        message = None
        if slot.conn in ready:
            try:
                message = slot.conn.recv()
            except (EOFError, OSError):
                message = None
        if message and message[0] == "ready":
            slot.ready = True
            return True
        if message and message[0] == "result":
            submission, slot.task = slot.task, None
            on_result(submission, message[1], time.monotonic() - slot.started)
            return True
        died = not slot.process.is_alive() or (message is None and slot.conn in ready)
        late = slot.task is not None and time.monotonic() > slot.deadline
        if not died and not late:
            return True
        if slot.task is not None:
            status = Status.TIMEOUT if late else Status.CRASHED
            submission, slot.task = slot.task, None
            on_result(submission, {"status": status, "notebooks": {}, "flags": [f"{status}:worker"]},
                      time.monotonic() - slot.started)
        return False


# --------------------------------------------------------------------------- a Dask cluster
DASK_UID_BASE = 1_900_000   # sandbox users of Dask workers: DASK_UID_BASE + the worker's pid (below 100,000)
_GRADERS: dict[str, tuple] = {}   # in a Dask worker process: run token -> (Worker, its working folder)
_GRADING = threading.Lock()       # one submission at a time per Dask worker process (one sandbox user)


@dataclass(frozen=True)
class _Shipment:
    """What a Dask worker needs, by value: no path of the course has to exist on its machine."""

    job: Assignment
    gradebook: bytes                 # the read-only snapshot of the gradebook
    config: str | None               # the course's nbgrader config file, as text
    mpl: dict[str, bytes]            # the prepared matplotlib folder


class DaskPool:
    """Submissions graded on the workers of a Dask cluster (``distributed``), each like a ``LocalPool`` worker.

    A Dask worker process grades one submission at a time with ``Worker``: the same copy, checks, bubblewrap
    sandbox, limits and judge, as root, with a sandbox user of its own. Each submission's files travel by
    value, checked and filtered here as a local worker would copy them; per-student worlds must be at the
    same path on the workers (a shared volume). Results come back to this process, which alone writes the
    gradebook. A worker that dies is replaced by Dask and its submission is tried again elsewhere; one that
    kills three workers is recorded ``crashed``; when nothing finishes for ``timeout`` seconds the rest is
    recorded ``timeout``.
    """

    def __init__(self, job: Assignment, scheduler: str, timeout: float):
        self.job, self.scheduler, self.timeout = job, scheduler, timeout

    def run(self, submissions: list[Submission], on_result: OnResult) -> None:
        """Grade every submission; returns when all are done (or raises ``ClassGradingError``)."""
        import secrets

        from distributed import Client, as_completed

        token = secrets.token_hex(4)
        try:
            client = Client(self.scheduler, timeout=15, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClassGradingError(f"no Dask scheduler answers at {self.scheduler}: {exc}") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise ClassGradingError(f"the Dask scheduler at {self.scheduler} has no workers") from None
            [shipment] = client.scatter([self._shipment()], broadcast=True, hash=False)
            pending = {}
            for submission in submissions:
                files, flags = _pack(submission.folder)
                future = client.submit(grade_on_dask_worker, shipment, token, submission.student, files, flags,
                                       str(submission.world) if submission.world else None,
                                       key=f"grade-{token}-{submission.student}", pure=False)
                pending[future] = (submission, time.monotonic())
            finished = as_completed(list(pending), loop=client.loop)
            last = time.monotonic()
            try:
                while pending:
                    if not finished.has_ready():
                        if time.monotonic() - last > self.timeout:
                            for future, (submission, started) in list(pending.items()):
                                future.cancel()
                                del pending[future]
                                on_result(submission, {"status": Status.TIMEOUT, "notebooks": {},
                                                       "flags": ["timeout:worker"]}, time.monotonic() - started)
                            break
                        time.sleep(0.2)
                        continue
                    for future in finished.next_batch(block=False):
                        submission, started = pending.pop(future)
                        result = _outcome(future)   # its seconds: the grading itself, not the wait in line
                        on_result(submission, result, result.get("seconds") or time.monotonic() - started)
                        last = time.monotonic()
            finally:
                client.cancel(list(pending))
                try:
                    client.run(_forget, token)
                except OSError:
                    pass  # the cluster is gone: its workers took their folders with them

    def _shipment(self) -> _Shipment:
        job = self.job
        gradebook = Path(job.db_url.removeprefix("sqlite:///")).read_bytes()
        config = Path(job.config_file).read_text(encoding="utf-8") if job.config_file else None
        mpl = {}
        if job.mpl_cache and Path(job.mpl_cache).is_dir():
            mpl = {p.name: p.read_bytes() for p in Path(job.mpl_cache).iterdir() if p.is_file()}
        return _Shipment(job, gradebook, config, mpl)


def _pack(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """A submission's files as a local worker would copy them (same filter, same flags), by relative path."""
    import tempfile

    from opsbook.classroom.worker import copy_submission

    with tempfile.TemporaryDirectory(prefix="ob-pack-") as scratch:
        flags = copy_submission(folder, Path(scratch))
        files = {str(p.relative_to(scratch)): p.read_bytes() for p in Path(scratch).rglob("*") if p.is_file()}
    return files, flags


def _outcome(future) -> dict:  # noqa: ANN001 - a distributed Future
    """The worker's result dict, or what went wrong with the task."""
    from distributed import KilledWorker

    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return {"status": Status.TIMEOUT, "notebooks": {}, "flags": ["timeout:worker"]}
    exc = future.exception()
    if isinstance(exc, KilledWorker):
        return {"status": Status.CRASHED, "notebooks": {}, "flags": ["crashed:worker"], "message": str(exc)}
    return {"status": Status.ERROR, "notebooks": {}, "flags": [f"grader-error:{type(exc).__name__}"],
            "message": str(exc)[-2000:]}


def grade_on_dask_worker(shipment: _Shipment, token: str, student: str, files: dict[str, bytes], flags: list[str],
                         world: str | None) -> dict:
    """Run in a Dask worker: grade one submission with this process's ``Worker`` (made on first use)."""
    import shutil
    import traceback

    with _GRADING:
        try:
            worker, workroot = _GRADERS.get(token) or _start_grader(shipment, token)
        except Exception as exc:  # noqa: BLE001 - no sandbox here, say why; the next run tries again
            return {"student": student, "status": Status.ERROR, "notebooks": {},
                    "flags": [f"grader-error:{type(exc).__name__}"], "message": str(exc)[:2000]}
        if world and not (Path(world) / "users.csv.gz").is_file():
            return {"student": student, "status": Status.NO_WORLD, "notebooks": {},
                    "flags": [f"no-world:{world} (not on the Dask worker's machine)"]}
        inbox = workroot / "in"
        shutil.rmtree(inbox, ignore_errors=True)
        for name, data in files.items():
            (inbox / name).parent.mkdir(parents=True, exist_ok=True)
            (inbox / name).write_bytes(data)
        try:
            result = worker.grade(student, str(inbox), world)
        except Exception as exc:  # noqa: BLE001 - report, never die on one submission
            result = {"student": student, "status": Status.ERROR, "flags": [f"grader-error:{type(exc).__name__}"],
                      "notebooks": {}, "message": traceback.format_exc()[-2000:]}
        finally:
            shutil.rmtree(inbox, ignore_errors=True)
        result["flags"] = flags + result["flags"]
        return result


def _start_grader(shipment: _Shipment, token: str) -> tuple:
    """This Dask worker's ``Worker`` for the run ``token``: its folder, the gradebook copy, its sandbox user."""
    import asyncio
    import dataclasses
    import os
    import tempfile
    import warnings

    from opsbook.classroom.worker import Worker
    from opsbook.grading.sandbox import unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"the sandbox cannot run on this Dask worker: {reason}")
    os.environ.pop("OPSBOOK_DATA_DIR", None)
    warnings.simplefilter("ignore")  # as in a local worker: notices about submissions are not the instructor's
    asyncio.set_event_loop(asyncio.new_event_loop())
    workroot = Path(tempfile.mkdtemp(prefix=f"ob-{os.getpid()}-dask-", dir="/tmp"))
    os.chmod(workroot, 0o711)
    (workroot / "gradebook.db").write_bytes(shipment.gradebook)
    job = dataclasses.replace(shipment.job, db_url=f"sqlite:///{workroot / 'gradebook.db'}", mpl_cache=None)
    if shipment.config is not None:
        config = workroot / "autograder" / "nbgrader_config.py"
        config.parent.mkdir()
        config.write_text(shipment.config, encoding="utf-8")
        job = dataclasses.replace(job, config_file=str(config))
    if shipment.mpl:
        (workroot / "mpl").mkdir()
        for name, data in shipment.mpl.items():
            (workroot / "mpl" / name).write_bytes(data)
        job = dataclasses.replace(job, mpl_cache=str(workroot / "mpl"))
    _GRADERS[token] = Worker(job, 0, DASK_UID_BASE + os.getpid() % 100_000, workroot), workroot
    return _GRADERS[token]


def _forget(token: str) -> None:
    """Run on every Dask worker at the end: remove the run's working folder."""
    import shutil

    with _GRADING:
        entry = _GRADERS.pop(token, None)
        if entry:
            shutil.rmtree(entry[1], ignore_errors=True)
