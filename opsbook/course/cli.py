"""``opsbook course``: the maintainer's commands (README map, release, papermill runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsbook.course.manifest import load_manifest, updated_readme
from opsbook.paths import BUILD, DOCS, NOTEBOOKS, README, README_ZH, SOLUTIONS, ZH_SOURCES, shown
from opsbook.texttable import format_table


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
    run.add_argument("--lang", choices=("en", "zh"), default="en", help="which edition to run (default en)")
    run.set_defaults(func=_run)

    check = commands.add_parser("check", help="try every exercise's reference, stub, alternatives and mistakes "
                                              "with the grader (fast: one kernel)")
    check.add_argument("id", metavar="ID", help="the notebook, e.g. 01_metrics")
    check.add_argument("--data-dir", type=Path, help="the world to grade on (default: datasets/)")
    check.add_argument("--answer", action="append", metavar="GRADE_ID", help="only this answer cell (repeatable)")
    check.set_defaults(func=_check)

    stuck = commands.add_parser("sweep", help="leave each exercise unfinished in turn; every later cell must run "
                                              "or name the exercise it needs")
    stuck.add_argument("id", metavar="ID", help="the notebook, e.g. 01_metrics")
    stuck.add_argument("--data-dir", type=Path, help="the world to run on (default: datasets/)")
    stuck.set_defaults(func=_sweep)

    translate = commands.add_parser("translate", help="write or update translations/zh/<id>.yml from the English "
                                                      "source (new or changed text gets zh: null)")
    translate.add_argument("id", metavar="ID", help="the notebook, e.g. 01_metrics, or `dictionary` (the data "
                                                    "dictionary)")
    translate.add_argument("--check", action="store_true", help="only list what is missing or stale")
    translate.set_defaults(func=_translate)


def _readme(args: argparse.Namespace) -> int:
    stale, failed = [], False
    for path, lang in ((README, "en"), (README_ZH, "zh")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            new = updated_readme(text, load_manifest(), lang)
        except ValueError as exc:
            print(f"{path.name}: {exc}", file=sys.stderr)
            failed = True
            continue
        if new == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(new, encoding="utf-8")
    if not stale:
        print("The README course maps are up to date." if not failed else "The other course maps are up to date.")
        return 1 if failed else 0
    if args.check:
        print(f"Stale course map in {', '.join(stale)}: run `opsbook course readme`.", file=sys.stderr)
        return 1
    print(f"Course map updated from course.yml in {', '.join(stale)}.")
    return 1 if failed else 0


def _release(args: argparse.Namespace) -> int:
    from opsbook.course.release import notebook_problems, release, tidy_notebook, translated_sources
    from opsbook.course.translate import DICTIONARY, TranslationError, render_dictionary_zh, translation_path
    from opsbook.grading.nbcourse import GradingError

    sources = sorted(SOLUTIONS.glob("*/*.ipynb"))
    for path in sources:
        if tidy_notebook(path):
            print(f"tidied {shown(path)}")
    try:
        for path in release(SOLUTIONS, NOTEBOOKS):
            print(f"released {shown(path)}")
        zh_sources = translated_sources(SOLUTIONS, ZH_SOURCES, [path.parent.name for path in sources])
        if zh_sources:
            for path in release(ZH_SOURCES, NOTEBOOKS / "zh", keep=()):
                print(f"released {shown(path)}")
        if translation_path(DICTIONARY).is_file():
            target = DOCS / "zh" / "data-dictionary.md"
            target.parent.mkdir(exist_ok=True)
            target.write_text(render_dictionary_zh(), encoding="utf-8")
            print(f"wrote {shown(target)}")
    except (GradingError, TranslationError) as exc:
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
    chosen = [i for i in ids if not args.ids or i in args.ids]
    source = SOLUTIONS
    if args.lang == "zh":
        from opsbook.course.release import translated_sources

        translated_sources(SOLUTIONS, ZH_SOURCES, chosen)
        source, chosen = ZH_SOURCES, [i for i in chosen if (ZH_SOURCES / i / f"{i}.ipynb").is_file()]
    results = run_course(chosen, source, args.out, args.data_dir)
    print(format_summary(results))
    return 0 if all(r.ok for r in results) else 1


def _check(args: argparse.Namespace) -> int:
    import nbformat

    from opsbook.course.contracts import check_contracts
    from opsbook.grading.nbcourse import course_config, prepare_course

    folder = SOLUTIONS / args.id
    if not (folder / f"{args.id}.ipynb").is_file():
        print(f"No notebook {args.id} in {shown(SOLUTIONS)}", file=sys.stderr)
        return 2
    template = prepare_course(folder, BUILD / "grades" / ".cache")
    release = nbformat.read(template / "release" / args.id / f"{args.id}.ipynb", as_version=4)
    run = check_contracts(folder, release, course_config(template), args.data_dir,
                          set(args.answer) if args.answer else None)
    trials = run.trials
    rows = [(t.answer, f"{t.kind} {t.number}", f"{t.score:g}/{t.max_score:g}", "ok" if t.holds else "BROKEN",
             (t.why + ": " if t.why else "") + " | ".join(t.messages)) for t in trials]
    print(format_table(("answer", "variant", "points", "contract", "why / first failing message"), rows, right=(2,)))
    broken = [t for t in trials if not t.holds]
    for error in run.errors:
        print(f"worked cell raises: {error}")
    print(f"\n{len(trials)} trials, {len(broken)} broken contract(s), {len(run.errors)} worked cell(s) raising.")
    return 1 if broken or run.errors else 0


def _sweep(args: argparse.Namespace) -> int:
    from opsbook.course.sweep import describe, release_for, sweep
    from opsbook.grading.nbcourse import course_config

    source, release, template = release_for(SOLUTIONS / args.id, BUILD / "grades" / ".cache")
    problems = sweep(source, release, course_config(template), args.data_dir)
    print(describe(problems))
    return 1 if problems else 0


def _translate(args: argparse.Namespace) -> int:
    import nbformat

    from opsbook.course.translate import (
        DICTIONARY,
        dictionary_problems,
        load_translation,
        problems,
        write_dictionary_skeleton,
        write_skeleton,
    )

    if args.id == "course":
        from opsbook.course.manifest import write_course_translation

        path, found = write_course_translation(check=args.check)
        print("\n".join(found) if found else f"{shown(path)} is complete and current.")
        return 1 if found else 0
    if args.id == DICTIONARY:
        if not args.check:
            print(f"wrote {shown(write_dictionary_skeleton())}")
        found = dictionary_problems()
        print("\n".join(found) if found else "The Chinese data dictionary is complete and current.")
        return 1 if found else 0

    source = nbformat.read(SOLUTIONS / args.id / f"{args.id}.ipynb", as_version=4)
    if not args.check:
        print(f"wrote {shown(write_skeleton(args.id, source))}")
    found = problems(source, load_translation(args.id))
    print("\n".join(found) if found else f"The Chinese edition of {args.id} is complete and current.")
    return 1 if found else 0
