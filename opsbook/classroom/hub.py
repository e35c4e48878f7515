"""``opsbook class hub`` (``make classroom``): a classroom on this machine, and ``--stop`` to take it down.

    opsbook class hub --roster students.csv [--instructor NAME] [--worlds worlds]   # start, in the background
    opsbook class hub --stop                                                         # stop and remove what it made

Starting it, as root:

* creates a real Linux account for each student of the roster (nbgrader's
  ``students.csv``: id,first_name,last_name,email, and an optional ``password``
  column; missing passwords are generated and printed once) and one for the
  instructor, who joins the group ``opsbook-instructors``; an existing account
  is never taken over;
* lets the accounts pass through to the course environment (o+x, no listing,
  on the folders above the Python runtime and ``.venv`` that lack it) and
  closes what students must not read on a shared machine (solutions, hidden
  tests, answer keys, the gradebook, submissions, git history, build outputs)
  to everyone but root and that group, and opens the course's class folders
  to the group; of per-student worlds (``--worlds``) the answer keys and the
  salt are closed too, and each student's server reads its own world;
* makes nbgrader's exchange (default ``/srv/nbgrader/exchange``, nbgrader's
  own default, so the ``nbgrader`` commands of the course find it unchanged):
  the root world-writable with the sticky bit, the course folder shared with
  the group (nbgrader's ``groupshared``), ``inbound`` writable but not
  listable by students and sticky, so no one can remove another's submission;
* writes one Jupyter configuration folder per role (``JUPYTER_CONFIG_PATH`` of
  each single-user server, ahead of the environment's own settings that
  ``make lab`` writes): students get nbgrader's assignment list and Validate,
  the instructor the formgrader and the course list, with the course folder as
  the server's root;
* starts JupyterHub from the course environment: PAM login (the accounts'
  passwords), ``LocalProcessSpawner`` (each server runs as its user, from this
  ``.venv``), configurable-http-proxy from ``build/node_modules`` (``make
  classroom`` installs it from ``package-lock.json``), on 127.0.0.1:8000 unless
  told otherwise.

Everything made is written down in ``STATE/classroom.json`` as it is made, so
``--stop`` (also after a failed start) stops the hub, the proxy and every
process of the created accounts, deletes those accounts with their homes and
the group, removes the exchange it created and puts every changed permission
back. Grading stays a root command (``opsbook class grade``: its sandbox
switches users).
"""

from __future__ import annotations

import csv
import functools
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook.paths import ROOT

PROXY = ROOT / "build" / "node_modules" / ".bin" / "configurable-http-proxy"
STATE = Path("/srv/opsbook-classroom")
EXCHANGE = Path("/srv/nbgrader/exchange")
GROUP = "opsbook-instructors"
RECORD = "classroom.json"
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Never readable by a student while the classroom runs (the repository's; the course's class folders are added).
REPO_PRIVATE = (".git", "solutions", "autograder", "tests", "build", "bench")
STATE_FILES = (RECORD, "jupyterhub_config.py", "jupyterhub.sqlite", "jupyterhub_cookie_secret", "jupyterhub.log",
               "proxy.pid")
NBGRADER_LAB = ("formgrader", "course-list", "create-assignment", "assignment-list", "validate-assignment")
NBGRADER_SERVER = ("formgrader", "course_list", "assignment_list", "validate_assignment")
STUDENT_LAB = ("assignment-list", "validate-assignment")
STUDENT_SERVER = ("assignment_list", "validate_assignment")


class ClassroomError(RuntimeError):
    """The classroom cannot start (or stop); the message says what to do."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str          # "student" or "instructor"
    password: str


@dataclass(frozen=True)
class Classroom:
    """What to start: the roster, the instructor, the course and where the hub listens."""

    roster: Path
    instructor: str = "instructor"
    course: Path = ROOT
    worlds: Path | None = None
    ip: str = "127.0.0.1"
    port: int = 8000
    state: Path = STATE
    exchange: Path = EXCHANGE
    group: str = GROUP                 # the instructors' group (made, and removed at stop, if missing)

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.ip in ('0.0.0.0', '') else self.ip}:{self.port}"


def read_roster(path: Path, instructor: str) -> list[Account]:
    """The accounts to create: every student of nbgrader's ``students.csv`` (id column), then the instructor."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if (row.get("id") or "").strip()]
    accounts = [Account(row["id"].strip(), "student", (row.get("password") or "").strip() or _password())
                for row in rows]
    accounts.append(Account(instructor, "instructor", _password()))
    names = [a.name for a in accounts]
    bad = [n for n in names if not USERNAME.match(n)]
    if bad:
        raise ClassroomError(f"these ids cannot be Linux user names (a-z, 0-9, _ and -, 32 at most): {bad[:5]}")
    if len(set(names)) != len(names):
        raise ClassroomError(f"an id appears twice in {path} (or is the instructor's)")
    if any(":" in a.password or "\n" in a.password for a in accounts):
        raise ClassroomError("a password in the roster contains ':' or a line break")
    if len(accounts) == 1:
        raise ClassroomError(f"no student in {path} (a CSV with an `id` column, as nbgrader's students.csv)")
    return accounts


def _password() -> str:
    return secrets.token_urlsafe(9)


# --------------------------------------------------------------------------- start
def start(room: Classroom, timeout: float = 180) -> list[Account]:
    """Set the classroom up and start JupyterHub in the background; returns the accounts with their passwords."""
    _preflight(room)
    accounts = read_roster(room.roster, room.instructor)
    taken = [a.name for a in accounts if _account_exists(a.name)]
    if taken:
        raise ClassroomError(f"these accounts already exist on this machine and are not taken over: {taken[:5]}")
    from opsbook.classroom.course import ClassCourse

    course = ClassCourse(room.course, "_")
    record = _Record(room.state, {"url": room.url, "instructor": room.instructor, "course": str(room.course.resolve()),
                                  "worlds": str(room.worlds.resolve()) if room.worlds else None,
                                  "exchange": str(room.exchange), "course_id": course.course_id,
                                  "students": [a.name for a in accounts if a.role == "student"],
                                  "accounts": [], "uids": [], "group": None, "modes": [], "class_folders": [],
                                  "created": [], "remove": [], "pid": None})
    try:
        gid = _group(room.group, record)
        for account in accounts:
            _add_account(account, room.group, record)
        _open_environment(room, record)
        _close_private(room, course, gid, record)
        _make_exchange(room.exchange, course.course_id, gid, record)
        _write_roles(room, course.course_id)
        _launch(room, record, timeout)
    except BaseException:
        stop(room.state)
        raise
    return accounts


def _preflight(room: Classroom) -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        raise ClassroomError("the classroom creates Linux accounts and runs JupyterHub as root: run it as root "
                             "on Linux (sudo make classroom)")
    missing = [tool for tool in ("useradd", "userdel", "chpasswd", "groupadd", "groupdel") if not shutil.which(tool)]
    if missing:
        raise ClassroomError(f"{', '.join(missing)} not found (Debian package passwd)")
    if not PROXY.is_file():
        raise ClassroomError(f"configurable-http-proxy is not installed at {PROXY}: run `make classroom`, which "
                             "installs it with npm from package-lock.json")
    if (room.state / RECORD).exists():
        raise ClassroomError(f"a classroom is already set up from {room.state}: stop it first (make classroom-stop)")
    if room.state.exists() and any(room.state.iterdir()):
        raise ClassroomError(f"{room.state} is not empty: choose another --state folder")
    if room.exchange.is_dir() and any(room.exchange.glob("*/inbound")):
        raise ClassroomError(f"{room.exchange} already holds a course's exchange: choose another --exchange")
    if not (room.course / "nbgrader_config.py").is_file():
        raise ClassroomError(f"{room.course} has no nbgrader_config.py: it is not an nbgrader course folder")
    with socket.socket() as probe:
        try:
            probe.bind((room.ip, room.port))
        except OSError as exc:
            raise ClassroomError(f"cannot listen on {room.ip}:{room.port}: {exc} (choose --port)") from None


class _Record:
    """``STATE/classroom.json``: the settings and everything made so far (saved after every change)."""

    def __init__(self, state: Path, data: dict):
        self.path, self.data = state / RECORD, data
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o711)   # students traverse it to their role's settings, and list nothing
        self.save()

    def add(self, key: str, value: Any) -> None:
        self.data[key].append(value)
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group(name: str, record: _Record) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", name])
        record.data["group"] = name
        record.save()
        return grp.getgrnam(name).gr_gid


def _add_account(account: Account, group: str, record: _Record) -> None:
    command = ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
               "--comment", f"opsbook classroom {account.role}"]
    if account.role == "instructor":
        command += ["--groups", group]
    _run([*command, account.name])
    record.add("accounts", account.name)
    user = pwd.getpwnam(account.name)
    record.add("uids", user.pw_uid)
    subprocess.run(["chpasswd"], input=f"{account.name}:{account.password}\n", check=True, capture_output=True,
                   text=True)
    os.chmod(user.pw_dir, 0o700)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ClassroomError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")


def _open_environment(room: Classroom, record: _Record) -> None:
    """Let the accounts reach what they use: o+x (pass through, no listing) on the folders that lack it above
    the Python runtime, ``.venv``, the repository, the course, the exchange, the worlds and the role settings
    (a Python installed under /root, say)."""
    targets = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent,
               ROOT, room.course.resolve(), room.state.resolve(), room.exchange.resolve().parent}
    if room.worlds:
        targets.add(Path(room.worlds).resolve())
    for folder in sorted({parent for target in targets for parent in [target, *target.parents] if parent.exists()}):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            _set_mode(folder, folder.stat().st_gid, mode | stat.S_IXOTH, record)


def _close_private(room: Classroom, course: Any, gid: int, record: _Record) -> None:
    """Only root and the instructors' group reach what students must not read; the group may write the class."""
    directory = course.coursedir
    root = Path(directory.root)
    folders = [root / getattr(directory, f"{step}_directory") for step in ("source", "submitted", "autograded",
                                                                           "feedback")]
    folders.append(course.state.parent)
    gradebook = Path(course.db_url.removeprefix("sqlite:///"))
    log = Path(course.config.NbGrader.get("logfile") or root / "nbgrader.log")
    if not gradebook.exists():   # made and closed now: the instructor's server would make it readable by all
        _make_gradebook(course.db_url, course.course_id)
    log.touch()
    for folder in folders:
        if not folder.exists():
            folder.mkdir(parents=True)
            record.add("created", str(folder))
        record.add("class_folders", str(folder))
    _set_mode(root, gid, stat.S_IMODE(root.stat().st_mode) | 0o070, record)   # SQLite writes its journal beside
    for path in dict.fromkeys([*(ROOT / name for name in REPO_PRIVATE), *folders, gradebook, log]):
        if path.exists() and not path.is_symlink():
            _set_mode(path, gid, 0o2770 if path.is_dir() else 0o660, record)
    if room.worlds:
        _close_worlds(Path(room.worlds), gid, set(record.data["students"]), record)


def _make_gradebook(db_url: str, course_id: str) -> None:
    """An empty nbgrader gradebook (nbgrader runs this environment's ``alembic`` to stamp it)."""
    import warnings

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Gradebook(db_url, course_id).close()


def _close_worlds(worlds: Path, gid: int, students: set[str], record: _Record) -> None:
    """The answer keys and the salt only for the instructors; the folder is not listed. The students' worlds
    stay readable: the grader's sandbox reads them as a user of its own, and a classmate's world holds no
    answer (only the data an answer is computed from)."""
    _set_mode(worlds, 0, 0o711, record)
    for entry in sorted(worlds.iterdir()):
        if not entry.is_symlink() and entry.name not in students:
            _set_mode(entry, gid, 0o2770 if entry.is_dir() else 0o640, record)


def _set_mode(path: Path, gid: int, mode: int, record: _Record) -> None:
    info = path.stat()
    record.add("modes", [str(path), stat.S_IMODE(info.st_mode), info.st_gid])
    os.chown(path, -1, gid)
    os.chmod(path, mode)


def _make_exchange(exchange: Path, course_id: str, gid: int, record: _Record) -> None:
    """nbgrader's exchange, with the permissions its documentation and its ``groupshared`` mode ask for."""
    outermost = next((p for p in [*reversed(exchange.parents), exchange] if not p.exists()), None)
    course = exchange / course_id
    record.add("remove", str(outermost or course))
    if outermost is None:
        _set_mode(exchange, exchange.stat().st_gid, 0o1777, record)
    exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(exchange, 0o1777)   # everyone may create their folder; the sticky bit keeps others' folders
    for folder, mode in ((course, 0o2775), (course / "outbound", 0o2775), (course / "inbound", 0o3773),
                         (course / "feedback", 0o2771)):
        folder.mkdir()
        os.chown(folder, 0, gid)
        os.chmod(folder, mode)


def _write_roles(room: Classroom, course_id: str) -> None:
    """One Jupyter configuration folder per role: nbgrader's settings, its lab plugins and server extensions."""
    course = room.course.resolve()
    for role in ("student", "instructor"):
        folder = room.state / "roles" / role
        (folder / "labconfig").mkdir(parents=True)
        on_lab = NBGRADER_LAB if role == "instructor" else STUDENT_LAB
        on_server = NBGRADER_SERVER if role == "instructor" else STUDENT_SERVER
        (folder / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
            f"@jupyter/nbgrader:{name}": name not in on_lab for name in NBGRADER_LAB}}, indent=1))
        (folder / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
            f"nbgrader.server_extensions.{name}": name in on_server for name in NBGRADER_SERVER}}}, indent=1))
        lines = ["c = get_config()  # noqa: F821 - written by `opsbook class hub`"]
        if role == "instructor":
            lines += [f"load_subconfig('nbgrader_config.py', path={str(course)!r})  # noqa: F821 - the course's own",
                      f"c.CourseDirectory.root = {str(course)!r}", "c.CourseDirectory.groupshared = True"]
        lines += [f"c.CourseDirectory.course_id = {course_id!r}", f"c.Exchange.root = {str(room.exchange)!r}"]
        (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for path in [folder, *folder.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(room.state / "roles", 0o755)


def _launch(room: Classroom, record: _Record, timeout: float) -> None:
    """Start JupyterHub detached from this process; return once it answers."""
    import urllib.request

    record.data.update(hub_port=_free_port(), api_port=_free_port(), ip=room.ip, port=room.port)
    record.save()
    config = room.state / "jupyterhub_config.py"
    config.write_text("from opsbook.classroom.hub import configure\n\n"
                      f"configure(get_config(), {str(room.state / RECORD)!r})  # noqa: F821\n", encoding="utf-8")
    os.chmod(config, 0o600)
    bindir = Path(sys.executable).parent
    log = room.state / "jupyterhub.log"
    with log.open("ab") as out:
        os.chmod(log, 0o600)
        process = subprocess.Popen([str(bindir / "jupyterhub"), "-f", str(config)], cwd=room.state,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True,
                                   env={**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    record.data["pid"] = process.pid
    record.save()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClassroomError(f"JupyterHub stopped at start:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{room.url}/hub/api", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise ClassroomError(f"JupyterHub did not answer within {timeout:.0f} s:\n{_tail(log)}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- JupyterHub's configuration
def configure(c: Any, record_file: str) -> None:
    """Configure JupyterHub from the classroom's record (called by the generated ``jupyterhub_config.py``)."""
    settings = json.loads(Path(record_file).read_text(encoding="utf-8"))
    state = Path(record_file).parent
    c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings['hub_port']}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['api_port']}"
    c.ConfigurableHTTPProxy.command = [str(PROXY)]
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False
    c.Authenticator.allowed_users = {*settings["students"], settings["instructor"]}
    c.Authenticator.admin_users = {settings["instructor"]}
    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 120
    c.Spawner.pre_spawn_hook = functools.partial(pre_spawn, settings, str(state / "roles"))


def pre_spawn(settings: dict, roles: str, spawner: Any) -> None:
    """Per role: its Jupyter settings, the course environment's tools, the student's world or the course folder."""
    name = spawner.user.name
    role = "instructor" if name == settings["instructor"] else "student"
    env = {"JUPYTER_CONFIG_PATH": f"{roles}/{role}",
           "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"}
    if role == "student" and settings.get("worlds"):
        env["OPSBOOK_DATA_DIR"] = f"{settings['worlds']}/{name}"
    spawner.environment = {**spawner.environment, **env}
    if role == "instructor":
        spawner.notebook_dir = settings["course"]


# --------------------------------------------------------------------------- stop
def stop(state: Path = STATE) -> list[str]:
    """Stop the classroom of ``state`` and remove everything it made; returns what was done, line by line."""
    path = Path(state) / RECORD
    if not path.is_file():
        return [f"no classroom is set up from {state}"]
    data = json.loads(path.read_text(encoding="utf-8"))
    done = []
    if data.get("pid") and _terminate(data["pid"], "jupyterhub"):
        done.append(f"stopped JupyterHub (pid {data['pid']})")
    proxy = Path(state) / "proxy.pid"
    if proxy.is_file() and proxy.read_text().strip().isdigit() and _terminate(int(proxy.read_text()),
                                                                              "configurable-http-proxy"):
        done.append("stopped the proxy")
    uids = set(data["uids"])
    killed = _kill_processes_of(uids)
    if killed:
        done.append(f"ended {killed} process(es) of the classroom's accounts")
    for name in data["accounts"]:
        subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
        if not _account_exists(name):
            done.append(f"deleted account {name} and its home")
    _give_back(data, uids)
    for mode_path, mode, gid in reversed(data["modes"]):
        if os.path.lexists(mode_path) and not os.path.islink(mode_path):
            os.chown(mode_path, -1, gid)
            os.chmod(mode_path, mode)
    if data["modes"]:
        done.append(f"put back the permissions of {len(data['modes'])} path(s)")
    for folder in reversed(data["created"]):
        try:
            os.rmdir(folder)   # only if the class left nothing in it
        except OSError:
            pass
    if data.get("group"):
        subprocess.run(["groupdel", data["group"]], capture_output=True, text=True)
        done.append(f"deleted group {data['group']}")
    for folder in data["remove"]:
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"removed the exchange {folder}")
    shutil.rmtree(Path(state) / "roles", ignore_errors=True)
    for name in STATE_FILES:
        Path(state, name).unlink(missing_ok=True)
    try:
        Path(state).rmdir()
    except OSError:
        pass
    return done


def _terminate(pid: int, name: str, grace: float = 30) -> bool:
    """End ``pid`` if it is still ``name`` (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    if not _is(pid, name):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _is(pid, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is(pid, name):
        os.kill(pid, signal.SIGKILL)
    return True


def _is(pid: int, name: str) -> bool:
    """Whether ``pid`` runs and its command line names ``name`` (a reused pid is left alone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False   # our own child, now reaped
    except ChildProcessError:
        pass
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return status != "Z" and name.encode() in cmdline


def _kill_processes_of(uids: set[int]) -> int:
    """End every process owned by one of ``uids`` (the created accounts): SIGTERM, then SIGKILL."""
    found = 0
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [pid for pid in _pids() if _owner(pid) in uids]
        found = max(found, len(pids))
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids and sig == signal.SIGTERM:
            time.sleep(3)
    return found


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _owner(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None


def _give_back(data: dict, uids: set[int]) -> None:
    """What the deleted accounts left in the course (collected, released, graded by hand) now belongs to root."""
    course = Path(data["course"])
    paths = [*course.iterdir()] if course.is_dir() else []
    for folder in data["class_folders"]:
        for dirpath, dirnames, filenames in os.walk(folder):
            paths += [Path(dirpath, name) for name in dirnames + filenames]
    for path in paths:
        try:
            if path.lstat().st_uid in uids:
                os.chown(path, 0, 0, follow_symlinks=False)
        except OSError:
            pass
