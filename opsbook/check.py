"""Checks for exercises: compare an answer with what was expected and say in words what differs.

    from opsbook import check
    check.series(dau(tiny), expected, "dau(tiny)", dtype="integer", index_type="DatetimeIndex")

Each function raises ``AssertionError`` with a message a learner can act on
("dau(tiny): 2 of 4 values differ, first on 2025-03-03: got 1, expected 0"),
and returns nothing when the answer is right. Visible checks in the notebooks
and the hidden tests use the same functions; in grading they run in the grader's
own process, so changing this module inside a notebook changes nothing there.

``show_expected=False`` leaves expected values out of the message (hidden tests
on the real data should not hand out the answer). Messages exist in English and
Chinese: ``set_language("zh")``.

Types are checked exactly (``type(x) is float``): a numpy number, a subclass,
or an object that claims to equal everything is not a float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from opsbook import language as _language

__all__ = ["frame", "is_type", "number", "same_items", "series", "set_language", "text", "values"]

_MESSAGES = {
    "en": {
        "type": "{what}: expected {want}, got {got}",
        "not_number": "{what}: expected a number, got {got}",
        "nan": "{what}: expected {want}, got NaN",
        "want_nan": "{what}: expected NaN (no value), got {got}",
        "number": "{what}: got {got}{expected}",
        "expected": ", expected {want}",
        "index_type": "{what}: the index should be a {want}, got a {got}",
        "length": "{what}: expected {want} rows, got {got}",
        "missing": "{n} label(s) missing (first: {first})",
        "extra": "{n} unexpected label(s) (first: {first})",
        "labels": "{what}: the index labels differ: {details}",
        "order": "{what}: the labels are right but not in the expected order (first difference at position {pos}: "
                 "got {got}{expected})",
        "duplicated": "{what}: the index has repeated labels (first: {first})",
        "dtype": "{what}: expected {want} values, got dtype {got}",
        "na_extra": "{what}: {n} value(s) are missing (NaN) where a value is expected (first at {where})",
        "na_missing": "{what}: {n} value(s) should be missing (NaN) but are not (first at {where}: got {got})",
        "values": "{what}: {n} of {total} value(s) differ (first at {where}: got {got}{expected})",
        "columns": "{what}: the columns differ: {details}",
        "column": "{what}, column '{column}'",
        "items": "{what}: the items differ: {details}",
        "text": "{what}: got {got}{expected}",
        "kinds": {"integer": "integer", "float": "decimal (float)", "number": "numeric", "bool": "True/False",
                  "string": "text", "datetime": "date-time"},
        "a": "a {name}",
        "a_value": "a {name} ({value})",
    },
    "zh": {
        "type": "{what}：应为{want}，实际是{got}",
        "not_number": "{what}：应为数字，实际是{got}",
        "nan": "{what}：应为{want}，实际是 NaN",
        "want_nan": "{what}：应为 NaN（无值），实际是 {got}",
        "number": "{what}：实际是 {got}{expected}",
        "expected": "，应为 {want}",
        "index_type": "{what}：索引应为 {want}，实际是 {got}",
        "length": "{what}：应有 {want} 行，实际有 {got} 行",
        "missing": "缺少 {n} 个标签（第一个：{first}）",
        "extra": "多出 {n} 个标签（第一个：{first}）",
        "labels": "{what}：索引标签不一致：{details}",
        "order": "{what}：标签对了，但顺序不对（第 {pos} 个位置起不同：实际是 {got}{expected}）",
        "duplicated": "{what}：索引有重复的标签（第一个：{first}）",
        "dtype": "{what}：应为{want}值，实际 dtype 是 {got}",
        "na_extra": "{what}：有 {n} 个值缺失（NaN），但这里应该有值（第一个在 {where}）",
        "na_missing": "{what}：有 {n} 个值应为缺失（NaN），却有值（第一个在 {where}：实际是 {got}）",
        "values": "{what}：{total} 个值中有 {n} 个不对（第一个在 {where}：实际是 {got}{expected}）",
        "columns": "{what}：列不一致：{details}",
        "column": "{what}，列“{column}”",
        "items": "{what}：元素不一致：{details}",
        "text": "{what}：实际是 {got}{expected}",
        "kinds": {"integer": "整数", "float": "小数（float）", "number": "数值", "bool": "布尔（True/False）",
                  "string": "文本", "datetime": "日期时间"},
        "a": "{name}",
        "a_value": "{name}（{value}）",
    },
}


def set_language(language: str) -> None:
    """Write messages in ``"en"`` (English) or ``"zh"`` (Chinese)."""
    _language.set(language)


def _say(key: str, **fields: Any) -> str:
    return _MESSAGES[_language.get()][key].format(**fields)


def _fail(key: str, **fields: Any) -> None:
    raise AssertionError(_say(key, **fields))


# --------------------------------------------------------------------------- formatting
def _type_name(value: Any) -> str:
    kind = type(value)
    if kind.__module__ in ("builtins", "opsbook.kernel.plain"):
        return repr(value) if kind.__name__ == "Unsupported" else kind.__name__
    module = kind.__module__.split(".")[0]
    prefix = {"pandas": "pd", "numpy": "np"}.get(module, module)
    return f"{prefix}.{kind.__name__}"


def _described(value: Any) -> str:
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, np.generic):
        return _say("a_value", name=_type_name(value), value=_fmt(value))
    return _say("a", name=_type_name(value))


def _fmt(value: Any) -> str:
    """A value as a learner reads it: 2025-03-04, 0.4215, 'ios'."""
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            return "NaT"
        return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else str(stamp)
    if isinstance(value, (float, np.floating)):
        if value != value:
            return "NaN"
        return f"{float(value):.6g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, str):
        return repr(value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_wanted(kinds: type | tuple[type, ...]) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " / ".join(_say("a", name=_type_name_of(k)) for k in kinds)


def _type_name_of(kind: type) -> str:
    module = kind.__module__.split(".")[0]
    prefix = {"pandas": "pd", "numpy": "np", "builtins": ""}.get(module, module)
    return f"{prefix}.{kind.__name__}" if prefix else kind.__name__


# --------------------------------------------------------------------------- checks
def is_type(got: Any, kinds: type | tuple[type, ...], what: str) -> None:
    """``type(got)`` is exactly one of ``kinds`` (no subclasses)."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if type(got) not in kinds:
        _fail("type", what=what, want=_type_wanted(kinds), got=_described(got))


def number(got: Any, want: float | None, what: str, *, kind: type | tuple[type, ...] = (float, int),
           rel: float = 1e-9, abs: float = 1e-9, show_expected: bool = True) -> None:
    """A plain Python number close to ``want`` (``None`` or NaN: the answer must be NaN)."""
    is_type(got, kind, what)
    want_nan = want is None or (isinstance(want, float) and math.isnan(want))
    got_nan = isinstance(got, float) and math.isnan(got)
    if want_nan:
        if not got_nan:
            _fail("want_nan", what=what, got=_fmt(got))
        return
    if got_nan:
        _fail("nan", what=what, want=_fmt(want) if show_expected else _say("a", name="number"))
    if not math.isclose(got, want, rel_tol=rel, abs_tol=abs):
        _fail("number", what=what, got=_fmt(got), expected=_expected(want, show_expected))


def text(got: Any, want: str, what: str, *, show_expected: bool = True) -> None:
    """A plain ``str`` equal to ``want``."""
    is_type(got, str, what)
    if got != want:
        _fail("text", what=what, got=_fmt(got), expected=_expected(want, show_expected))


def same_items(got: Any, want: Iterable, what: str, *, kinds: type | tuple[type, ...] = (list, tuple, set),
               show_expected: bool = True) -> None:
    """A collection holding exactly the items of ``want``, in any order."""
    is_type(got, kinds, what)
    got_items, want_items = list(got), list(want)
    missing = [w for w in want_items if w not in got_items]
    extra = [g for g in got_items if g not in want_items]
    if missing or extra or len(got_items) != len(want_items):
        _fail("items", what=what, details=_label_details(missing, extra, show_expected))


def values(got: Any, want: Any, what: str, *, rel: float = 1e-9, abs: float = 1e-9, where: Any = None,
           show_expected: bool = True) -> None:
    """Two equally long 1-d arrays (or lists, Series values) equal within the tolerance; NaN where NaN."""
    _compare_values(np.asarray(got, dtype=object), np.asarray(want, dtype=object), what, rel, abs,
                    list(where) if where is not None else None, show_expected)


def series(got: Any, want: pd.Series, what: str, *, dtype: str | None = None, index_type: type | str | None = None,
           order: bool = True, name: bool = False, rel: float = 1e-9, abs: float = 1e-9,
           show_expected: bool = False) -> None:
    """A ``pd.Series`` with the labels and values of ``want``.

    ``dtype``: "integer", "float", "number", "bool", "string" or "datetime" (a family, not one dtype).
    ``index_type``: the index class wanted, e.g. ``pd.DatetimeIndex`` or its name.
    ``order=False`` accepts the labels in any order. ``name=True`` also checks ``got.name``.
    """
    is_type(got, pd.Series, what)
    _check_index(got.index, want.index, what, index_type, order, show_expected)
    if name and got.name != want.name:
        _fail("text", what=f"{what}.name", got=_fmt(got.name), expected=_expected(want.name, True))
    if dtype is not None:
        _check_dtype(got, dtype, what)
    aligned = got.reindex(want.index) if not order else got
    _compare_series(aligned, want, what, rel, abs, show_expected)


def frame(got: Any, want: pd.DataFrame, what: str, *, dtypes: dict[str, str] | None = None,
          index_type: type | str | None = None, order: bool = True, columns_order: bool = False,
          extra_columns: bool = False, rel: float = 1e-9, abs: float = 1e-9, show_expected: bool = False) -> None:
    """A ``pd.DataFrame`` with the columns, labels and values of ``want``.

    ``dtypes``: a dtype family per column (see ``series``). ``extra_columns=True`` allows columns
    beyond ``want``'s; ``columns_order=True`` also checks their order.
    """
    is_type(got, pd.DataFrame, what)
    got_columns, want_columns = list(got.columns), list(want.columns)
    missing = [c for c in want_columns if c not in got_columns]
    extra = [] if extra_columns else [c for c in got_columns if c not in want_columns]
    if missing or extra:
        _fail("columns", what=what, details=_label_details(missing, extra, True))
    if columns_order and [c for c in got_columns if c in want_columns] != want_columns:
        _fail("columns", what=what, details=", ".join(map(str, got_columns)))
    _check_index(got.index, want.index, what, index_type, order, show_expected)
    aligned = got.reindex(want.index) if not order else got
    for column in want_columns:
        label = _say("column", what=what, column=column)
        if dtypes and column in dtypes:
            _check_dtype(got[column], dtypes[column], label)
        _compare_series(aligned[column], want[column], label, rel, abs, show_expected)


# --------------------------------------------------------------------------- pieces
def _expected(want: Any, show: bool) -> str:
    return _say("expected", want=_fmt(want)) if show else ""


def _label_details(missing: list, extra: list, show_missing: bool) -> str:
    parts = []
    if missing:
        parts.append(_say("missing", n=len(missing), first=_fmt(missing[0]) if show_missing else "…"))
    if extra:
        parts.append(_say("extra", n=len(extra), first=_fmt(extra[0])))
    return "; ".join(parts)


def _check_index(got: pd.Index, want: pd.Index, what: str, index_type: type | str | None, order: bool,
                 show_expected: bool) -> None:
    if index_type is not None:
        wanted = index_type if isinstance(index_type, str) else index_type.__name__
        if type(got).__name__ != wanted and not (wanted == "Index" and type(got) is pd.RangeIndex):
            _fail("index_type", what=what, want=wanted, got=type(got).__name__)
    if got.has_duplicates:
        _fail("duplicated", what=what, first=_fmt(got[got.duplicated()][0]))
    if _same_labels(got, want, order):
        return
    got_labels, want_labels = list(got), list(want)
    if len(got_labels) != len(want_labels) or set(map(_key, got_labels)) != set(map(_key, want_labels)):
        got_keys, want_keys = {_key(x) for x in got_labels}, {_key(x) for x in want_labels}
        missing = [x for x in want_labels if _key(x) not in got_keys]
        extra = [x for x in got_labels if _key(x) not in want_keys]
        if not missing and not extra:
            _fail("length", what=what, want=len(want_labels), got=len(got_labels))
        _fail("labels", what=what, details=_label_details(missing, extra, show_expected or len(want_labels) <= 20))
    if order:
        for position, (g, w) in enumerate(zip(got_labels, want_labels)):
            if _key(g) != _key(w):
                _fail("order", what=what, pos=position + 1, got=_fmt(g), expected=_expected(w, show_expected))


def _same_labels(got: pd.Index, want: pd.Index, order: bool) -> bool:
    """A quick yes when the labels are plainly equal (the detailed comparison explains a no)."""
    try:
        if order:
            return len(got) == len(want) and bool(got.equals(want))
        return len(got) == len(want) and bool(got.sort_values().equals(want.sort_values()))
    except (TypeError, ValueError):
        return False


def _key(label: Any) -> Any:
    """A hashable key that treats 1 and 1.0, numpy and Python numbers, and timestamps alike."""
    if isinstance(label, tuple):
        return tuple(_key(x) for x in label)
    if isinstance(label, (pd.Timestamp, np.datetime64)):
        return ("time", pd.Timestamp(label).value if not pd.isna(label) else None)
    if isinstance(label, (np.generic,)):
        return label.item()
    return label


_DTYPE_CHECKS = {
    "integer": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "number": lambda d: pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d),
    "bool": pd.api.types.is_bool_dtype,
    "string": lambda d: pd.api.types.is_string_dtype(d),
    "datetime": pd.api.types.is_datetime64_any_dtype,
}


def _check_dtype(got: pd.Series, family: str, what: str) -> None:
    if not _DTYPE_CHECKS[family](got.dtype):
        _fail("dtype", what=what, want=_MESSAGES[_language.get()]["kinds"][family], got=got.dtype)


def _objects(s: pd.Series) -> np.ndarray:
    return s.astype(object).to_numpy()


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _compare_series(got: pd.Series, want: pd.Series, what: str, rel: float, abs: float, show_expected: bool) -> None:
    """Values of two equally indexed Series: vectorised for numbers and times, item by item otherwise."""
    if len(got) != len(want):
        _fail("length", what=what, want=len(want), got=len(got))
    if _numeric(got) and _numeric(want):
        g, w = got.to_numpy(dtype=float, na_value=np.nan), want.to_numpy(dtype=float, na_value=np.nan)
        same = (np.isnan(g) == np.isnan(w)) & (np.isnan(w) | np.isclose(g, w, rtol=rel, atol=abs))
        if bool(same.all()):
            return
    elif not _numeric(want) and not _numeric(got):
        g, w = got.reset_index(drop=True), want.reset_index(drop=True)
        try:
            same = g.eq(w) | (g.isna() & w.isna())
            if bool(same.all()):
                return
        except (TypeError, ValueError):
            pass
    _compare_values(_objects(got), _objects(want), what, rel, abs, list(want.index), show_expected)


def _missing(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    """``values`` as floats when every item is a plain or numpy number (or missing), else None."""
    numeric = (int, float, np.integer, np.floating)
    if all((isinstance(x, numeric) and not isinstance(x, (bool, np.bool_))) or _missing(x) for x in values):
        return np.array([np.nan if _missing(x) else float(x) for x in values], dtype=float)
    return None


def _compare_values(got: np.ndarray, want: np.ndarray, what: str, rel: float, abs: float, where: list | None,
                    show_expected: bool) -> None:
    if len(got) != len(want):
        _fail("length", what=what, want=len(want), got=len(got))
    labels = where if where is not None else list(range(len(want)))
    got_na = np.array([_missing(x) for x in got], dtype=bool)
    want_na = np.array([_missing(x) for x in want], dtype=bool)
    extra_na = np.flatnonzero(got_na & ~want_na)
    if len(extra_na):
        _fail("na_extra", what=what, n=len(extra_na), where=_fmt(labels[extra_na[0]]))
    missing_na = np.flatnonzero(want_na & ~got_na)
    if len(missing_na):
        i = missing_na[0]
        _fail("na_missing", what=what, n=len(missing_na), where=_fmt(labels[i]), got=_fmt(got[i]))
    want_numbers = _as_numbers(want)
    got_numbers = _as_numbers(got) if want_numbers is not None else None
    if want_numbers is not None and got_numbers is not None:
        close = np.isclose(got_numbers, want_numbers, rtol=rel, atol=abs) | want_na
        wrong = list(np.flatnonzero(~close))
    else:
        wrong = [i for i in np.flatnonzero(~want_na) if not _equal(got[i], want[i], rel, abs)]
    if wrong:
        i = wrong[0]
        _fail("values", what=what, n=len(wrong), total=len(want), where=_fmt(labels[i]), got=_fmt(got[i]),
              expected=_expected(want[i], show_expected))


def _equal(got: Any, want: Any, rel: float, abs: float) -> bool:
    numeric = (int, float, np.integer, np.floating)
    if isinstance(want, numeric) and not isinstance(want, (bool, np.bool_)):
        if not isinstance(got, numeric) or isinstance(got, (bool, np.bool_)):
            return False
        return math.isclose(float(got), float(want), rel_tol=rel, abs_tol=abs)
    if isinstance(want, (pd.Timestamp, np.datetime64)):
        return isinstance(got, (pd.Timestamp, np.datetime64)) and pd.Timestamp(got) == pd.Timestamp(want)
    try:
        return bool(type(got) is type(want) and got == want) or (
            isinstance(got, (bool, np.bool_)) and isinstance(want, (bool, np.bool_)) and bool(got) == bool(want)) or (
            isinstance(got, str) and isinstance(want, str) and got == want)
    except (TypeError, ValueError):
        return False
