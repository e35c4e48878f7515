"""``opsbook class grade``: grade every submission of an assignment into nbgrader's gradebook.

``grade_class`` finds ``submitted/<student>/<assignment>/`` in the course (the
repository root by default, or ``--course``) and hands each submission to a
pool of workers (``pool.py``: local processes, or a Dask cluster with
``scheduler``), each grading in a bubblewrap sandbox with its
test cells judged outside the kernel (``worker.py``). Only this process writes:
it records each result in nbgrader's gradebook with nbgrader's own
``SaveAutoGrades`` and ``AssignLatePenalties``, writes the autograded notebook
where ``nbgrader generate_feedback`` and the formgrader expect it, the
integrity report, and one line of ``class_grading/<assignment>/state.jsonl``.
That line is keyed by the SHA-256 of the submission's files and of what it was
graded against, so an interrupted run picks up where it stopped and a re-run
grades only new or changed submissions (``--regrade`` grades all again).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.classroom.course import ClassCourse, ClassGradingError, State, Submission, fingerprint
from opsbook.classroom.status import TAMPER_POLICIES, Status
from opsbook.grading.sandbox import Limits
from opsbook.paths import ROOT
from opsbook.texttable import format_table

UID_BASE = 200_000
# Runtime evidence that a notebook interfered with grading itself (it gains nothing, but it is tampering).
TAMPER_FLAGS = ("forged-reply", "probe-bypassed")


@dataclass
class Outcome:
    """One submission's line in the state file (and the CSV's flags)."""

    student: str
    status: Status
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


def grade_class(assignment: str, course_root: Path = ROOT, workers: int = 2, worlds: Path | None = None,
                limits: Limits | None = None, students: Iterable[str] | None = None, regrade: bool = False,
                policy: str = "zero", progress: bool = True, scheduler: str | None = None) -> ClassReport:
    """Autograde every submission of ``assignment``; returns what happened to each.

    ``scheduler``: the address of a Dask scheduler whose workers grade instead of ``workers`` local processes.
    """
    from opsbook.grading.sandbox import unavailable_reason

    if policy not in TAMPER_POLICIES:
        raise ValueError(f"policy must be one of {TAMPER_POLICIES}")
    reason = None if scheduler else unavailable_reason()   # with Dask, each worker checks its own sandbox
    if reason:
        raise ClassGradingError(f"the sandbox cannot run here: {reason}")
    start = time.monotonic()
    limits = limits or Limits(cell_timeout=int(course_timeout(course_root)))
    course = ClassCourse(course_root, assignment)
    notebooks = course.notebooks()
    state = State(course.state / "state.jsonl")
    outcomes: list[Outcome] = []
    todo = _plan(course, notebooks, state, worlds, limits, policy, students, regrade, outcomes)
    if todo:
        _run(course, notebooks, state, todo, limits, policy, workers, progress, outcomes, scheduler)
    write_integrity_summary(course.state, state.entries)
    return ClassReport(assignment, outcomes, time.monotonic() - start, course.state)


def _plan(course: ClassCourse, notebooks: dict, state: State, worlds: Path | None, limits: Limits, policy: str,
          students: Iterable[str] | None, regrade: bool, outcomes: list[Outcome]) -> dict[str, tuple]:
    """The submissions to grade, {student: (submission, fingerprint)}; the others go straight to ``outcomes``."""
    todo = {}
    for submission in course.submissions(students):
        if worlds is not None:
            submission.world = Path(worlds).resolve() / submission.student
        key = fingerprint(notebooks, submission.world, policy, limits)
        if not regrade and state.done(submission, key):
            entry = state.entries[submission.student]
            outcomes.append(Outcome(submission.student, Status(entry["status"]), entry["score"], entry["max_score"],
                                    entry["flags"], entry.get("seconds", 0.0), skipped=True))
        elif submission.world is not None and not (submission.world / "users.csv.gz").is_file():
            outcome = Outcome(submission.student, Status.NO_WORLD, flags=[f"no-world:{submission.world}"])
            outcomes.append(outcome)
            state.append(_entry(outcome, submission, key))
        else:
            todo[submission.student] = (submission, key)
    return todo


def _run(course: ClassCourse, notebooks: dict, state: State, todo: dict[str, tuple], limits: Limits, policy: str,
         workers: int, progress: bool, outcomes: list[Outcome], scheduler: str | None) -> None:
    """Grade ``todo`` with a worker pool (local, or Dask's with ``scheduler``), recording each result as it arrives."""
    from tqdm import tqdm

    from opsbook.classroom.pool import DaskPool, LocalPool
    from opsbook.classroom.worker import Assignment

    _remove_stale_workroots()
    workroot = Path(tempfile.mkdtemp(prefix=f"ob-{os.getpid()}-", dir="/tmp"))  # short: socket paths live in it
    os.chmod(workroot, 0o711)
    try:
        snapshot = _snapshot_gradebook(course.db_url, workroot / "gradebook.db")
        plots = any(word in v["release"] for v in notebooks.values()
                    for word in ("matplotlib", "seaborn", "plotting", "setup_notebook"))
        job = Assignment(str(course.root), course.assignment,
                         {k: {"master": v["master"], "release": v["release"]} for k, v in notebooks.items()},
                         snapshot, course.config_file, limits, _mpl_cache(course.state) if plots else None)
        bar = tqdm(total=len(todo), desc=f"grading {course.assignment}", unit="nb", disable=not progress, leave=True)

        def on_result(submission: Submission, result: dict, seconds: float) -> None:
            outcome = record(course, submission, result, policy, notebooks)
            outcome.seconds = seconds
            outcomes.append(outcome)
            state.append(_entry(outcome, submission, todo[submission.student][1]))
            bar.update(1)
            bar.set_postfix_str(_tally(outcomes))

        if scheduler:
            pool = DaskPool(job, scheduler, limits.timeout + 120)
        else:
            pool = LocalPool(job, workers, UID_BASE + (os.getpid() % 100_000) * 16, workroot, limits.timeout + 120)
        pool.run([submission for submission, _ in todo.values()], on_result)
        bar.close()
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


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
def _remove_stale_workroots() -> None:
    """Working folders left by a grader that was killed (its process is gone)."""
    for folder in Path("/tmp").glob("ob-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def course_timeout(course_root: Path) -> float:
    course = ClassCourse(course_root, "_")
    return float(course.config.Execute.get("timeout", 120) or 120)


def _tally(outcomes: list[Outcome]) -> str:
    counts = Counter(o.status for o in outcomes if not o.skipped)
    flagged = sum(1 for o in outcomes if not o.skipped and any(f.startswith("tamper") for f in o.flags))
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + (f", tampering {flagged}" if flagged else "")


def _entry(outcome: Outcome, submission: Submission, key: str) -> dict:
    return {"student": outcome.student, "status": str(outcome.status), "score": outcome.score,
            "max_score": outcome.max_score, "flags": outcome.flags, "seconds": round(outcome.seconds, 2),
            "sha256": submission.sha256, "fingerprint": key,
            "world": str(submission.world) if submission.world else None,
            "graded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def record(course: ClassCourse, submission: Submission, result: dict, policy: str, notebooks: dict) -> Outcome:
    """Write one worker result into the gradebook, the autograded folder and the integrity report."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy session notices from nbgrader's gradebook, nbformat id notices
        return _record_quietly(course, submission, result, policy, notebooks)


def _record_quietly(course: ClassCourse, submission: Submission, result: dict, policy: str,
                    notebooks: dict) -> Outcome:
    student = submission.student
    status = Status(result.get("status", Status.GRADED))
    flags = list(result.get("flags", []))
    hard, integrity = [], {}
    _register(course, submission)
    autograded = course.folder("autograded", student)
    if autograded.exists():
        shutil.rmtree(autograded)
    from opsbook.classroom.worker import copy_submission

    copy_submission(submission.folder, autograded)
    for notebook_id in notebooks:
        nbres = result.get("notebooks", {}).get(notebook_id) or {}
        flags += nbres.get("flags", [])
        hard += nbres.get("hard", [])
        integrity[notebook_id] = nbres.get("integrity", {})
        if nbres.get("status") in (Status.INVALID, Status.MISSING) and status == Status.GRADED:
            status = Status(nbres["status"])
        _save_notebook(course, student, notebook_id, nbres.get("executed"), autograded)
    hard += [f for f in flags if f.partition(":")[0] in TAMPER_FLAGS]
    if hard:
        flags.append("tamper:zeroed" if policy == "zero" else "tamper")
        if policy == "zero":
            for notebook_id in notebooks:
                _zero(course, student, notebook_id)
    flags += _code_flags(integrity)
    score, max_score = _scores(course, student)
    outcome = Outcome(student, status, score, max_score, list(dict.fromkeys(flags)))
    report = {"student": student, "assignment": course.assignment, "status": str(status), "score": score,
              "max_score": max_score, "submission_sha256": submission.sha256, "flags": outcome.flags,
              "tampering": hard, "notebooks": integrity,
              "message": result.get("message", "") or " ".join(
                  (n or {}).get("message", "") for n in result.get("notebooks", {}).values()).strip()}
    folder = course.state / "integrity"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{student}.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return outcome


def _register(course: ClassCourse, submission: Submission) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(submission.student)
        timestamp = course.coursedir.get_existing_timestamp(str(submission.folder))
        if timestamp:
            gb.update_or_create_submission(course.assignment, submission.student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(course.assignment, submission.student)


def _save_notebook(course: ClassCourse, student: str, notebook_id: str, executed: str | None,
                   autograded: Path) -> None:
    """Score an executed notebook with nbgrader's own preprocessors; zero a notebook that did not run."""
    import nbformat
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    target = autograded / f"{notebook_id}.ipynb"
    if not executed:
        if target.exists():
            target.unlink()  # the unreadable original: the gradebook has zeros for it
        _zero(course, student, notebook_id)
        return
    nb = nbformat.reads(executed, as_version=4)
    resources = {"nbgrader": {"notebook": notebook_id, "assignment": course.assignment, "student": student,
                              "db_url": course.db_url}}
    for pp in (SaveAutoGrades(config=course.config), AssignLatePenalties(config=course.config)):
        nb, resources = pp(nb, resources)
    nbformat.write(nb, target)


def _scores(course: ClassCourse, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        sub = gb.find_submission(course.assignment, student)
        return float(sub.score or 0.0), float(sub.max_score or 0.0)


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
             f"{len(rows)} of {len(entries)} submissions have flags. `tamper` marks runtime interference with "
             "grading (a forged kernel reply, a bypassed call) or code aimed at the grader; under the default "
             "policy it zeroes the submission. `kernel-prep:` files were left out of the kernel's folder; `code:` "
             "rules and the rest are for a person to read. See autograder/README.md for every flag.", ""]
    for _, student, entry, report in sorted(rows):
        lines.append(f"## {student} — {entry['status']}, {entry['score']:g}/{entry['max_score']:g}")
        lines.append("")
        lines.append("Flags: " + ", ".join(f"`{f}`" for f in entry["flags"]))
        for what in report.get("tampering", []):
            lines.append(f"- tampering: {what}")
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
