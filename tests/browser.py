"""Browser tests' helpers: Debian's Chromium driven by Playwright, servers started as a user would, screenshots.

A browser test is marked ``@pytest.mark.browser`` and calls ``require_chromium()`` first: it skips, with
the reason, where Chromium cannot run (not root and no Chromium, or no Playwright), and fails where
``make browser`` would have installed it (root with apt-get) but did not. Playwright never downloads a
browser here: it drives the Chromium of ``$OPSBOOK_CHROMIUM`` or ``/usr/bin/chromium`` (``make browser``).

    with Server(["make", "lab"], cwd=clone, env=env) as server:
        url = server.wait_for_line(URL_PATTERN, timeout=240).group(0)
        with chromium(tmp_path) as browser:
            page = new_page(browser)
            with screenshots_on_failure(page, tmp_path):
                page.goto(url)

``Server`` starts the command in its own session, so stopping it (Ctrl-C as in a terminal, then
SIGTERM, then SIGKILL) reaches every process it started, and reports any that outlived it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

CHROMIUM_ENV = "OPSBOOK_CHROMIUM"
CHROMIUM_FLAGS = (
    "--no-sandbox",  # root cannot use Chromium's sandbox; the pages tested are our own, on loopback
    "--disable-gpu",
    # No internet here: without these Chromium waits on lookups of Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")


def chromium_executable() -> str | None:
    """The Chromium to drive: ``$OPSBOOK_CHROMIUM``, else ``chromium`` on the PATH (``make browser``)."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")


def require_chromium() -> str:
    """Chromium's path; skips the test, with the reason, where it cannot run, and fails where it should."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_executable()
    if executable:
        return executable
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail("Chromium is missing although `make browser` can install it here (root, apt-get): "
                    "run `make browser` (`make test` does)")
    pytest.skip("Chromium is missing and cannot be installed without root: sudo apt-get install chromium "
                f"(or set ${CHROMIUM_ENV})")


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator:
    """A headless Chromium (Playwright ``Browser``) with the flags this machine needs; closed afterwards.

    Its home is a folder of ``tmp_path``, so nothing lands in the real one.
    """
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    home = tmp_path / "chromium-home"
    home.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS),
                                             env={**os.environ, "HOME": str(home)}, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: object, timeout: float = 60, **context_options: object) -> object:
    """A page in a context of its own (its own cookies: one per user), ``timeout`` seconds for every action."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(timeout * 1000)
    return context.new_page()


@contextlib.contextmanager
def screenshots_on_failure(page: object, folder: Path, name: str = "failure") -> Iterator[None]:
    """On any exception inside, save ``<folder>/<name>.png`` (the whole page) and say where, then re-raise."""
    try:
        yield
    except BaseException as exc:
        path = Path(folder) / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True, timeout=15_000)
            exc.add_note(f"screenshot of the page: {path}")
        except Exception as shot:  # noqa: BLE001 - the original failure matters more
            exc.add_note(f"no screenshot ({shot})")
        raise


def wait_for_url(url: str, timeout: float = 60, *, process: subprocess.Popen | None = None) -> str:
    """The body of ``url`` once it answers 2xx; raises TimeoutError (or RuntimeError if ``process`` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError as exc:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}) before {url} answered") from exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({exc})") from exc
            time.sleep(0.5)


class Deadline:
    """One time budget for a whole test: ``left(cap)`` is the seconds a step may take (fails once spent)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def left(self, cap: float) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"the test's time budget of {self.seconds:.0f} s is spent")
        return min(cap, remaining)


def headless_environ(**changes: str | None) -> dict[str, str]:
    """This process's environment without a display (nor make's job server), with ``changes`` (None: unset)."""
    env = {k: v for k, v in os.environ.items()
           if k not in DISPLAY_VARIABLES and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Server:
    """A long-running command (``make lab``, ``jupyterhub``...) started as a user would, in its own session.

    Its standard output is read line by line (``lines``, ``wait_for_line``); standard error goes to
    ``log``. Leaving the ``with`` block stops it like Ctrl-C in a terminal (SIGINT to its process group),
    then SIGTERM, then SIGKILL to whatever is left of it, its descendants included (kernels start their
    own sessions), and fails the test if anything had to be killed or survived.
    """

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], log: Path,
                 stop_timeout: float = 45) -> None:
        self.command, self.cwd, self.env, self.log, self.stop_timeout = command, cwd, env, Path(log), stop_timeout
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self.process: subprocess.Popen | None = None
        self.stopped_in: float | None = None

    def __enter__(self) -> Server:
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._log_file, text=True,
                                        start_new_session=True, preexec_fn=_default_sigint)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        """The first match of ``pattern`` in a line of standard output; fails on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self._new_line:
            while True:
                for line in self.lines:
                    if match := re.search(pattern, line):
                        return match
                if self.process.poll() is not None and not self._reader.is_alive():
                    pytest.fail(f"{' '.join(self.command)} exited ({self.process.returncode}) before printing "
                                f"{pattern!r}:\n{self.output()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"{' '.join(self.command)} printed no {pattern!r} within {timeout:.0f} s:\n"
                                f"{self.output()}")
                self._new_line.wait(timeout=1)

    def output(self, tail: int = 40) -> str:
        """Standard output so far, then the end of standard error, for failure messages."""
        self._log_file.flush()
        log = self.log.read_text(errors="replace").splitlines()[-tail:]
        return "\n".join(["--- stdout", *self.lines, f"--- stderr (last {tail} lines of {self.log})", *log])

    def processes(self) -> list[psutil.Process]:
        """The command's process and all its descendants still running."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> float:
        """Stop it (see the class); returns the seconds it took. Fails if a process survived Ctrl-C."""
        if self.stopped_in is not None:
            return self.stopped_in
        started = time.monotonic()
        family = self.processes()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
        _, alive = psutil.wait_procs(family, timeout=self.stop_timeout)
        survivors = [f"{p.pid} {' '.join(_cmdline(p))}" for p in alive]
        for signum in (signal.SIGTERM, signal.SIGKILL):
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signum)
            _, alive = psutil.wait_procs(alive, timeout=10)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        self._log_file.close()
        self.stopped_in = time.monotonic() - started
        if survivors:
            pytest.fail("still running after Ctrl-C (killed now):\n" + "\n".join(survivors) + "\n" + self.output())
        return self.stopped_in

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.stop()
        else:  # the test failed already: clean up, report the first failure
            with contextlib.suppress(BaseException):
                self.stop()


def _default_sigint() -> None:
    """In the new process: Ctrl-C works even when this one ignores SIGINT (started in the background by a shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return ["?"]
