"""``opsbook class``: the instructor's commands. Light at import: each handler loads what it needs.

    opsbook class worlds --students students.csv --out worlds      # one world per student
    opsbook class grade 01_metrics --workers 2 --worlds worlds     # autograde every submission
    opsbook class feedback 01_metrics                              # HTML per student, no hidden tests
    opsbook class export 01_metrics --out grades.csv               # student, exercise, points, max, late, flags
    opsbook class report 01_metrics                                # item analysis: HTML and CSV per exercise
    opsbook class hub --roster students.csv                        # a classroom on this machine (--stop ends it)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsbook.classroom.status import TAMPER_POLICIES
from opsbook.paths import ROOT
from opsbook.world.cli import accepted
from opsbook.world.config import WorldConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook class``."""
    cls = subparsers.add_parser("class", help="grade a class: per-student worlds, parallel sandboxed autograding, "
                                              "feedback, CSV export")
    commands = cls.add_subparsers(dest="class_command", required=True, metavar="ACTION")

    worlds = commands.add_parser("worlds", help="generate one world per student (seeded by student id)")
    worlds.add_argument("--students", type=Path, required=True,
                        help="student ids: one per line, or nbgrader's students.csv (column id)")
    worlds.add_argument("--out", type=Path, required=True, help="folder for the worlds (one subfolder per student)")
    worlds.add_argument("--users", type=accepted("n_users"), default=5000, metavar="N",
                        help="users per world, 5,000 to 100,000 (default %(default)s)")
    worlds.add_argument("--days", type=accepted("days"), default=WorldConfig.days, metavar="N",
                        help="days of data per world, 175 to 366 (default %(default)s)")
    worlds.add_argument("--salt", help="course salt (default: the one in OUT/worlds.json, else a new random one)")
    worlds.add_argument("--no-progress", action="store_true")
    worlds.set_defaults(func=_worlds)

    grade = commands.add_parser("grade", help="autograde every submission of an assignment")
    grade.add_argument("assignment", help="assignment id, e.g. 01_metrics")
    _course_arg(grade)
    grade.add_argument("--workers", type=int, default=2, help="parallel workers (default %(default)s)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the workers of this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of "
                            "--workers local processes; see autograder/README.md")
    grade.add_argument("--worlds", type=Path, help="per-student worlds from `opsbook class worlds`")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--regrade", action="store_true", help="grade again what an earlier run already graded")
    grade.add_argument("--cell-timeout", type=int, help="seconds per cell (default: the course's Execute.timeout)")
    grade.add_argument("--timeout", type=int, default=900, help="seconds per submission (default %(default)s)")
    grade.add_argument("--memory", type=int, default=4096, help="MB of address space per process (default %(default)s)")
    grade.add_argument("--nproc", type=int, default=64, help="processes per sandbox (default %(default)s)")
    grade.add_argument("--on-tamper", choices=TAMPER_POLICIES, default="zero",
                       help="zero: a submission that tampers with the grader scores 0 (default); flag: only flag it")
    grade.add_argument("--feedback", action="store_true", help="generate feedback afterwards")
    grade.add_argument("--csv", type=Path, help="export grades to this CSV afterwards")
    grade.add_argument("--no-progress", action="store_true")
    grade.set_defaults(func=_grade)

    feedback = commands.add_parser("feedback", help="HTML feedback per student without the hidden tests")
    feedback.add_argument("assignment")
    _course_arg(feedback)
    feedback.set_defaults(func=_feedback)

    export = commands.add_parser("export", help="grades to CSV: student, assignment, exercise, points, max, late, "
                                                "flags")
    export.add_argument("assignment")
    _course_arg(export)
    export.add_argument("--out", type=Path, help="CSV file (default class_grading/<assignment>/grades.csv)")
    export.set_defaults(func=_export)

    report = commands.add_parser("report", help="item analysis per exercise (mean, full marks, discrimination, "
                                                "failing messages), totals histogram, integrity flags: HTML + CSV")
    report.add_argument("assignment")
    _course_arg(report)
    report.add_argument("--out", type=Path, help="folder for report.html and report.csv "
                                                 "(default class_grading/<assignment>/)")
    report.set_defaults(func=_report)

    hub = commands.add_parser("hub", help="a classroom on this machine: JupyterHub with an account per student, "
                                          "nbgrader's exchange, the formgrader for the instructor (root)")
    hub.add_argument("--roster", type=Path, help="students: nbgrader's students.csv (id,first_name,last_name,email; "
                                                 "an optional password column, else passwords are generated)")
    hub.add_argument("--instructor", default="instructor", help="the instructor's account (default %(default)s)")
    _course_arg(hub)
    hub.add_argument("--worlds", type=Path, help="per-student worlds (`opsbook class worlds`): each student's "
                                                 "server reads its own")
    hub.add_argument("--ip", default="127.0.0.1", help="address to listen on (default %(default)s)")
    hub.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    hub.add_argument("--state", type=Path, help="folder for the hub's own files (default /srv/opsbook-classroom)")
    hub.add_argument("--exchange", type=Path, help="nbgrader's exchange (default /srv/nbgrader/exchange)")
    hub.add_argument("--stop", action="store_true", help="stop the classroom and remove the accounts, the exchange "
                                                         "and the permission changes it made")
    hub.set_defaults(func=_hub)


def _course_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", type=Path, default=ROOT,
                        help="the nbgrader course folder (default: this repository)")


def _worlds(args: argparse.Namespace) -> int:
    from opsbook.classroom.worlds import make_worlds, read_students

    manifest = make_worlds(read_students(args.students), args.out, users=args.users, days=args.days,
                           salt=args.salt, progress=not args.no_progress)
    print(f"{len(manifest['students'])} worlds of {manifest['users']:,} users and {manifest['days']} days in "
          f"{args.out}; release note: {args.out / 'RELEASE.md'}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from opsbook.classroom.course import ClassGradingError
    from opsbook.classroom.grade import course_timeout, format_report, grade_class
    from opsbook.grading.sandbox import Limits

    limits = Limits(cell_timeout=args.cell_timeout or int(course_timeout(args.course)), timeout=args.timeout,
                    memory_mb=args.memory, nproc=args.nproc)
    try:
        report = grade_class(args.assignment, args.course, workers=args.workers, worlds=args.worlds, limits=limits,
                             students=args.student, regrade=args.regrade, policy=args.on_tamper,
                             progress=not args.no_progress, scheduler=args.scheduler)
    except ClassGradingError as exc:
        print(f"Cannot grade: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.feedback:
        _feedback(args)
    if args.csv:
        args.out = args.csv
        _export(args)
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from opsbook.classroom.course import ClassCourse, ClassGradingError
    from opsbook.classroom.feedback import class_feedback

    try:
        run = class_feedback(args.assignment, args.course)
    except ClassGradingError as exc:
        print(f"Cannot write feedback: {exc}", file=sys.stderr)
        return 2
    folder = ClassCourse(args.course, args.assignment).folder("feedback", "*")
    print(f"Feedback: {len(run.written)} page(s) in {folder}")
    for student, why in sorted(run.failed.items()):
        print(f"  {student}: plain page only, {why}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from opsbook.classroom.course import ClassCourse, ClassGradingError
    from opsbook.classroom.export import export_csv

    course = ClassCourse(args.course, args.assignment)
    try:
        out = export_csv(args.assignment, args.course, args.out or course.state / "grades.csv")
    except ClassGradingError as exc:
        print(f"Cannot export: {exc}", file=sys.stderr)
        return 2
    print(f"Grades written to {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from opsbook.classroom.course import ClassGradingError
    from opsbook.classroom.report import class_report
    from opsbook.texttable import format_table

    try:
        analysis, page, table = class_report(args.assignment, args.course, args.out)
    except ClassGradingError as exc:
        print(f"Cannot report: {exc}", file=sys.stderr)
        return 2
    rows = [(i.exercise, f"{i.max_points:g}", f"{i.mean:.2f}", f"{i.full_share:.0%}",
             "—" if i.discrimination is None else f"{i.discrimination:.2f}",
             (i.top_messages(1) or [("", 0)])[0][0][:70]) for i in analysis.items]
    print(format_table(("exercise", "max", "mean", "full", "discrimination", "most frequent failure"), rows,
                       right=(1, 2, 3, 4)))
    print(f"\n{len(analysis.students)} submissions. Report: {page}\nTable: {table}")
    return 0


def _hub(args: argparse.Namespace) -> int:
    from opsbook.classroom.hub import EXCHANGE, STATE, Classroom, ClassroomError, start, stop

    state = args.state or STATE
    if args.stop:
        for line in stop(state):
            print(line)
        return 0
    if not args.roster:
        print("Give the class: --roster students.csv (nbgrader's format: id,first_name,last_name,email)",
              file=sys.stderr)
        return 2
    room = Classroom(args.roster, args.instructor, args.course.resolve(), args.worlds, args.ip, args.port, state,
                     args.exchange or EXCHANGE)
    try:
        accounts = start(room)
    except ClassroomError as exc:
        print(f"Cannot start the classroom: {exc}", file=sys.stderr)
        return 2
    from opsbook.texttable import format_table

    print(format_table(("account", "role", "password"), [(a.name, a.role, a.password) for a in accounts]))
    print(f"\nThe classroom is open at {room.url} (passwords are shown only this once).\n"
          f"Students: Nbgrader > Assignment List. Instructor: Nbgrader > Formgrader, course {room.course}.\n"
          f"Exchange: {room.exchange}. Grade as root: opsbook class grade <assignment>.\n"
          "Stop it and remove its accounts: make classroom-stop (opsbook class hub --stop).")
    return 0
