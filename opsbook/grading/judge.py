"""Verdicts computed outside the learner's kernel.

nbgrader scores a test cell by its outputs: no error, full points. When the
test runs in the learner's kernel, the learner's code can fake that (forge the
kernel's reply, rewrite the test, read the expected value from the test's frame,
patch the checks). Here the kernel never runs a test cell. ``JudgedExecute``, a
drop-in for nbgrader's ``Execute`` preprocessor, executes every other cell in the
kernel as usual, and runs each test cell (its visible and hidden part) in the
grader's own process:

* the test's names resolve to the grader's own modules (``pd``, ``np``,
  ``check`` …, imported as the notebook's locked cells import them) and to
  ``world``, the tables read from the world on disk by the grader;
* any other name is the learner's: a function becomes a remote call, a value is
  fetched. A remote call sends its arguments as plain data (a world table as a
  reference the kernel reads from disk), the kernel calls the learner's function
  (``opsbook.kernel.probe``) and hands back plain data (``opsbook.kernel.plain``);
* the test's result becomes the cell's outputs: what it printed, and one line
  with the first failure. ``SaveAutoGrades`` then scores the cell as usual.

The kernel only ever sees requests to call the learner's own functions, so no
expected value, hidden test or check exists inside it. The same test code runs
unchanged in the kernel when a solution notebook is executed with papermill.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import io
import json
import os
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode, v4
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from opsbook import language
from opsbook.kernel import plain

MAX_ANSWER_BYTES = 256 * 1024 * 1024
PROBE_CODE = "__import__('opsbook.kernel.probe', fromlist=['serve']).serve({path!r})"
INTERRUPT_GRACE = 10.0
# Python ignores the working folder on sys.path (no module of the submission shadows ipykernel, pandas ...),
# the user site and startup files; IPython ignores the working folder too (extra_arguments add ignore_cwd).
SAFE_START = {"PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1", "PYTHONSTARTUP": "", "PYTHONPATH": ""}


_TEXT = {
    "unfinished": {"en": "{name} is not written yet (it raises NotImplementedError): replace that line with your code",
                   "zh": "{name} 还没有写（它抛出 NotImplementedError）：把那一行换成你的代码"},
    "raised": {"en": "{name} raised {error}: {message}", "zh": "{name} 抛出了 {error}：{message}"},
    "unreadable": {"en": "the answer of {name} could not be read: {error}", "zh": "读不出 {name} 的答案：{error}"},
    "timeout": {"en": "ran longer than the time limit and was stopped", "zh": "运行超过时限，已被停止"},
    "no_answer": {"en": "the notebook's kernel gave no answer (something in the notebook interfered with grading)",
                  "zh": "笔记本的内核没有给出答案（笔记本里有代码干扰了评分）"},
    "dead": {"en": "the notebook's kernel stopped (it crashed, exited, or ran out of memory)",
             "zh": "笔记本的内核停止了（崩溃、退出或内存不足）"},
}


class AnswerError(Exception):
    """The learner's code did not give an answer (it raised, timed out, or the kernel is gone)."""


# --------------------------------------------------------------------------- the world on disk
class JudgeWorld(Mapping):
    """The world's tables, read by the grader from disk when a test first uses them.

    Tables are cached per process for the last ``KEEP`` worlds (a class graded on per-student worlds
    moves from world to world; a course graded on one world reads it once).
    """

    KEEP = 2
    _cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def __init__(self, data_dir: str | Path | None):
        from opsbook.data import resolve_data_dir

        self.dir = str(resolve_data_dir(data_dir).resolve())
        manifest = Path(self.dir) / "MANIFEST.sha256"
        self._key = (self.dir, manifest.read_text(encoding="utf-8") if manifest.is_file() else "")

    @property
    def period(self) -> Any:
        """The days the world covers (``opsbook.data.Period``), as ``load_world(...).period``."""
        from opsbook.data import data_period

        return data_period(self.dir)

    def _tables(self) -> dict[str, Any]:
        tables = self._cache.setdefault(self._key, {})
        self._cache.move_to_end(self._key)
        while len(self._cache) > self.KEEP:
            self._cache.popitem(last=False)
        return tables

    def __getitem__(self, name: str) -> Any:
        from opsbook.data import load_table

        tables = self._tables()
        if name not in tables:
            tables[name] = load_table(name, self.dir)
        return tables[name]

    def __iter__(self) -> Iterator[str]:
        from opsbook.world.schema import TABLE_ORDER

        return iter(TABLE_ORDER)

    def __len__(self) -> int:
        from opsbook.world.schema import TABLE_ORDER

        return len(TABLE_ORDER)

    def name_of(self, obj: Any) -> str | None:
        """The table's name if ``obj`` is one of this world's tables (the very object), else None."""
        return next((name for name, table in self._cache.get(self._key, {}).items() if table is obj), None)


# --------------------------------------------------------------------------- the exchange folder
class Exchange:
    """A folder both sides can reach: requests written by the grader, answers by the kernel.

    The grader keeps a descriptor of the folder, so renaming or replacing it (or
    a file in it by a link) from inside the kernel cannot redirect what it reads or writes.
    """

    def __init__(self, parent: Path, owner: int | None = None):
        self.path = Path(parent) / f".opsbook-exchange-{secrets.token_hex(6)}"
        self.path.mkdir(mode=0o700)
        if owner is not None:
            os.chown(self.path, owner, owner)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def request(self, payload: dict) -> tuple[str, str]:
        """Write a request; return (its path, the answer file's name)."""
        token = secrets.token_hex(8)
        answer = f"a-{token}.json"
        payload = {**payload, "answer": str(self.path / answer)}
        name = f"r-{token}.json"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=self.fd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        return str(self.path / name), answer

    def answer(self, name: str) -> dict | None:
        """The kernel's answer file, or None when there is none (or it is not a plain file of sane size)."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_mode & 0o170000 != 0o100000 or info.st_size > MAX_ANSWER_BYTES:
                return None
            text = handle.read(MAX_ANSWER_BYTES + 1)
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("format") == plain.FORMAT else None

    def close(self) -> None:
        import shutil

        os.close(self.fd)
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------- the test's namespace
class RemoteFunction:
    """A learner's function as a test sees it: calling it asks the kernel."""

    def __init__(self, link: KernelLink, name: str):
        self._link, self.__name__ = link, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<the notebook's {self.__name__}>"


_BUILTINS = vars(builtins)


class CellNamespace(dict):
    """Globals of a test cell: the grader's names first; any other name is looked up in the kernel."""

    def __init__(self, base: dict, link: KernelLink):
        super().__init__(base)
        self._link = link

    def __missing__(self, name: str) -> Any:
        if name in _BUILTINS:
            return _BUILTINS[name]
        if name.startswith("__"):
            raise KeyError(name)
        value = self._link.resolve(name)
        self[name] = value
        return value


def grader_imports(cells: list[NotebookNode]) -> dict[str, Any]:
    """Import, in the grader, what the notebook's locked cells import (``import numpy as np`` …)."""
    import importlib

    names: dict[str, Any] = {}
    for cell in cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("locked") \
                or nbutils.is_solution(cell) or nbutils.is_grade(cell):
            continue
        try:
            tree = ast.parse(_python(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module = importlib.import_module(alias.name)
                    if alias.asname:
                        names[alias.asname] = module
                    else:
                        names[alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    try:
                        names[alias.asname or alias.name] = getattr(module, alias.name)
                    except AttributeError:
                        names[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
    return names


def _python(source: str) -> str:
    """Cell source with IPython magics and shell escapes blanked out, so ``ast`` can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


# --------------------------------------------------------------------------- the link to the kernel
class KernelLink:
    """Calls into the kernel from a test running in a thread of the grader."""

    def __init__(self, executor: JudgedExecute, loop: asyncio.AbstractEventLoop, deadline: float):
        self.executor, self.loop, self.deadline = executor, loop, deadline

    def resolve(self, name: str) -> Any:
        kind = self._ask({"op": "describe", "name": name})
        return RemoteFunction(self, name) if kind == "callable" else self._ask({"op": "value", "name": name})

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        return self._ask({"op": "call", "name": name, "args": [self._argument(a) for a in args],
                          "kwargs": {str(k): self._argument(v) for k, v in kwargs.items()}})

    def _argument(self, value: Any) -> dict:
        table = self.executor.world.name_of(value)
        if table is not None:
            return {"world": table, "dir": self.executor.world.dir}
        return {"plain": plain.encode(value)}

    def _ask(self, request: dict) -> Any:
        future = asyncio.run_coroutine_threadsafe(self.executor.ask_kernel(request, self.deadline), self.loop)
        answer = future.result()
        if "error" in answer:
            error = answer["error"]
            kind = error.get("type", "Exception")
            key = "unfinished" if kind == "NotImplementedError" else "raised"
            raise AnswerError(language.pick(_TEXT[key], name=request["name"], error=kind,
                                            message=error.get("message", "")).rstrip(": ："))
        try:
            return plain.decode(answer["ok"])
        except (plain.PlainDataError, KeyError, TypeError, ValueError) as exc:
            raise AnswerError(language.pick(_TEXT["unreadable"], name=request["name"], error=exc)) from None


# --------------------------------------------------------------------------- the preprocessor
class JudgedExecute(Execute):
    """nbgrader's ``Execute``, with every test cell run by the grader instead of the kernel."""

    data_dir = Unicode("", help="The world the tests read (default: $OPSBOOK_DATA_DIR, else datasets/).").tag(
        config=True)
    language = Unicode("", help="Language of check messages: en or zh (default: the notebook's).").tag(config=True)
    judge_grace = Integer(30, help="Seconds a test may take beyond its calls into the kernel.").tag(config=True)

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.world: JudgeWorld | None = None
        self.exchange: Exchange | None = None
        self.flags: list[str] = []
        self.label = ""                # the cell being run (grade_id or "cell N"), for flags
        self.dead: str | None = None
        self._answered: set[str] = set()
        self._sent: dict[str, str] = {}   # request msg_id -> the cell it ran for
        self._base: dict | None = None

    # -- set-up -------------------------------------------------------------------------
    def exchange_owner(self) -> int | None:
        """The user the kernel runs as, when it is not this process's (the sandbox sets it)."""
        return None

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, dict]:
        with self.session(nb, resources, km):
            for index, cell in enumerate(self.nb.cells):
                self.preprocess_cell(cell, resources, index)
            self.set_widgets_metadata()
        return self.nb, self.resources

    @contextlib.contextmanager
    def session(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Iterator[JudgedExecute]:
        """A started kernel for ``nb``: run cells with ``execute_cell`` inside, as ``preprocess`` does."""
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.world = self.world_for(nb)
        self.reset_execution_trackers()
        self._check_assign_resources(resources or {})
        folder = Path((resources or {}).get("metadata", {}).get("path") or ".").resolve()
        self.exchange = Exchange(folder, self.exchange_owner())
        self._base = None
        self.dead = None
        self._homes: list[str] = []
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                if info:
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                yield self
        finally:
            self.exchange.close()
            for home in self._homes:
                shutil.rmtree(home, ignore_errors=True)

    def judge_language(self) -> str:
        return self.language or self.nb.metadata.get("opsbook", {}).get("language", "en")

    def base_namespace(self) -> dict:
        if self._base is None:
            import numpy
            import pandas

            import opsbook.check

            self._base = {"__builtins__": builtins, "__name__": "__test__", "pd": pandas, "np": numpy,
                          **grader_imports(self.nb.cells), "world": self.world, "check": opsbook.check}
        return self._base

    def world_for(self, nb: NotebookNode) -> JudgeWorld:
        """The world the tests read: the configured one, else ``$OPSBOOK_DATA_DIR``, else the default world
        of the notebook's language edition."""
        from opsbook.data import DATA_DIR_ENV, edition_world

        lang = nb.metadata.get("opsbook", {}).get("language", "en")
        return JudgeWorld(self.data_dir or os.environ.get(DATA_DIR_ENV) or edition_world(lang))

    def kernel_environment(self) -> dict[str, str]:
        """What the kernel starts with: the tests' world, and nothing from the submission's folder imported or
        run at start."""
        import tempfile

        from opsbook.data import DATA_DIR_ENV

        home = tempfile.mkdtemp(prefix="opsbook-kernel-home-")
        self._homes.append(home)  # removed when the session ends
        return {**os.environ, **SAFE_START, "IPYTHONDIR": os.path.join(home, ".ipython"),
                "JUPYTER_CONFIG_DIR": os.path.join(home, ".jupyter"), "HOME": home, DATA_DIR_ENV: self.world.dir}

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        kwargs.setdefault("env", self.kernel_environment())
        await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self) -> Any:
        client = await super().async_start_new_kernel_client()
        receive, send = client.shell_channel.get_msg, client.execute

        async def get_msg(*args: Any, **kw: Any) -> dict:
            msg = await ensure_async(receive(*args, **kw))
            self.note_reply(msg)
            return msg

        def execute(*args: Any, **kw: Any) -> str:
            msg_id = send(*args, **kw)
            self._sent[msg_id] = self.label
            return msg_id

        client.shell_channel.get_msg = get_msg
        client.execute = execute
        return client

    # nbclient binds these to its own coroutines at class creation: point them at the ones above.
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # -- cells --------------------------------------------------------------------------
    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        self.label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {cell_index + 1}"
        if nbutils.is_grade(cell) and not nbutils.is_solution(cell):
            return await self.judge_cell(cell)
        if self.dead is not None:
            cell.outputs = []
            return cell
        return await self.kernel_cell(cell, cell_index, execution_count, store_history)

    async def kernel_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None,
                          store_history: bool) -> NotebookNode:
        from nbclient.exceptions import DeadKernelError

        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self.dead = language.pick(_TEXT["dead"])
            cell.outputs.append(error_output("DeadKernelError", self.dead))
            return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the base coroutine at class creation

    async def judge_cell(self, cell: NotebookNode) -> NotebookNode:
        """Run the test cell in the grader; its outputs say what it printed and its first failure."""
        import opsbook.check

        deadline = time.monotonic() + (self.timeout or 120)
        link = KernelLink(self, asyncio.get_running_loop(), deadline)
        printed = io.StringIO()
        namespace = CellNamespace({**self.base_namespace(), "print": _printer(printed)}, link)
        lang = self.judge_language()
        opsbook.check.set_language(lang)

        def run() -> BaseException | None:
            opsbook.check.set_language(lang)
            try:
                exec(compile(cell.source, "<test cell>", "exec"), namespace)  # noqa: S102 - the course's own test
            except BaseException as exc:  # noqa: BLE001 - every failure is a verdict
                return exc
            return None

        failure = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, run),
                                         timeout=max(1.0, deadline - time.monotonic()) + self.judge_grace)
        cell.outputs = []
        if printed.getvalue():
            cell.outputs.append(v4.new_output("stream", name="stdout", text=printed.getvalue()))
        if failure is not None:
            cell.outputs.append(error_output(*describe_failure(failure)))
        cell.execution_count = None
        return cell

    # -- calls into the kernel ---------------------------------------------------------
    async def ask_kernel(self, request: dict, deadline: float) -> dict:
        """Have the kernel answer ``request``; the answer dict ({"ok": ...} or {"error": ...})."""
        if self.dead is not None:
            return {"error": {"type": "KernelNotRunning", "message": self.dead}}
        assert self.exchange is not None
        path, answer_name = self.exchange.request(request)
        msg_id = self.kc.execute(PROBE_CODE.format(path=path), silent=True, store_history=False,
                                 allow_stdin=False, stop_on_error=False)
        reply = await self._reply(msg_id, deadline)
        if reply is None:
            if self.dead is not None:
                return {"error": {"type": "KernelNotRunning", "message": self.dead}}
            self.flag(f"timeout:{self.label}")
            await self._interrupt()
            return {"error": {"type": "TimeoutError", "message": language.pick(_TEXT["timeout"])}}
        answer = self.exchange.answer(answer_name)
        if answer is None or not isinstance(answer.get("answer"), dict):
            self.flag(f"probe-bypassed:{self.label}")
            return {"error": {"type": "NoAnswer", "message": language.pick(_TEXT["no_answer"])}}
        return answer["answer"]

    async def _reply(self, msg_id: str, deadline: float) -> dict | None:
        from queue import Empty

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not await ensure_async(self.km.is_alive()):
                self.dead = language.pick(_TEXT["dead"])
                return None
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=min(remaining, 1.0)))
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "execute_reply":
                return msg

    def note_reply(self, msg: dict) -> None:
        """Record a reply; a second reply to the same request was forged by the notebook."""
        if msg.get("msg_type") != "execute_reply":
            return
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent in self._answered or parent not in self._sent:
            self.flag(f"forged-reply:{self._sent.get(parent, self.label)}")
        self._answered.add(parent)

    async def _interrupt(self) -> None:
        """Stop what the kernel runs; a kernel that has not stopped after two interrupts is shut down."""
        msg_id = None
        for _ in range(2):  # on a loaded machine one interrupt can take a while to land
            try:
                await ensure_async(self.km.interrupt_kernel())
            except Exception:  # noqa: BLE001 - already gone
                pass
            msg_id = msg_id or self.kc.execute("", silent=True, store_history=False, allow_stdin=False)
            if await self._reply(msg_id, time.monotonic() + INTERRUPT_GRACE) is not None or self.dead is not None:
                return
        if self.dead is None:
            self.flag(f"unresponsive:{self.label}")
            self.dead = "the notebook's kernel did not stop after a timeout"
            try:
                await ensure_async(self.km.shutdown_kernel(now=True))
            except Exception:  # noqa: BLE001
                pass

    def flag(self, what: str) -> None:
        if what not in self.flags:
            self.flags.append(what)


def _printer(buffer: io.StringIO) -> Any:
    lock = threading.Lock()

    def test_print(*args: Any, sep: str | None = " ", end: str | None = "\n", **_: Any) -> None:
        with lock:
            buffer.write((sep if sep is not None else " ").join(map(str, args)) + (end if end is not None else "\n"))

    return test_print


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(ename, evalue) of a failed test: the check's message, or what the learner's code raised."""
    if isinstance(exc, AssertionError):
        return "AssertionError", str(exc) or "a check failed"
    if isinstance(exc, AnswerError):
        return "AnswerError", str(exc)
    if isinstance(exc, asyncio.TimeoutError):
        return "TimeoutError", "the test ran longer than the time limit"
    return type(exc).__name__, str(exc)[:500]


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output with a one-line traceback (nothing of the test's source)."""
    return v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
