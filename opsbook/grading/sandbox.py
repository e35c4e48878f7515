"""The sandbox a submission's kernel runs in: bubblewrap, an unprivileged user, resource limits.

Only the kernel runs submitted code, so only the kernel is sandboxed; the grader
that drives it and judges its test cells (``SandboxedExecute``, in the grading
process) stays outside and talks to it over Unix sockets in the submission's
working folder. Class grading (``opsbook class grade``) and self-grading
(``opsbook grade``) both use it. The kernel is started as

    bwrap  <a new root that shows only: /usr /etc (read-only), the Python runtime,
            the opsbook package, this student's world (read-only) and the
            working folder (the only writable place); fresh /tmp, /dev, /proc>
           --unshare-pid --unshare-net --unshare-ipc --unshare-uts --die-with-parent --new-session
      setpriv --reuid UID --regid UID --clear-groups --bounding-set=-all --no-new-privs
        prlimit --as=MEMORY --nproc=N --fsize=... --nofile=... --core=0
          python -m ipykernel_launcher -f <connection file>

so the gradebook, the solutions, other submissions, other worlds and the rest of
the course do not exist inside it; there is no network; the kernel runs as a
user of its own (one per worker slot: ``RLIMIT_NPROC`` counts that user's
processes, so a process flood stops at the limit) with no capabilities; every
process has an address-space limit; and all of it dies with the grader.

bwrap needs root (or unprivileged user namespaces) to build the mounts; the
class grader runs as root in CI and on these machines. ``unavailable_reason``
says why it cannot run anywhere else.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError
from nbformat import NotebookNode, v4

from opsbook.grading.judge import SAFE_START, JudgedExecute, error_output

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults suit a 2-core teaching server."""

    cell_timeout: int = 120          # seconds a cell may run before it is interrupted (nbgrader's Execute.timeout)
    timeout: int = 900               # seconds for the whole submission (all its notebooks), then it is killed
    memory_mb: int = 4096            # address space of each process in the sandbox (RLIMIT_AS, virtual memory)
    nproc: int = 64                  # processes and threads of the sandbox user (RLIMIT_NPROC)
    fsize_mb: int = 256              # largest file a submission may write (RLIMIT_FSIZE)
    nofile: int = 512                # open files per process
    output_kb: int = 512             # output kept per cell; the rest is dropped and flagged
    notebook_output_kb: int = 4096   # output kept per notebook


@dataclass
class SandboxSpec:
    """Where one kernel runs: its working folder, its world, its user."""

    workdir: Path                    # writable, the kernel's cwd and HOME; holds the sockets
    uid: int | None                  # the sandbox user (one per worker slot); None keeps this process's user
    limits: Limits = field(default_factory=Limits)
    world: Path | None = None        # the student's world (read-only), exported as OPSBOOK_DATA_DIR
    env: dict[str, str] = field(default_factory=dict)
    mpl_dir: str | None = None       # a matplotlib folder the grader prepared inside workdir (fonts not rebuilt)

    def exposed(self) -> list[Path]:
        """Read-only paths besides the system: the Python runtime, the opsbook package, the world."""
        import opsbook
        from opsbook.data import DEFAULT_DATA_DIR

        paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
                 Path(opsbook.__file__).resolve().parent}
        paths.add(Path(self.world).resolve() if self.world else DEFAULT_DATA_DIR.resolve())
        paths.add(Path(sys.executable).resolve().parent.parent)  # the interpreter a venv's python points to
        return sorted(_outermost(p for p in paths if p.exists()))

    def command(self, cmd: list[str]) -> list[str]:
        """``cmd`` wrapped in bwrap, setpriv and prlimit."""
        limits = self.limits
        args = ["bwrap"]
        for top in SYSTEM_DIRS:
            path = Path(top)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), top]
            elif path.is_dir():
                args += ["--ro-bind", top, top]
        made: set[str] = {"/", "/tmp"}
        workdir = Path(self.workdir).resolve()
        args += ["--dev", "/dev", "--proc", "/proc", "--perms", "01777", "--tmpfs", "/tmp",
                 "--perms", "01777", "--dir", "/tmp/home"]
        for path in self.exposed():
            args += _parents(path, made) + ["--ro-bind", str(path), str(path)]
        args += _parents(workdir, made) + ["--bind", str(workdir), str(workdir)]
        args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--die-with-parent", "--new-session", "--chdir", str(workdir), "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        if self.uid is not None:
            args += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        # RLIMIT_NPROC counts every process of the user: only a user of the sandbox's own can be limited
        # without counting a learner's browser and desktop (self-grading keeps the learner's user).
        nproc = [f"--nproc={limits.nproc}"] if self.uid is not None or os.geteuid() == 0 else []
        args += ["prlimit", f"--as={limits.memory_mb * 1024 * 1024}", *nproc,
                 f"--fsize={limits.fsize_mb * 1024 * 1024}", f"--nofile={limits.nofile}", "--core=0", "--"]
        return args + cmd

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp/home",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "IPYTHONDIR": "/tmp/home/.ipython",
            "JUPYTER_CONFIG_DIR": "/tmp/home/.jupyter",
            "JUPYTER_DATA_DIR": "/tmp/home/.local/share/jupyter",
            "MPLCONFIGDIR": self.mpl_dir or "/tmp/home/.matplotlib",
            **SAFE_START,
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_MAX_THREADS": "1",
            # RLIMIT_AS counts reserved address space: Arrow's default allocator (mimalloc) reserves about
            # 1 GB up front and glibc 64 MB per thread arena, which a memory limit would mistake for use.
            "ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "NBGRADER_EXECUTION": "autograde",
        }
        if os.environ.get("TZ"):
            env["TZ"] = os.environ["TZ"]
        if self.world:
            env["OPSBOOK_DATA_DIR"] = str(Path(self.world).resolve())
        env.update(self.env)
        return env

    def prepare(self) -> None:
        """Create the working folder and hand it to the sandbox user."""
        if self.uid is None:
            Path(self.workdir).mkdir(parents=True, exist_ok=True)
        else:
            chown_tree(self.workdir, self.uid)


def _outermost(paths) -> list[Path]:  # noqa: ANN001
    """Drop paths inside another path of the set (binding the outer one is enough)."""
    kept: list[Path] = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _parents(path: Path, made: set[str]) -> list[str]:
    """bwrap arguments creating the (world-readable) folders above ``path`` in the new root."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) not in made:
            made.add(str(parent))
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def chown_tree(root: Path, uid: int) -> None:
    """Give ``root`` and everything in it to ``uid`` (no symlinks are followed)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, uid, uid, follow_symlinks=False)
    os.chmod(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


@functools.lru_cache(maxsize=2)
def unavailable_reason(switch_user: bool = True) -> str | None:
    """None if bwrap sandboxes work here, else why not (missing tool, not root, no namespaces).

    ``switch_user=False`` asks for a sandbox that keeps this process's user (self-grading).
    """
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not found: install the Debian packages bubblewrap and util-linux "
                "(`apt-get install bubblewrap`, or `make sandbox` as root)")
    if switch_user and os.geteuid() != 0:
        return "the class grader's sandbox switches each kernel to its own user, which needs root"
    probe = SandboxSpec(workdir=Path("/tmp"), uid=65534 if switch_user else None)
    cmd = probe.command([sys.executable, "-c", "import os; print(os.getuid())"])
    cmd = [a for a in cmd if a not in ("--new-session",)]
    i = cmd.index("--bind")
    cmd[i:i + 3] = []  # no writable folder needed for the probe
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if out.returncode != 0 or out.stdout.strip() != (str(65534) if switch_user else str(os.getuid())):
        return f"bwrap could not start a sandbox: {(out.stderr or out.stdout).strip()[:300]}"
    return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in ``self.sandbox`` over Unix sockets.

    Set ``sandbox`` (a ``SandboxSpec``) before starting. Interrupts go as
    messages on the control channel (a signal to the process group would reach
    bwrap, not the kernel), and the kernel's own stdout and stderr (not the
    notebook's outputs) are discarded, so writing to file descriptor 1 cannot
    flood the grader.
    """

    sandbox: SandboxSpec | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        assert self.sandbox is not None, "set the sandbox before starting the kernel"
        return self.sandbox.command(cmd)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        kw["stdout"] = subprocess.DEVNULL
        kw["stderr"] = subprocess.DEVNULL
        kw["stdin"] = subprocess.DEVNULL
        kw["cwd"] = str(self.sandbox.workdir)
        if self.sandbox.uid is not None:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)  # the kernel reads it as its own user
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_interrupt_kernel(self) -> None:
        if not self.has_kernel:
            return
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel


class SandboxedExecute(JudgedExecute):
    """``JudgedExecute`` with the kernel in a ``SandboxSpec`` sandbox, a deadline for the whole notebook,
    and a cap on what the kernel may print; what went wrong is collected in ``flags``."""

    def __init__(self, sandbox: SandboxSpec | None = None, deadline: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.sandbox = sandbox
        self.deadline = deadline
        self._printed = 0
        self._cut: set[int] = set()

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, dict]:
        if self.sandbox is None:  # made by nbgrader from the configuration (self-grading): this user, this world
            folder = Path((resources or {}).get("metadata", {}).get("path") or ".").resolve()
            self.sandbox = SandboxSpec(workdir=folder, uid=None, world=Path(self.world_for(nb).dir))
            self.sandbox.prepare()
        return super().preprocess(nb, resources, km)

    def exchange_owner(self) -> int | None:
        return self.sandbox.uid

    def kernel_environment(self) -> dict[str, str]:
        return {}  # the sandbox sets the kernel's whole environment (bwrap --clearenv)

    def create_kernel_manager(self) -> SandboxedKernelManager:
        sockets = Path(self.sandbox.workdir) / ".k"
        sockets.mkdir(exist_ok=True)
        if self.sandbox.uid is not None:
            os.chown(sockets, self.sandbox.uid, self.sandbox.uid)
        km = SandboxedKernelManager(kernel_name="python3", config=self.config, transport="ipc",
                                    ip=str(sockets / "kernel"), connection_file=str(sockets / "kernel.json"))
        km.sandbox = self.sandbox
        self.kernel_name = "python3"
        self.km = km
        return km

    async def kernel_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None,
                          store_history: bool) -> NotebookNode:
        import time

        if self.deadline is not None and time.monotonic() > self.deadline and self.dead is None:
            self.flag(f"time-limit:{self.label}")
            self.dead = f"the notebook ran out of time ({self.sandbox.limits.timeout} s)"
        if self.dead is not None:
            cell.outputs = []
            return cell
        try:
            cell = await super().kernel_cell(cell, cell_index, execution_count, store_history)
        except CellTimeoutError:
            cell.outputs.append(error_output("CellTimeoutError", f"stopped after {self.timeout} s"))
        if any(o.output_type == "error" and o.ename in ("CellTimeoutError", "KeyboardInterrupt") for o in cell.outputs):
            await self._interrupt()  # a kernel that ignores the interrupt is stopped, and the rest is judged
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            if output.ename in ("CellTimeoutError", "KeyboardInterrupt"):
                self.flag(f"timeout:{self.label}")
            elif output.ename == "MemoryError":
                self.flag(f"memory-limit:{self.label}")
            elif output.ename == "BlockingIOError" or "Resource temporarily unavailable" in str(output.evalue):
                self.flag(f"process-limit:{self.label}")
            elif output.ename == "DeadKernelError":
                self.flag(f"kernel-died:{self.label}")
        return cell

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        self._printed += size
        if msg.get("msg_type") == "error" or self._printed <= self.sandbox.limits.notebook_output_kb * 1024:
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self._cut:
            self._cut.add(cell_index)
            self.flag(f"output-flood:{self.label}")
            limit = self.sandbox.limits.notebook_output_kb
            outs.append(v4.new_output("stream", name="stdout",
                                      text=f"\n[... the grader cut the output here: more than {limit} kB ...]\n"))
        return None
