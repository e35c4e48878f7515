"""The self-study companion: a way past a stuck exercise, and what the learner has revealed.

``reveal("1.3")`` shows the reference answer of one exercise (only its answer
cell, never a test) when the course's source (``solutions/``) is present, as in
a clone of the repository, and records that it was revealed: ``opsbook grade``
and ``opsbook progress`` mark the exercise. A classroom copy has no source, and
``reveal`` says so in one line.

``%%needs 1.3`` on the first line of a worked cell runs the cell as usual; if it
stops because an exercise it uses is not finished (``NotImplementedError``, or a
name an earlier skipped cell would have made), it prints one line naming the
exercise instead of a traceback, and the rest of the notebook still runs.
``setup_notebook()`` registers the magic.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from opsbook import language
from opsbook.paths import BUILD, SOLUTIONS

REVEALED = BUILD / "progress" / "revealed.json"
_EXERCISE = re.compile(r"^\d{1,2}\.\d{1,2}$")
_HEADING = re.compile(r"^#+\s*(Exercise|练习)\s+(\d+\.\d+)\b", re.MULTILINE)

_TEXT = {
    "no_source": {
        "en": "The reference answers are not part of this copy of the course (there is no solutions/ folder). "
              "Ask your instructor, or work from the hints.",
        "zh": "这份课程副本不含参考答案（没有 solutions/ 文件夹）。请问老师，或者根据提示继续做。",
    },
    "bad_id": {"en": "Name the exercise by its number, for example reveal(\"1.3\"), not {given!r}.",
               "zh": "请用练习编号，例如 reveal(\"1.3\")，而不是 {given!r}。"},
    "unknown": {"en": "There is no Exercise {exercise} in the course.",
                "zh": "课程里没有练习 {exercise}。"},
    "header": {"en": "Reference answer of Exercise {exercise} ({notebook}). It is marked as revealed in your "
                     "progress and grade report; type it in yourself rather than pasting it.",
               "zh": "练习 {exercise}（{notebook}）的参考答案。它会在你的进度和评分报告里标记为“已查看答案”；"
                     "建议自己敲一遍，而不是直接粘贴。"},
    "skipped": {"en": "⏭ Skipped: this cell uses your answer to Exercise {exercises}, which is not finished yet "
                      "({why}). Finish it (hints are under the exercise), then run this cell again.",
                "zh": "⏭ 已跳过：这个单元格要用到练习 {exercises} 的答案，而它还没有完成（{why}）。"
                      "完成它（练习下方有提示）后，再运行这个单元格。"},
    "or": {"en": " or ", "zh": " 或 "},
}

_owed: dict[str, list[str]] = {}


# --------------------------------------------------------------------------- reveal
def reveal(exercise: str, source: Path = SOLUTIONS) -> None:
    """Print the reference answer of ``exercise`` ("1.3") and record that it was revealed."""
    if not isinstance(exercise, str) or not _EXERCISE.match(exercise):
        print(language.pick(_TEXT["bad_id"], given=exercise))
        return
    notebook = _notebook_of(exercise, Path(source))
    if notebook is None:
        print(language.pick(_TEXT["no_source"] if not Path(source).is_dir() else _TEXT["unknown"],
                            exercise=exercise))
        return
    code = answer_code(notebook, exercise)
    if code is None:
        print(language.pick(_TEXT["unknown"], exercise=exercise))
        return
    print(language.pick(_TEXT["header"], exercise=exercise, notebook=notebook.stem) + "\n")
    print(code)
    record_reveal(notebook.stem, exercise)


def _notebook_of(exercise: str, source: Path) -> Path | None:
    number = int(exercise.split(".")[0])
    found = sorted(source.glob(f"{number:02d}_*/{number:02d}_*.ipynb"))
    return found[0] if found else None


def answer_code(notebook: Path, exercise: str) -> str | None:
    """The reference code of ``exercise``'s answer cell in a source notebook, solution markers removed."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    current = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = _HEADING.search(cell.source)
            current = match.group(2) if match else current
            continue
        grading = cell.metadata.get("nbgrader", {})
        if current == exercise and grading.get("solution") and not grading.get("grade"):
            from opsbook.grading.markers import without_solution_markers

            return without_solution_markers(cell.source)
    return None


def record_reveal(notebook_id: str, exercise: str, store: Path | None = None) -> None:
    """Remember that ``exercise`` of ``notebook_id`` was revealed (best effort: a read-only copy records nothing)."""
    store = store or REVEALED
    try:
        data = json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
        data.setdefault(notebook_id, {}).setdefault(exercise, dt.datetime.now().isoformat(timespec="seconds"))
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, ValueError):
        pass


def revealed(store: Path | None = None) -> dict[str, dict[str, str]]:
    """{notebook id: {exercise: when}} of every answer revealed so far."""
    store = store or REVEALED
    try:
        return json.loads(store.read_text(encoding="utf-8")) if store.is_file() else {}
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- %%needs
def needs(line: str, cell: str) -> Any:
    """Cell magic: run the cell; if an unfinished exercise stops it, say which in one line instead.

    ``%%needs 10.8 my_plan``: numbers are exercises; a name is a value an exercise's answer defines (a
    ``NameError`` for it means that exercise is unfinished)."""
    from IPython import get_ipython

    shell = get_ipython()
    exercises = [word for word in line.split() if re.fullmatch(r"\d+(\.\d+)*", word)]
    answers = set(line.split()) - set(exercises)
    tree = ast.parse(cell)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    figures = _figures()
    try:
        exec(compile(tree, "<cell>", "exec"), shell.user_ns)  # noqa: S102 - the learner's own cell
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), shell.user_ns) if last else None  # noqa: S307
        for name in assigned_names(tree):
            _owed.pop(name, None)
        return value
    except NotImplementedError:
        _skip(shell, tree, exercises, "NotImplementedError", figures)
    except NameError as exc:
        if getattr(exc, "name", None) not in _owed and getattr(exc, "name", None) not in answers:
            raise
        _skip(shell, tree, exercises, f"NameError: {exc.name}", figures)
    return None


def _figures() -> set[int]:
    """The open matplotlib figures (none when pyplot is not in use)."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot else set()


def _skip(shell: Any, tree: ast.Module, exercises: list[str], why: str, figures: set[int]) -> None:
    import sys

    for number in _figures() - figures:  # a chart the cell began before it stopped: no empty frame
        sys.modules["matplotlib.pyplot"].close(number)
    for name in assigned_names(tree):
        shell.user_ns.pop(name, None)  # no stale value from an earlier run stands in for the skipped one
        _owed[name] = exercises
    joined = language.pick(_TEXT["or"]).join(exercises) or "?"
    print(language.pick(_TEXT["skipped"], exercises=joined, why=why))


def assigned_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at its top level (assignments, loops, with, imports, def, class)."""
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign,)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def register_magics(shell: Any) -> None:
    """Make ``%%needs`` available in ``shell`` (an IPython shell)."""
    shell.register_magic_function(needs, magic_kind="cell", magic_name="needs")
