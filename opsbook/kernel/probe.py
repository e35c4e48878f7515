"""The kernel's side of grading: call one of the learner's names and hand back plain data.

The judge (``opsbook.grading.judge``) runs the test cells itself, outside the
kernel. When a test calls a learner's function, the judge writes a request file
and executes ``serve(<request path>)`` in the kernel. ``serve`` reads the
request (a name, arguments as plain data or references to world tables on
disk), calls the name in the notebook's namespace, and writes the result as
plain data (``plain.dumps``) to the answer path the request names, or the
error the call raised. Nothing here decides a score, so nothing here needs to
be trusted: a kernel that lies only changes the answer it gives.
"""

from __future__ import annotations

import json
import os

from opsbook.kernel import plain

_tables: dict[tuple[str, str], object] = {}


def serve(request_path: str) -> None:
    """Answer the request at ``request_path``; the answer file says what happened."""
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        answer = {"ok": _answer(request)}
    except BaseException as exc:
        answer = {"error": {"type": type(exc).__name__, "message": _short(exc)}}
        if isinstance(exc, KeyboardInterrupt):
            _write(request["answer"], answer)
            raise
    _write(request["answer"], answer)


def _answer(request: dict) -> dict:
    namespace = _user_namespace()
    name = request["name"]
    if name not in namespace:
        raise NameError(f"name {name!r} is not defined")
    value = namespace[name]
    if request["op"] == "describe":
        return plain.encode("callable" if callable(value) else "value")
    if request["op"] == "value":
        return plain.encode(value)
    args = [_argument(a) for a in request["args"]]
    kwargs = {k: _argument(v) for k, v in request["kwargs"].items()}
    return plain.encode(value(*args, **kwargs))


def _argument(spec: dict) -> object:
    if "world" in spec:
        key = (spec["dir"], spec["world"])
        if key not in _tables:
            from opsbook.data import load_table

            _tables[key] = load_table(spec["world"], spec["dir"])
        return _tables[key].copy()  # a function that changes its input changes only its own copy
    return plain.decode(spec["plain"])


def _user_namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("not running in an IPython kernel")
    return shell.user_ns


def _short(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails
        text = ""
    return text[:500]


def _write(path: str, answer: dict) -> None:
    text = json.dumps({"format": plain.FORMAT, "answer": answer}, separators=(",", ":"))
    temporary = f"{path}.part"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
