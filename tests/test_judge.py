"""Verdicts outside the kernel: the plain-data codec, the check helpers, the exchange folder, the judge.

The judge's end-to-end behaviour (scores through nbgrader's autograde, the contracts, the red team) is
tested in test_contracts.py and test_classgrade.py; here are its pieces, fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pytest

from opsbook import check
from opsbook.grading.judge import CellNamespace, Exchange, describe_failure
from opsbook.kernel import plain

# --------------------------------------------------------------------------- plain data
ROUND_TRIP = [
    None, True, 3, 2.5, "héllo", np.str_("2025-05"), np.float64(1.5), np.int64(3), np.bool_(True), [1, (2, 3)],
    {"a": 1, 2: [3]},
    {1, 2}, frozenset({"x"}), dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 3), dt.timedelta(hours=2),
    pd.Timestamp("2025-01-01 10:00"), pd.Timedelta("1h"), pd.Period("2025-03", "M"),
    pd.Series([1, 2, 3]),
    pd.Series([1.0, np.nan], index=pd.date_range("2025-01-01", periods=2, name="day"), name="dau"),
    pd.Series(["a", None]), pd.Series(["a", None], dtype="string"), pd.Series([1, None], dtype="Int64"),
    pd.Series([True, None], dtype="boolean"),
    pd.Series(pd.Categorical(["x", "y", "x"], categories=["y", "x"], ordered=True)),
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"], 3: [1.5, 2.5]},
                 index=pd.MultiIndex.from_arrays([[1, 2], ["u", "v"]], names=["k", "l"])),
    pd.DataFrame({"t": pd.to_datetime(["2025-01-01"]).tz_localize("Asia/Shanghai")}),
    pd.Index([1, 2]), pd.RangeIndex(0, 10, 2, name="r"), pd.period_range("2025-01", periods=3, freq="M"),
    np.array([[1, 2], [3, 4]]), np.array(["a", "b"]), pd.DataFrame(),
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_plain_data_keeps_exact_types_and_values(value):
    back = plain.loads(plain.dumps(value))
    assert type(back) is type(value)
    if isinstance(value, pd.Series):
        pd.testing.assert_series_equal(back, value, check_freq=False)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, pd.Index):
        assert back.equals(value) and back.dtype == value.dtype and back.names == value.names
    elif isinstance(value, np.ndarray):
        assert (back == value).all() and back.dtype == value.dtype and back.shape == value.shape
    else:
        assert back == value


def test_plain_data_keeps_nan_nat_and_na():
    assert np.isnan(plain.loads(plain.dumps(float("nan"))))
    assert plain.loads(plain.dumps(pd.NaT)) is pd.NaT and plain.loads(plain.dumps(pd.NA)) is pd.NA


def test_objects_that_lie_arrive_as_placeholders_no_check_accepts():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    class EqualSeries(pd.Series):
        pass

    for liar in (AlwaysEqual(0.25), EqualSeries([1]), object()):
        back = plain.loads(plain.dumps(liar))
        assert isinstance(back, plain.Unsupported) and back != 0.25 and back != back.__class__("x")
        with pytest.raises(AssertionError, match="expected a float"):
            check.number(back, 0.25, "rate")


@pytest.mark.parametrize("text", [
    "not json", json.dumps({"format": 99, "value": {}}), json.dumps({"format": 1, "value": {"t": "eval", "v": "1"}}),
    json.dumps({"format": 1, "value": {"t": "ndarray", "shape": [1],
                                       "array": {"dtype": "object_pickle", "items": []}}}),
    json.dumps({"format": 1, "value": {"t": "ndarray", "shape": [2], "array": {"dtype": "int64", "data": "AAAA"}}}),
    json.dumps({"format": 1, "value": {"t": "series", "name": {"t": "none"}, "index": {"cls": "RangeIndex", "start": 0,
               "stop": 3, "step": 1, "names": [{"t": "none"}]}, "array": {"dtype": "float64", "data": ""}}}),
])
def test_plain_data_refuses_anything_it_did_not_write(text):
    with pytest.raises(plain.PlainDataError):
        plain.loads(text)


# --------------------------------------------------------------------------- check helpers
def test_series_check_says_what_differs_in_words():
    days = pd.date_range("2025-03-01", periods=4)
    want = pd.Series([2, 1, 0, 1], index=days)
    check.series(want.copy(), want, "dau", dtype="integer", index_type=pd.DatetimeIndex)
    cases = [
        (want.to_frame(), "expected a pd.Series, got a pd.DataFrame"),
        (want.drop(days[2]), "1 label(s) missing (first: 2025-03-03)"),
        (want.astype(float), "expected integer values, got dtype float64"),
        (want.set_axis(days.astype(str)), "the index should be a DatetimeIndex, got a Index"),
        (want.iloc[::-1], "not in the expected order"),
        (want + np.array([0, 0, 1, 0]), "1 of 4 value(s) differ (first at 2025-03-03: got 1)"),
    ]
    for got, message in cases:
        with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check.series(got, want, "dau", dtype="integer", index_type=pd.DatetimeIndex)


def test_hidden_messages_do_not_hand_out_the_expected_value():
    want = pd.Series([10.0, 20.0])
    with pytest.raises(AssertionError) as hidden:
        check.series(pd.Series([10.0, 21.0]), want, "x")
    assert "20" not in str(hidden.value)
    with pytest.raises(AssertionError) as shown:
        check.number(0.5, 0.25, "rate", show_expected=True)
    assert "expected 0.25" in str(shown.value)


def test_checks_accept_any_order_when_asked_and_nan_only_where_nan():
    want = pd.Series([1.0, np.nan], index=["a", "b"])
    check.series(pd.Series([np.nan, 1.0], index=["b", "a"]), want, "x", order=False)
    with pytest.raises(AssertionError, match="should be missing"):
        check.series(pd.Series([1.0, 0.0], index=["a", "b"]), want, "x")
    with pytest.raises(AssertionError, match="missing \\(NaN\\) where a value is expected"):
        check.series(pd.Series([np.nan, np.nan], index=["a", "b"]), want, "x")


def test_frame_check_names_the_column():
    want = pd.DataFrame({"new": [1, 2], "returning": [0, 1]})
    check.frame(want[["returning", "new"]], want, "split")
    with pytest.raises(AssertionError, match="column 'returning'"):
        check.frame(want.assign(returning=[0, 2]), want, "split")
    with pytest.raises(AssertionError, match="the columns differ"):
        check.frame(want.rename(columns={"new": "fresh"}), want, "split")


def test_messages_in_chinese():
    check.set_language("zh")
    try:
        with pytest.raises(AssertionError, match="应为"):
            check.number("0.5", 0.5, "rate")
    finally:
        check.set_language("en")


# --------------------------------------------------------------------------- the exchange folder
def test_exchange_ignores_links_and_oversized_answers(tmp_path):
    exchange = Exchange(tmp_path)
    try:
        request, answer = exchange.request({"op": "value", "name": "x"})
        with open(request) as handle:
            assert json.load(handle)["answer"].endswith(answer)
        assert exchange.answer(answer) is None, "no answer yet"
        secret = tmp_path / "secret.json"
        secret.write_text(json.dumps({"format": 1, "answer": {"ok": {"t": "int", "v": 1}}}))
        os.symlink(secret, exchange.path / answer)
        assert exchange.answer(answer) is None, "a link planted by the kernel is never followed"
        os.unlink(exchange.path / answer)
        (exchange.path / answer).write_text(json.dumps({"format": 1, "answer": {"ok": {"t": "int", "v": 7}}}))
        assert exchange.answer(answer) == {"format": 1, "answer": {"ok": {"t": "int", "v": 7}}}
        moved = tmp_path / "moved"
        exchange.path.rename(moved)
        os.symlink(tmp_path, exchange.path)  # the folder replaced by a link: still the grader's own descriptor
        assert exchange.answer(answer) is not None
    finally:
        os.close(exchange.fd)


def test_test_namespace_keeps_the_graders_names_and_builtins():
    class Link:
        def resolve(self, name):
            return f"remote {name}"

    namespace = CellNamespace({"check": check, "world": {}}, Link())
    exec("a = check; b = len; c = dau", namespace)
    assert namespace["a"] is check and namespace["b"] is len and namespace["c"] == "remote dau"
    with pytest.raises(NameError):
        exec("__secret__", namespace)


def test_a_failure_is_one_line_of_the_check():
    assert describe_failure(AssertionError("dau: wrong")) == ("AssertionError", "dau: wrong")
    assert describe_failure(KeyError("x"))[0] == "KeyError"
