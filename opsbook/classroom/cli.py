"""``opsbook class``: the instructor's commands. Light at import: each handler loads what it needs.

    opsbook class worlds --students students.csv --out worlds      # one world per student
    opsbook class grade 01_metrics --workers 2 --worlds worlds     # autograde every submission
    opsbook class feedback 01_metrics                              # HTML per student, no hidden tests
    opsbook class export 01_metrics --out grades.csv               # student, exercise, points, max, late, flags
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsbook.classroom.status import TAMPER_POLICIES
from opsbook.paths import ROOT


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook class``."""
    cls = subparsers.add_parser("class", help="grade a class: per-student worlds, parallel sandboxed autograding, "
                                              "feedback, CSV export")
    commands = cls.add_subparsers(dest="class_command", required=True, metavar="ACTION")

    worlds = commands.add_parser("worlds", help="generate one world per student (seeded by student id)")
    worlds.add_argument("--students", type=Path, required=True,
                        help="student ids: one per line, or nbgrader's students.csv (column id)")
    worlds.add_argument("--out", type=Path, required=True, help="folder for the worlds (one subfolder per student)")
    worlds.add_argument("--users", type=int, default=5000, help="users per world (default %(default)s)")
    worlds.add_argument("--salt", help="course salt (default: the one in OUT/worlds.json, else a new random one)")
    worlds.add_argument("--no-progress", action="store_true")
    worlds.set_defaults(func=_worlds)

    grade = commands.add_parser("grade", help="autograde every submission of an assignment")
    grade.add_argument("assignment", help="assignment id, e.g. 01_metrics")
    _course_arg(grade)
    grade.add_argument("--workers", type=int, default=2, help="parallel workers (default %(default)s)")
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


def _course_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", type=Path, default=ROOT,
                        help="the nbgrader course folder (default: this repository)")


def _worlds(args: argparse.Namespace) -> int:
    from opsbook.classroom.worlds import make_worlds, read_students

    manifest = make_worlds(read_students(args.students), args.out, users=args.users, salt=args.salt,
                           progress=not args.no_progress)
    print(f"{len(manifest['students'])} worlds of {manifest['users']:,} users in {args.out}; "
          f"release note: {args.out / 'RELEASE.md'}")
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
                             progress=not args.no_progress)
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
