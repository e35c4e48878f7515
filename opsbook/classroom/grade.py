"""``opsbook class``: grade a whole class with nbgrader's gradebook, in parallel, each submission sandboxed.

    opsbook class worlds --students students.csv --out worlds      # one world per student (studentworld.py)
    opsbook class grade 01_metrics --workers 2 --worlds worlds     # autograde every submission
    opsbook class feedback 01_metrics                              # HTML per student, hidden tests removed
    opsbook class export 01_metrics --out grades.csv               # student, exercise, points, max, late, flags

``grade`` finds ``submitted/<student>/<assignment>/`` in the course (the
repository root by default, or ``--course``), and hands each submission to one
of N worker processes (``runner.py``), which runs it in a bubblewrap sandbox
(``sandbox.py``) with the kernel guard (``guard.py``). Only this process writes:
it records each result in nbgrader's gradebook with nbgrader's own
``SaveAutoGrades`` and ``AssignLatePenalties``, writes the autograded notebook
where ``nbgrader generate_feedback`` and the formgrader expect it, the
integrity report, and one line of ``class_grading/<assignment>/state.jsonl``.
That line is keyed by the SHA-256 of the submission's files and of what it was
graded against, so an interrupted run picks up where it stopped and a re-run
grades only new or changed submissions (``--regrade`` grades all again).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from opsbook.classroom.cli import TAMPER_POLICIES
from opsbook.paths import ROOT
from opsbook.texttable import format_table
from opsbook.classroom.sandbox import Limits

STATE_DIR = "class_grading"
FINAL = {"graded", "invalid", "missing", "crashed", "timeout"}   # not retried on resume (errors are)
UID_BASE = 200_000


class ClassGradingError(RuntimeError):
    """The class cannot be graded (no gradebook entry, no sandbox...); the message says what to do."""


@dataclass
class Submission:
    student: str
    folder: Path
    sha256: str
    world: Path | None = None


@dataclass
class Outcome:
    """One submission's line in the state file (and the CSV's flags)."""

    student: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class ClassReport:
    assignment: str
    outcomes: list[Outcome]
    seconds: float
    state_dir: Path

    @property
    def graded(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.skipped]


# --------------------------------------------------------------------------- the course
class ClassCourse:
    """The nbgrader course being graded: its config, folders and gradebook."""

    def __init__(self, root: Path = ROOT, assignment: str = ""):
        from nbgrader.coursedir import CourseDirectory

        from opsbook.classroom.worker import Assignment, load_config

        self.root = Path(root).resolve()
        self.assignment = assignment
        config_file = self.root / "autograder" / "nbgrader_config.py"
        self.config_file = str(config_file) if config_file.is_file() else None
        self.config = load_config(Assignment(str(self.root), assignment, {}, "", self.config_file))
        self.config.CourseDirectory.assignment_id = assignment
        self.coursedir = CourseDirectory(config=self.config)
        self.db_url = self.coursedir.db_url
        self.course_id = self.coursedir.course_id
        self.state = self.root / STATE_DIR / assignment

    def folder(self, step: str, student: str = ".") -> Path:
        return Path(self.coursedir.format_path(getattr(self.coursedir, f"{step}_directory"), student,
                                               self.assignment))

    def submissions(self, students: Iterable[str] | None = None) -> list[Submission]:
        base = Path(self.coursedir.root) / self.coursedir.submitted_directory
        wanted = set(students) if students else None
        found = []
        for folder in sorted(base.glob(f"*/{self.assignment}")):
            student = folder.parent.name
            if folder.is_dir() and not folder.is_symlink() and (wanted is None or student in wanted):
                found.append(Submission(student, folder, folder_sha256(folder)))
        return found

    def require_gradebook(self) -> None:
        """Raise unless the gradebook exists (opening a missing one would create an empty one)."""
        database = Path(self.db_url.removeprefix("sqlite:///"))
        if self.db_url.startswith("sqlite:///") and not database.is_file():
            raise ClassGradingError(f"no gradebook at {database}: run `nbgrader generate_assignment {self.assignment}` "
                                    f"in {self.root} first")

    def notebooks(self) -> dict[str, dict]:
        """Per notebook of the assignment: the gradebook's record of its cells and the release's text."""
        from nbgrader.api import Gradebook, MissingEntry

        out = {}
        self.require_gradebook()
        with Gradebook(self.db_url, self.course_id) as gb:
            try:
                assignment = gb.find_assignment(self.assignment)
            except MissingEntry:
                raise ClassGradingError(
                    f"the gradebook has no assignment {self.assignment!r}: run `nbgrader generate_assignment "
                    f"{self.assignment}` in {self.root} first") from None
            for notebook in assignment.notebooks:
                master = {c.name: {"cell_type": c.cell_type, "checksum": c.checksum, "locked": c.locked,
                                   "points": None, "solution": False} for c in notebook.source_cells}
                for cell in notebook.grade_cells:
                    master.setdefault(cell.name, {"cell_type": cell.cell_type, "checksum": None, "locked": False,
                                                  "solution": False})["points"] = cell.max_score
                for cell in notebook.solution_cells:
                    master.setdefault(cell.name, {"cell_type": "code", "checksum": None, "locked": False,
                                                  "points": None})["solution"] = True
                release = self.folder("release") / f"{notebook.name}.ipynb"
                if not release.is_file():
                    raise ClassGradingError(f"no release notebook at {release}: generate the assignment first")
                out[notebook.name] = {"master": master, "release": release.read_text(encoding="utf-8"),
                                      "sources": {c.name: c.source for c in notebook.source_cells}}
        if not out:
            raise ClassGradingError(f"assignment {self.assignment!r} has no notebooks in the gradebook")
        return out


def folder_sha256(folder: Path) -> str:
    """SHA-256 of every regular file's relative path and bytes (symlinks by their target text)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        rel = str(path.relative_to(folder)).encode()
        if path.is_symlink():
            digest.update(b"L" + rel + b"\0" + os.readlink(path).encode() + b"\0")
        elif path.is_file():
            digest.update(b"F" + rel + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _fingerprint(notebooks: dict, world: Path | None, policy: str, limits: Limits) -> str:
    digest = hashlib.sha256(json.dumps({k: v["master"] for k, v in notebooks.items()}, sort_keys=True).encode())
    digest.update(json.dumps({k: v["sources"] for k, v in notebooks.items()}, sort_keys=True).encode())
    digest.update(f"{policy}|{limits.cell_timeout}|{limits.memory_mb}".encode())
    if world is not None:
        manifest = Path(world) / "MANIFEST.sha256"
        digest.update(manifest.read_bytes() if manifest.is_file() else str(world).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- state
class State:
    """``state.jsonl``: one JSON line per finished submission; the last line of a student wins."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption
                self.entries[entry["student"]] = entry

    def done(self, submission: Submission, fingerprint: str) -> bool:
        entry = self.entries.get(submission.student)
        return bool(entry and entry.get("sha256") == submission.sha256 and entry.get("fingerprint") == fingerprint
                    and entry.get("status") in FINAL)

    def append(self, entry: dict) -> None:
        self.entries[entry["student"]] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


# --------------------------------------------------------------------------- worker slots
class _Slot:
    def __init__(self, ctx, job, index: int, uid: int, workroot: Path):  # noqa: ANN001
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


def _snapshot_gradebook(db_url: str, target: Path) -> str:
    """A consistent read-only copy of an SQLite gradebook for the workers."""
    source = db_url.removeprefix("sqlite:///")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def _mpl_cache(state: Path) -> str | None:
    """A matplotlib config folder with the font cache built once (each sandbox gets a copy)."""
    import subprocess

    folder = state.parent / ".mplconfig"
    if not any(folder.glob("fontlist-*.json")):
        folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MPLCONFIGDIR=str(folder), MPLBACKEND="Agg")
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, capture_output=True,
                       timeout=300, check=False)
    return str(folder) if folder.is_dir() else None


# --------------------------------------------------------------------------- grading
def grade_class(assignment: str, course_root: Path = ROOT, workers: int = 2, worlds: Path | None = None,
                limits: Limits | None = None, students: Iterable[str] | None = None, regrade: bool = False,
                policy: str = "zero", progress: bool = True) -> ClassReport:
    """Autograde every submission of ``assignment``; returns what happened to each."""
    from opsbook.classroom.worker import Assignment
    from opsbook.classroom.sandbox import unavailable_reason

    if policy not in TAMPER_POLICIES:
        raise ValueError(f"policy must be one of {TAMPER_POLICIES}")
    reason = unavailable_reason()
    if reason:
        raise ClassGradingError(f"the sandbox cannot run here: {reason}")
    start = time.monotonic()
    limits = limits or Limits(cell_timeout=int(_course_timeout(course_root)))
    course = ClassCourse(course_root, assignment)
    notebooks = course.notebooks()
    state = State(course.state / "state.jsonl")
    todo, outcomes = [], []
    for submission in course.submissions(students):
        if worlds is not None:
            submission.world = Path(worlds).resolve() / submission.student
        fingerprint = _fingerprint(notebooks, submission.world, policy, limits)
        if not regrade and state.done(submission, fingerprint):
            entry = state.entries[submission.student]
            outcomes.append(Outcome(submission.student, entry["status"], entry["score"], entry["max_score"],
                                    entry["flags"], entry.get("seconds", 0.0), skipped=True))
        elif submission.world is not None and not (submission.world / "users.csv.gz").is_file():
            outcome = Outcome(submission.student, "no-world", flags=[f"no-world:{submission.world}"])
            outcomes.append(outcome)
            state.append(_entry(outcome, submission, fingerprint, {}))
        else:
            todo.append((submission, fingerprint))
    if not todo:
        return ClassReport(assignment, outcomes, time.monotonic() - start, course.state)

    _remove_stale_workroots()
    workroot = Path(tempfile.mkdtemp(prefix=f"ob-{os.getpid()}-", dir="/tmp"))  # short: socket paths live in it
    os.chmod(workroot, 0o711)
    snapshot = _snapshot_gradebook(course.db_url, workroot / "gradebook.db")
    plots = any(word in v["release"] for v in notebooks.values() for word in ("matplotlib", "seaborn", "plotting",
                                                                             "setup_notebook"))
    job = Assignment(str(course.root), assignment,
                     {k: {"master": v["master"], "release": v["release"]} for k, v in notebooks.items()},
                     snapshot, course.config_file, limits, _mpl_cache(course.state) if plots else None)
    # fork: a worker starts with nbgrader already imported (spawn would import it again, seconds per worker).
    # The parent holds no open gradebook connection and no threads yet (the progress bar comes after).
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    uid_base = UID_BASE + (os.getpid() % 100_000) * 16
    slots: list[_Slot] = []
    pending = list(todo)
    fingerprints = {s.student: f for s, f in todo}
    starts = Counter()
    try:
        from tqdm import tqdm

        slots = [_Slot(ctx, job, i, uid_base + i, workroot) for i in range(max(1, min(workers, len(todo))))]
        bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="nb", disable=not progress, leave=True)
        while pending or any(s.task for s in slots):
            for slot in slots:
                if slot.ready and slot.task is None and pending:
                    slot.send(pending.pop(0)[0], limits.timeout + 120)
            ready = wait([s.conn for s in slots] + [s.process.sentinel for s in slots], timeout=1.0)
            for i, slot in enumerate(slots):
                message = None
                if slot.conn in ready:
                    try:
                        message = slot.conn.recv()
                    except (EOFError, OSError):
                        message = None
                if message and message[0] == "ready":
                    slot.ready = True
                    continue
                if message and message[0] == "result":
                    submission, slot.task = slot.task, None
                    outcome = _record(course, submission, message[1], policy, notebooks)
                    outcome.seconds = time.monotonic() - slot.started
                    outcomes.append(outcome)
                    state.append(_entry(outcome, submission, fingerprints[submission.student], message[1]))
                    bar.update(1)
                    bar.set_postfix_str(_tally(outcomes))
                    continue
                died = not slot.process.is_alive() or (message is None and slot.conn in ready)
                late = slot.task is not None and time.monotonic() > slot.deadline
                if died or late:
                    if slot.task is not None:
                        submission, status = slot.task, "timeout" if late else "crashed"
                        outcome = _record(course, submission, {"status": status, "notebooks": {},
                                                               "flags": [f"{status}:worker"]}, policy, notebooks)
                        outcome.seconds = time.monotonic() - slot.started
                        outcomes.append(outcome)
                        state.append(_entry(outcome, submission, fingerprints[submission.student], {}))
                        bar.update(1)
                    elif not slot.ready:
                        starts[i] += 1
                        if starts[i] > 3:
                            raise ClassGradingError("a grading worker cannot start; run `opsbook class grade` "
                                                    "with --workers 1 to see why")
                    slot.kill()
                    slots[i] = _Slot(ctx, job, i, uid_base + i, workroot)
        bar.close()
    finally:
        for slot in slots:
            try:
                slot.conn.send(None)
            except (OSError, ValueError):
                pass
        for slot in slots:
            slot.process.join(5)
            slot.kill()
        shutil.rmtree(workroot, ignore_errors=True)
    write_integrity_summary(course.state, state.entries)
    return ClassReport(assignment, outcomes, time.monotonic() - start, course.state)


def _remove_stale_workroots() -> None:
    """Working folders left by a grader that was killed (its process is gone)."""
    for folder in Path("/tmp").glob("ob-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _course_timeout(course_root: Path) -> float:
    course = ClassCourse(course_root, "_")
    return float(course.config.Execute.get("timeout", 120) or 120)


def _tally(outcomes: list[Outcome]) -> str:
    counts = Counter(o.status for o in outcomes if not o.skipped)
    flagged = sum(1 for o in outcomes if not o.skipped and any(f.startswith("tamper") for f in o.flags))
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + (f", tampering {flagged}" if flagged else "")


def _entry(outcome: Outcome, submission: Submission, fingerprint: str, result: dict) -> dict:
    return {"student": outcome.student, "status": outcome.status, "score": outcome.score,
            "max_score": outcome.max_score, "flags": outcome.flags, "seconds": round(outcome.seconds, 2),
            "sha256": submission.sha256, "fingerprint": fingerprint,
            "world": str(submission.world) if submission.world else None,
            "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _record(course: ClassCourse, submission: Submission, result: dict, policy: str, notebooks: dict) -> Outcome:
    """Write one worker result into the gradebook, the autograded folder and the integrity report."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy session notices from nbgrader's gradebook, nbformat id notices
        return _record_quietly(course, submission, result, policy, notebooks)


def _record_quietly(course: ClassCourse, submission: Submission, result: dict, policy: str,
                    notebooks: dict) -> Outcome:
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    from opsbook.classroom.worker import copy_submission

    student = submission.student
    flags = list(result.get("flags", []))
    hard, soft, integrity = [], [], {}
    status = result.get("status", "graded")
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(student)
        timestamp = course.coursedir.get_existing_timestamp(str(submission.folder))
        if timestamp:
            gb.update_or_create_submission(course.assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(course.assignment, student)
    autograded = course.folder("autograded", student)
    if autograded.exists():
        shutil.rmtree(autograded)
    copy_submission(submission.folder, autograded)
    for notebook_id in notebooks:
        nbres = result.get("notebooks", {}).get(notebook_id)
        for name in ("flags", "hard", "soft"):
            (flags if name == "flags" else hard if name == "hard" else soft).extend(
                (nbres or {}).get(name, []))
        integrity[notebook_id] = (nbres or {}).get("integrity", {})
        if nbres and nbres.get("status") in ("invalid", "missing") and status == "graded":
            status = nbres["status"]
        target = autograded / f"{notebook_id}.ipynb"
        if nbres and nbres.get("executed"):
            nb = nbformat.reads(nbres["executed"], as_version=4)
            resources = {"nbgrader": {"notebook": notebook_id, "assignment": course.assignment,
                                      "student": student, "db_url": course.db_url}}
            for pp in (SaveAutoGrades(config=course.config), AssignLatePenalties(config=course.config)):
                nb, resources = pp(nb, resources)
            nbformat.write(nb, target)
        else:
            if target.exists():
                target.unlink()  # the unreadable original: the gradebook has zeros for it
            _zero(course, student, notebook_id)
    if hard:
        flags.append("tamper:zeroed" if policy == "zero" else "tamper")
        if policy == "zero":
            for notebook_id in notebooks:
                _zero(course, student, notebook_id)
    flags.extend(_code_flags(integrity))
    if soft:
        flags.append("review:runtime")
    with Gradebook(course.db_url, course.course_id) as gb:
        sub = gb.find_submission(course.assignment, student)
        score, max_score = float(sub.score or 0.0), float(sub.max_score or 0.0)
    outcome = Outcome(student, status, score, max_score, _dedupe(flags))
    report = {"student": student, "assignment": course.assignment, "status": status, "score": score,
              "max_score": max_score, "submission_sha256": submission.sha256, "flags": outcome.flags,
              "tampering": hard, "review": soft, "notebooks": integrity,
              "message": result.get("message", "") or " ".join(
                  (n or {}).get("message", "") for n in result.get("notebooks", {}).values()).strip()}
    folder = course.state / "integrity"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{student}.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return outcome


def _zero(course: ClassCourse, student: str, notebook_id: str) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        notebook = gb.find_submission_notebook(notebook_id, course.assignment, student)
        for grade in notebook.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def _code_flags(integrity: dict) -> list[str]:
    rules = sorted({f["rule"] for nb in integrity.values() for f in nb.get("code", [])})
    return [f"code:{rule}" for rule in rules]


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def write_integrity_summary(state_dir: Path, entries: dict[str, dict]) -> Path:
    """``integrity.md``: every flagged submission of the assignment, most serious first."""
    from opsbook.classroom.integrity import RULE_HELP

    rows = []
    for student, entry in sorted(entries.items()):
        path = state_dir / "integrity" / f"{student}.json"
        report = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not entry.get("flags"):
            continue
        rows.append((0 if report.get("tampering") else 1, student, entry, report))
    lines = [f"# Integrity report: {state_dir.name}", "",
             f"{len(rows)} of {len(entries)} submissions have flags. `tamper` zeroes a submission (runtime "
             "tampering with the grader, or code aimed at it); `code:` rules are for a person to read.", ""]
    for _, student, entry, report in sorted(rows):
        lines.append(f"## {student} — {entry['status']}, {entry['score']:g}/{entry['max_score']:g}")
        lines.append("")
        lines.append("Flags: " + ", ".join(f"`{f}`" for f in entry["flags"]))
        for what in report.get("tampering", []):
            lines.append(f"- tampering: {what}")
        for what in report.get("review", [])[:10]:
            lines.append(f"- runtime: {what}")
        for nb in report.get("notebooks", {}).values():
            for finding in nb.get("code", [])[:20]:
                lines.append(f"- code `{finding['rule']}` ({RULE_HELP.get(finding['rule'], '')}), cell "
                             f"{finding['cell']} line {finding['line']}: `{finding['code']}`")
        lines.append("")
    target = state_dir / "integrity.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def format_report(report: ClassReport) -> str:
    """The table the instructor reads after a run."""
    rows = [(o.student, o.status + (" (earlier run)" if o.skipped else ""), f"{o.score:g}", f"{o.max_score:g}",
             f"{o.seconds:.1f}", ", ".join(o.flags)[:100]) for o in sorted(report.outcomes, key=lambda o: o.student)]
    lines = format_table(("student", "status", "points", "max", "seconds", "flags"), rows, right=(2, 3, 4)
                         ).splitlines()
    graded = report.graded
    lines.append(f"\n{len(graded)} graded in {report.seconds:.0f} s"
                 + (f" ({report.seconds / len(graded):.1f} s per submission)" if graded else "")
                 + f", {len(report.outcomes) - len(graded)} unchanged since an earlier run.")
    lines.append(f"Integrity report: {report.state_dir / 'integrity.md'}")
    return "\n".join(lines)
