"""Worker pools that grade submissions in parallel: the local pool of forked processes.

A pool takes submissions and calls ``on_result(submission, result, seconds)``
in the parent process for each one, in the order they finish. ``result`` is the
worker's dict (``Worker.grade``), or ``{"status": "timeout"|"crashed", ...}``
when the worker overran its deadline or died; a dead or late worker is replaced
and the run goes on. Only the parent writes anything.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable
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
