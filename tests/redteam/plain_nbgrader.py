"""What plain ``nbgrader autograde`` (no sandbox, no guard) gives the red-team cheats: the ``plain`` column.

    .venv/bin/python tests/redteam/plain_nbgrader.py [CASE_ID ...]

Runs only the cases that cheat (no resource abuse: plain nbgrader has no limits,
so the memory hog, the process flood, the endless loops and the file overwrites
are not run here). Prints case, plain nbgrader's points, and the expected points
with ``opsbook class grade``. Not part of the test suite: it documents why the guard exists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build import ASSIGNMENT, SOURCE, build_all, load_cases  # noqa: E402

SKIP = {"memory_hog_8gb", "process_flood_500", "infinite_loop_answer", "infinite_loop_in_test", "ignores_interrupt",
        "overwrite_gradebook", "overwrite_course_files", "output_flood", "os_exit", "segfault", "not_json",
        "not_a_notebook"}


def main() -> None:
    from nbgrader.api import Gradebook, MissingEntry

    from opsbook.grading.nbcourse import prepare_course, write_plain_config

    wanted = set(sys.argv[1:])  # optional: only these case ids
    cases = [c for c in load_cases() if c["id"] not in SKIP and (not wanted or c["id"] in wanted)]
    with tempfile.TemporaryDirectory(prefix="opsbook-plain-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(prepare_course(SOURCE, Path(tmp) / "cache"), course)
        build_all(course, cases)
        write_plain_config(course, "c.Execute.timeout = 10\n")
        nbgrader = Path(sys.executable).parent / "nbgrader"
        rows = []
        for case in cases:
            try:
                run = subprocess.run([str(nbgrader), "autograde", ASSIGNMENT, "--student", case["id"], "--force"],
                                     cwd=course, capture_output=True, text=True, timeout=180)
                failed = run.returncode != 0
            except subprocess.TimeoutExpired:
                failed = True
            with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
                try:
                    score = gb.find_submission(ASSIGNMENT, case["id"]).score
                except MissingEntry:
                    score = None
            rows.append((case["id"], "failed" if failed and not score else f"{score:g}", case["expect"]["score"]))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  plain nbgrader  opsbook class grade")
    for case_id, plain, ours in rows:
        print(f"{case_id:<{width}}  {plain:>14}  {ours:>19}")


if __name__ == "__main__":
    main()
