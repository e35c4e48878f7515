"""The package's shape: no import cycles, light commands, the kernel side stdlib-only at import, a linter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.paths import ROOT

PACKAGE = ROOT / "opsbook"
JUPYTER = ("jupyter_client", "zmq", "tornado", "nbgrader", "nbclient", "nbconvert", "jupyter_server", "IPython")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """opsbook modules imported when ``path`` is imported (imports inside functions do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in [node] if not isinstance(node, (ast.If, ast.Try)) else ast.walk(node):
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                base = child.module if child.level == 0 else _relative(path, child)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
    return {name for name in found if name.split(".")[0] == "opsbook"}


def _relative(path: Path, node: ast.ImportFrom) -> str:
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in top_level_imports(path) if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles_between_opsbook_modules():
    assert find_cycle(import_graph()) is None, f"import cycle: {' -> '.join(find_cycle(import_graph()))}"


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    import json

    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("argv", [["--help"], ["world", "validate", "datasets", "--no-manifest"], ["class", "--help"]])
def test_commands_import_no_jupyter_machinery(argv):
    code = (f"from opsbook.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    loaded = _modules_after(code)
    heavy = sorted(loaded & set(JUPYTER))
    assert "opsbook" in loaded and not heavy, f"`opsbook {' '.join(argv)}` imports {heavy}"


def test_the_kernel_side_imports_only_the_standard_library():
    loaded = _modules_after("import opsbook.kernel.probe, opsbook.kernel.plain, opsbook.kernel.warnings_to_stdout")
    third_party = loaded - _modules_after("pass") - set(sys.stdlib_module_names) - {"opsbook"}
    assert not third_party, f"opsbook.kernel imports {sorted(third_party)} at import time"


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff), "check", "opsbook", "tests", "bench", "autograder"], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
