"""``opsbook course``: the maintainer's commands (README map, release, papermill runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsbook.course.manifest import load_manifest, updated_readme
from opsbook.paths import BUILD, NOTEBOOKS, README, SOLUTIONS, shown


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook course readme|release|run``."""
    course = subparsers.add_parser("course", help="course maintenance: README map, release, run every notebook")
    commands = course.add_subparsers(dest="course_command", required=True, metavar="ACTION")

    readme = commands.add_parser("readme", help="render the README course map from course.yml")
    readme.add_argument("--check", action="store_true", help="only check; exit 1 when the map is stale")
    readme.set_defaults(func=_readme)

    release = commands.add_parser("release", help="tidy solutions/ and regenerate notebooks/ with nbgrader")
    release.set_defaults(func=_release)

    run = commands.add_parser("run", help="execute every solution notebook with papermill, write HTML, summarise")
    run.add_argument("ids", nargs="*", metavar="ID", help="only these notebooks (default: all, in course order)")
    run.add_argument("--data-dir", type=Path, help="world folder passed as DATA_DIR (default: datasets/)")
    run.add_argument("--out", type=Path, default=BUILD / "course", help="output folder (default build/course)")
    run.set_defaults(func=_run)


def _readme(args: argparse.Namespace) -> int:
    text = README.read_text(encoding="utf-8")
    new = updated_readme(text, load_manifest())
    if new == text:
        print("README course map is up to date.")
        return 0
    if args.check:
        print("README course map is stale: run `opsbook course readme`.", file=sys.stderr)
        return 1
    README.write_text(new, encoding="utf-8")
    print("README course map updated from course.yml.")
    return 0


def _release(args: argparse.Namespace) -> int:
    from opsbook.grading.nbcourse import GradingError
    from opsbook.course.release import notebook_problems, release, tidy_notebook

    sources = sorted(SOLUTIONS.glob("*/*.ipynb"))
    for path in sources:
        if tidy_notebook(path):
            print(f"tidied {shown(path)}")
    try:
        for path in release(SOLUTIONS, NOTEBOOKS):
            print(f"released {shown(path)}")
    except GradingError as exc:
        print(exc, file=sys.stderr)
        return 1
    problems = [f"{shown(path)}: {p}" for path in sources for p in notebook_problems(path, "source")]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _run(args: argparse.Namespace) -> int:
    from opsbook.course.execute import format_summary, run_course

    ids = [e.id for e in load_manifest()]
    unknown = sorted(set(args.ids) - set(ids))
    if unknown:
        print(f"Unknown notebook(s) {', '.join(unknown)}; the course has: {', '.join(ids)}", file=sys.stderr)
        return 2
    results = run_course([i for i in ids if not args.ids or i in args.ids], SOLUTIONS, args.out, args.data_dir)
    print(format_summary(results))
    return 0 if all(r.ok for r in results) else 1
