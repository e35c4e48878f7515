"""Integrity report of a submission: suspicious code and graded cells that were edited, deleted or re-typed.

Two checks that need no execution:

* ``structure``: the submitted notebook against the release (what the student
  received) and the gradebook (checksums nbgrader recorded): graded cells that
  are missing, duplicated, of another type, edited (test and read-only cells),
  whose points or flags changed, unknown graded cells, a changed kernelspec.
* ``scan_code``: every code cell that differs from the release is parsed (IPython
  syntax turned into Python first) and searched for code a person should read:
  touching builtins or ``sys.modules``, hiding tracebacks, IPython or kernel
  internals, the grader's own modules, ``__eq__`` and friends, subclasses of
  built-in types, monkeypatched library functions, trace functions and frames,
  processes, network, dynamic code, and file access outside the data folder.

Findings have a ``level``: ``hard`` findings (code aimed at the grader itself)
zero the submission under the default policy; ``review`` findings are listed for
a person and cost nothing by themselves (a legitimate ``__eq__`` exists).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import asdict, dataclass

from nbformat import NotebookNode


@dataclass(frozen=True)
class Finding:
    rule: str          # short name, e.g. "traceback-hiding"
    level: str         # "hard" or "review"
    cell: int          # 1-based position in the submitted notebook
    grade_id: str      # the cell's grade_id, or ""
    line: int          # 1-based line in the cell
    code: str          # the line, shortened

    def as_dict(self) -> dict:
        return asdict(self)


RULE_HELP = {
    "grader": "refers to the grader's own modules or state",
    "traceback-hiding": "can hide a failing test's error (showtraceback, custom exception handlers, excepthook)",
    "kernel-internals": "reaches into IPython or the kernel (events, transformers, run_cell, the session)",
    "builtins": "touches the builtins module",
    "shadowed-builtin": "rebinds a builtin the tests use (type, isinstance, abs ...)",
    "sys-modules": "reads or changes sys.modules",
    "monkeypatch": "replaces a function or method of a library",
    "eq-override": "defines an equality or conversion method (an object that claims to equal anything)",
    "builtin-subclass": "subclasses a built-in or library type (a float that is not a float)",
    "frames": "uses trace functions, frames or the garbage collector",
    "process": "starts, stops or signals processes",
    "network": "uses the network",
    "dynamic-code": "builds code at run time (exec, eval, compile, __import__, importlib, pickle)",
    "file-access": "reads or writes files other than through load_world",
}
HARD_RULES = {"grader"}
# Builtins a test leans on to check types and values; a notebook that rebinds one is worth a look.
SHADOW_CHECKED = {"type", "isinstance", "issubclass", "abs", "float", "int", "str", "bool", "len", "round",
                  "sum", "min", "max", "all", "any", "sorted", "set", "dict", "list", "tuple", "repr", "hash",
                  "id", "getattr", "hasattr", "zip", "range", "enumerate", "map", "filter", "iter", "next",
                  "object", "callable", "divmod", "pow", "frozenset", "vars", "print"}

_GRADER_WORDS = re.compile(r"opsbook\.(grading|kernel|classroom)|_opsbook_|nbgrader|gradebook", re.IGNORECASE)
_TRACEBACK_ATTRS = {"showtraceback", "_showtraceback", "showsyntaxerror", "set_custom_exc", "CustomTB",
                    "custom_exceptions", "excepthook", "InteractiveTB", "SyntaxTB", "_render_traceback_",
                    "showindentationerror", "get_exception_only"}
_KERNEL_ATTRS_ALWAYS = {"ast_transformers", "input_transformers_cleanup", "input_transformers_post",
                        "input_transformer_manager", "set_custom_exc", "displayhook", "display_pub",
                        "shell_handlers", "control_handlers", "user_ns_hidden", "run_cell", "run_cell_async",
                        "run_code", "run_ast_nodes", "builtin_trap", "meta_path", "path_hooks", "iopub_socket",
                        "do_execute", "execute_request", "send_response"}
_KERNEL_ATTRS = {"events", "ast_transformers", "input_transformers_cleanup", "input_transformers_post",
                 "input_transformer_manager", "run_cell", "run_cell_async", "run_code", "run_ast_nodes",
                 "kernel", "session", "displayhook", "display_pub", "display_formatter", "compile",
                 "user_ns", "user_ns_hidden", "user_global_ns", "shell_handlers", "control_handlers",
                 "do_execute", "execute_request", "send_response", "iopub_socket", "register_magic_function",
                 "magics_manager", "builtin_trap", "meta_path", "path_hooks"}
_KERNEL_NAMES = {"InteractiveShell", "ZMQInteractiveShell", "IPythonKernel", "ipykernel", "zmq", "jupyter_client",
                 "traitlets"}
_FRAME_ATTRS = {"settrace", "setprofile", "_getframe", "f_lineno", "f_trace", "f_back", "f_locals", "f_globals",
                "currentframe", "stack", "tb_frame", "gi_frame", "setrecursionlimit", "addaudithook"}
_FRAME_MODULES = {"gc", "ctypes", "sys.monitoring", "faulthandler"}
_PROCESS = {"os._exit", "os.kill", "os.killpg", "os.fork", "os.forkpty", "os.system", "os.popen", "os.execv",
            "os.execl", "os.execvp", "os.spawnl", "os.abort", "signal.signal", "signal.alarm", "sys.exit", "exit",
            "quit", "os.setsid", "os.nice"}
_PROCESS_MODULES = {"subprocess", "multiprocessing", "signal", "threading", "concurrent", "pty", "resource"}
_NETWORK_MODULES = {"socket", "urllib", "requests", "http", "ftplib", "smtplib", "httpx", "aiohttp", "websocket"}
_DYNAMIC = {"exec", "eval", "compile", "__import__", "globals", "locals", "vars", "setattr", "delattr"}
_DYNAMIC_MODULES = {"importlib", "marshal", "pickle", "base64", "codecs", "types", "dill", "cloudpickle"}
_EQ_METHODS = {"__eq__", "__ne__", "__hash__", "__bool__", "__float__", "__int__", "__index__", "__round__",
               "__abs__", "__instancecheck__", "__subclasscheck__", "__getattribute__", "__lt__", "__le__",
               "__gt__", "__ge__", "__len__", "__class__", "__array__", "__array_ufunc__", "__array_function__",
               "__contains__", "__iter__", "__str__", "__repr__", "__format__", "__complex__"}
_BUILTIN_TYPES = {"float", "int", "str", "bool", "dict", "list", "tuple", "set", "frozenset", "complex", "bytes",
                  "type", "object.__class__"}
_LIBRARY_TYPES = re.compile(r"^(pd|pandas|np|numpy)\.")
_FILE_CALLS = {"open", "io.open", "os.open", "os.remove", "os.unlink", "os.rename", "os.replace", "os.rmdir",
               "os.removedirs", "os.makedirs", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
               "os.listdir", "os.scandir", "os.walk", "os.truncate", "shutil", "glob.glob", "pathlib.Path", "Path",
               "pd.read_csv", "pd.read_parquet", "pd.read_json", "pd.read_excel", "pd.read_pickle", "np.load",
               "np.loadtxt", "np.save", "np.savetxt", "sqlite3.connect"}
# Methods that touch files (not ``rename``/``replace``/``open``: pandas and str share those names).
_FILE_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "to_csv", "to_parquet",
                 "to_pickle", "to_json", "to_excel", "symlink_to", "hardlink_to", "touch", "chmod"}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain (``get_ipython().x`` gives ``get_ipython().x``), else ""."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        parts.append(node.func.id + "()")
    else:
        return ""
    return ".".join(reversed(parts))


def to_python(source: str) -> str:
    """The cell as plain Python (IPython magics and shell escapes turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython could not read it either; scan the raw text
        return source


class _Scanner(ast.NodeVisitor):
    def __init__(self, imports: dict[str, str]):
        self.hits: list[tuple[str, int]] = []
        self.imports = imports  # local alias -> module (np -> numpy)
        self.depth = 0
        self.shells = imports.setdefault("\0shells", set())  # names bound to get_ipython()

    def hit(self, rule: str, node: ast.AST) -> None:
        self.hits.append((rule, getattr(node, "lineno", 1)))

    def _module_of(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        module = self.imports.get(head, head)
        return f"{module}.{rest}" if rest else module

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports[(alias.asname or alias.name).split(".")[0]] = alias.name if alias.asname else \
                alias.name.split(".")[0]
            self._check_module(alias.name, node)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._check_module(module, node)
        for alias in node.names:
            self.imports[alias.asname or alias.name] = f"{module}.{alias.name}"
            self._check_name(f"{module}.{alias.name}", node)
        self.generic_visit(node)

    def _check_module(self, module: str, node: ast.AST) -> None:
        top = module.split(".")[0]
        if module == "builtins" or top == "builtins":
            self.hit("builtins", node)
        if top in _FRAME_MODULES or module in _FRAME_MODULES:
            self.hit("frames", node)
        if top in _PROCESS_MODULES:
            self.hit("process", node)
        if top in _NETWORK_MODULES:
            self.hit("network", node)
        if top in _DYNAMIC_MODULES:
            self.hit("dynamic-code", node)
        if top in _KERNEL_NAMES or module.startswith("IPython.core"):
            self.hit("kernel-internals", node)

    def _check_name(self, dotted: str, node: ast.AST) -> None:
        last = dotted.rsplit(".", 1)[-1]
        if last in _TRACEBACK_ATTRS:
            self.hit("traceback-hiding", node)
        if last in _FRAME_ATTRS:
            self.hit("frames", node)
        if dotted in ("sys.modules",) or dotted.endswith(".modules") and dotted.startswith("sys"):
            self.hit("sys-modules", node)
        if dotted in _PROCESS:
            self.hit("process", node)
        if "__builtins__" in dotted or dotted.startswith("builtins."):
            self.hit("builtins", node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.hit("builtins", node)
        if node.id in _KERNEL_NAMES:
            self.hit("kernel-internals", node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._module_of(_dotted(node)) if _dotted(node) else node.attr
        self._check_name(dotted, node)
        root = dotted.split(".")[0]
        if node.attr in _KERNEL_ATTRS_ALWAYS or (node.attr in _KERNEL_ATTRS and (
                "get_ipython" in dotted or root in self.shells or root in {"ip", "shell", "ipython", "_ip"})):
            self.hit("kernel-internals", node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and _dotted(node.value.func) == "get_ipython":
            self.shells.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for target in node.targets:
            self._assigned(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def _assigned(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assigned(element, node)
        elif isinstance(target, ast.Name) and target.id in SHADOW_CHECKED and self.depth == 0:
            self.hit("shadowed-builtin", node)
        elif isinstance(target, ast.Attribute):
            dotted = _dotted(target)
            root = dotted.split(".")[0] if dotted else ""
            module = self.imports.get(root, "")
            if module or root in ("builtins", "__builtins__", "sys") or "get_ipython()" in dotted:
                self.hit("monkeypatch", node)
        elif isinstance(target, ast.Subscript):
            base = _dotted(target.value)
            if "__builtins__" in base or base.endswith("modules") or base.endswith("user_ns"):
                self.hit("monkeypatch", node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name in SHADOW_CHECKED and self.depth == 0:
            self.hit("shadowed-builtin", node)
        if node.name in _EQ_METHODS and self.depth > 0:
            self.hit("eq-override", node)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name in SHADOW_CHECKED and self.depth == 0:
            self.hit("shadowed-builtin", node)
        for base in node.bases:
            name = self._module_of(_dotted(base)) if _dotted(base) else ""
            if name in _BUILTIN_TYPES or name.split(".")[0] in ("numpy", "pandas") or _LIBRARY_TYPES.match(name):
                self.hit("builtin-subclass", node)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        full = self._module_of(name) if name else ""
        last = name.rsplit(".", 1)[-1] if name else ""
        if name in _DYNAMIC or last in ("import_module", "loads") and "json" not in full:
            self.hit("dynamic-code", node)
        if name in ("setattr", "delattr") and node.args:
            self.hit("monkeypatch", node)
        if name in _PROCESS or full in _PROCESS:
            self.hit("process", node)
        if name in _FILE_CALLS or full in _FILE_CALLS or full.startswith("shutil.") or (
                isinstance(node.func, ast.Attribute) and node.func.attr in _FILE_METHODS):
            self.hit("file-access", node)
        self.generic_visit(node)


def scan_code(nb: NotebookNode, release_sources: set[str]) -> list[Finding]:
    """Suspicious code in the code cells of ``nb`` that are not identical to a release cell."""
    findings: list[Finding] = []
    imports: dict[str, str] = {}
    for index, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "") or ""
        python = to_python(source)
        known = source in release_sources
        try:
            tree = ast.parse(python)
        except SyntaxError:
            tree = None
        scanner = _Scanner(imports)
        if tree is not None:
            scanner.visit(tree)  # also for release cells: it learns their imports (np, pd ...)
        else:
            for rule, pattern in _TEXT_RULES:
                for match in pattern.finditer(python):
                    scanner.hits.append((rule, python.count("\n", 0, match.start()) + 1))
        lines = python.splitlines()
        for number, line in enumerate(_code_text(python).splitlines(), start=1):
            if _GRADER_WORDS.search(line):
                scanner.hits.append(("grader", number))
        if known:
            continue
        seen = set()
        for rule, lineno in scanner.hits:
            if (rule, lineno) in seen:
                continue
            seen.add((rule, lineno))
            text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            findings.append(Finding(rule, "hard" if rule in HARD_RULES else "review", index, grade_id, lineno,
                                    text[:160]))
    return findings


def _code_text(python: str) -> str:
    """``python`` with its comments and its one-line prose strings (a literal with a space: a message, not a
    module path) blanked, line numbers kept; the text itself if it does not tokenize."""
    import io
    import tokenize

    lines = python.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(python).readline):
            row, col = token.start
            if token.type == tokenize.COMMENT:
                lines[row - 1] = lines[row - 1][:col]
            elif token.type == tokenize.STRING and token.start[0] == token.end[0] and " " in token.string:
                end = token.end[1]
                lines[row - 1] = lines[row - 1][:col] + " " * (end - col) + lines[row - 1][end:]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return python
    return "\n".join(lines)


_TEXT_RULES = [
    ("traceback-hiding", re.compile(r"showtraceback|set_custom_exc|CustomTB|excepthook")),
    ("builtins", re.compile(r"\bbuiltins\b|__builtins__")),
    ("sys-modules", re.compile(r"sys\.modules")),
    ("frames", re.compile(r"settrace|setprofile|_getframe|\bgc\b|ctypes")),
    ("eq-override", re.compile(r"def\s+__eq__")),
    ("dynamic-code", re.compile(r"\b(exec|eval|compile|__import__)\s*\(")),
    ("process", re.compile(r"os\._exit|os\.kill|os\.fork|subprocess")),
]


@dataclass
class Structure:
    """How the graded cells of a submission differ from the release and the gradebook."""

    deleted: list[str]
    duplicated: list[str]
    retyped: list[str]
    edited: list[str]
    metadata_changed: list[str]
    unknown: list[str]
    unanswered: list[str]
    kernelspec_changed: bool

    def flags(self) -> list[str]:
        out = [f"deleted-cell:{g}" for g in self.deleted] + [f"duplicate-grade-id:{g}" for g in self.duplicated]
        out += [f"retyped-cell:{g}" for g in self.retyped] + [f"edited-cell:{g}" for g in self.edited]
        out += [f"metadata-changed:{g}" for g in self.metadata_changed]
        out += [f"unknown-cell:{g}" for g in self.unknown]
        return out + (["kernelspec-changed"] if self.kernelspec_changed else [])

    def as_dict(self) -> dict:
        return asdict(self)


def structure(nb: NotebookNode, release: NotebookNode, master: dict[str, dict]) -> Structure:
    """Compare the submitted notebook's graded cells with the release and the gradebook's ``master`` cells.

    ``master`` maps grade_id to {"cell_type", "checksum", "locked", "points" (None if not graded), "solution"}.
    """
    from nbgrader.utils import compute_checksum

    submitted = [c for c in nb.get("cells", []) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]
    counts = Counter(c.metadata.nbgrader.grade_id for c in submitted)
    released = {c.metadata.nbgrader.grade_id: c for c in release.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
    first = {}
    for cell in submitted:
        first.setdefault(cell.metadata.nbgrader.grade_id, cell)
    deleted = [g for g in master if g not in counts]
    duplicated = sorted(g for g, n in counts.items() if n > 1)
    unknown = sorted(g for g in counts if g not in master)
    retyped, edited, changed, unanswered = [], [], [], []
    for grade_id, info in master.items():
        cell = first.get(grade_id)
        if cell is None:
            continue
        if cell.cell_type != info["cell_type"]:
            retyped.append(grade_id)
            continue
        meta = cell.metadata.nbgrader
        original = released.get(grade_id)
        if bool(meta.get("grade")) != (info["points"] is not None) or bool(meta.get("solution")) != info["solution"] \
                or (info["points"] is not None and float(meta.get("points") or 0) != float(info["points"])) \
                or bool(meta.get("locked")) != bool(info["locked"]):
            changed.append(grade_id)
        try:
            checksum = compute_checksum(cell)
        except Exception:  # noqa: BLE001 - metadata too broken to checksum
            checksum = ""
        references = {info["checksum"]}
        if original is not None:
            references.add(original.metadata.nbgrader.get("checksum"))
        if info["solution"]:
            if checksum in references:
                unanswered.append(grade_id)
        elif checksum not in references and (original is None or cell.source != original.source):
            edited.append(grade_id)
    kernelspec = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    return Structure(deleted, duplicated, retyped, edited, changed, unknown, unanswered,
                     kernelspec != release.metadata.get("kernelspec", {}).get("name"))
