"""Plain data across the trust boundary: answers and test inputs as JSON, never pickles or objects.

``dumps(obj)`` turns what a learner's function returned (numbers, strings,
lists, dicts, numpy arrays, pandas Series, DataFrames and Index objects) into
JSON text; ``loads(text)`` rebuilds the same values in another process. Types
are recorded exactly, so ``type(x) is float`` and ``s.dtype`` survive the trip:
a ``numpy.float64`` stays one, an ``Int64`` column stays nullable, a
``RangeIndex`` stays a range. Numbers travel as raw little-endian bytes in
base64, so a million-row column costs milliseconds.

Anything else, including a subclass of a supported type (an object that claims
to equal everything), travels as its type name only and comes back as an
``Unsupported`` placeholder, which no check accepts. Decoding builds only
values from an allow-list of dtypes: nothing in the text is ever executed.

Imports only the standard library at import time; numpy and pandas are loaded
when a value needs them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from typing import Any

FORMAT = 1
MAX_ITEMS = 50_000_000          # elements of one array a decoder accepts
_NUMERIC = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float16", "float32", "float64", "complex64", "complex128"}
_TIME = re.compile(r"^(datetime64|timedelta64)\[(s|ms|us|ns)\]$")
_MASKED = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64", "boolean"}
_TZ = re.compile(r"^[A-Za-z0-9_+\-/:]{1,64}$")
_FREQ = re.compile(r"^[0-9A-Za-z\-]{1,16}$")


class PlainDataError(ValueError):
    """The text is not plain data this module wrote (or it is too large)."""


class Unsupported:
    """Stands in for a value of a type that cannot cross the boundary; equal to nothing but itself."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name} object>"

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = object.__hash__


# --------------------------------------------------------------------------- encoding
def dumps(obj: Any) -> str:
    """``obj`` as JSON text (see the module docstring for what travels)."""
    return json.dumps({"format": FORMAT, "value": encode(obj)}, separators=(",", ":"))


def encode(obj: Any) -> dict:
    """One value as a JSON-able dict."""
    kind = type(obj)
    if obj is None:
        return {"t": "none"}
    if kind in (bool, int, str):
        return {"t": kind.__name__, "v": obj}
    if kind is float:
        return {"t": "float", "v": _float(obj)}
    if kind in (list, tuple, set, frozenset):
        items = sorted(obj, key=repr) if kind in (set, frozenset) else obj
        return {"t": kind.__name__, "items": [encode(x) for x in items]}
    if kind is dict:
        return {"t": "dict", "items": [[encode(k), encode(v)] for k, v in obj.items()]}
    if kind is dt.datetime:
        return {"t": "datetime", "v": obj.isoformat()}
    if kind is dt.date:
        return {"t": "date", "v": obj.isoformat()}
    if kind is dt.timedelta:
        return {"t": "pytimedelta", "us": (obj.days * 86_400 + obj.seconds) * 1_000_000 + obj.microseconds}
    module = getattr(kind, "__module__", "") or ""
    if module.startswith("numpy"):
        return _encode_numpy(obj)
    if module.startswith("pandas"):
        return _encode_pandas(obj)
    return _unsupported(obj)


def _unsupported(obj: Any) -> dict:
    kind = type(obj)
    return {"t": "unsupported", "type": f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"}


def _float(x: float) -> Any:
    """JSON has no NaN or infinity: they travel as strings."""
    return x if math.isfinite(x) else repr(x)


def _encode_numpy(obj: Any) -> dict:
    import numpy as np

    if type(obj) is np.ndarray:
        if obj.ndim != 1 and obj.dtype.kind in "OUS":
            return _unsupported(obj)
        return {"t": "ndarray", "shape": list(obj.shape), "array": _encode_array(obj.reshape(-1))}
    if type(obj) is np.str_:
        return {"t": "npstr", "v": str(obj)}
    if isinstance(obj, np.generic) and type(obj).__module__ == "numpy":
        dtype = obj.dtype
        if dtype.name in _NUMERIC or _TIME.match(str(dtype)):
            return {"t": "npscalar", "array": _encode_array(np.asarray([obj]))}
    return _unsupported(obj)


def _encode_pandas(obj: Any) -> dict:
    import pandas as pd

    kind = type(obj)
    if kind is pd.Series:
        return {"t": "series", "name": encode(obj.name), "index": _encode_index(obj.index),
                "array": _encode_array(obj.array)}
    if kind is pd.DataFrame:
        return {"t": "frame", "index": _encode_index(obj.index), "columns": _encode_index(obj.columns),
                "arrays": [_encode_array(obj.iloc[:, i].array) for i in range(obj.shape[1])]}
    if isinstance(obj, pd.Index) and kind.__module__.startswith("pandas"):
        return {"t": "index", "index": _encode_index(obj)}
    if kind is pd.Timestamp:
        return {"t": "timestamp", "array": _encode_array(pd.array([obj]))}
    if kind is pd.Timedelta:
        return {"t": "timedelta", "array": _encode_array(pd.array([obj]))}
    if obj is pd.NaT:
        return {"t": "nat"}
    if obj is pd.NA:
        return {"t": "na"}
    if kind is pd.Period:
        return {"t": "period", "v": str(obj), "freq": obj.freqstr}
    return _unsupported(obj)


def _encode_index(index: Any) -> dict:
    import pandas as pd

    kind = type(index)
    names = [encode(n) for n in index.names]
    if kind is pd.RangeIndex:
        return {"cls": "RangeIndex", "start": index.start, "stop": index.stop, "step": index.step, "names": names}
    if kind is pd.MultiIndex:
        return {"cls": "MultiIndex", "names": names,
                "levels": [_encode_array(index.get_level_values(i).array) for i in range(index.nlevels)]}
    known = {pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex, pd.PeriodIndex}
    if kind not in known:
        return {"cls": "unsupported", "type": f"{kind.__module__}.{kind.__qualname__}", "names": names}
    out = {"cls": kind.__name__, "names": names, "array": _encode_array(index.array)}
    if kind is pd.DatetimeIndex and index.freq is not None:
        out["freq"] = index.freqstr
    return out


def _encode_array(values: Any) -> dict:
    """A 1-d numpy array or pandas extension array."""
    import numpy as np
    import pandas as pd

    if isinstance(values, np.ndarray):
        return _encode_ndarray(values)
    dtype = values.dtype
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return _encode_ndarray(values.to_numpy())
    if isinstance(values, (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray)):
        tz = getattr(dtype, "tz", None)
        if tz is not None:
            values = values.tz_convert("UTC").tz_localize(None)
        out = _encode_ndarray(values.asi8.view(f"{values.dtype.kind}8[{values.unit}]"))
        if tz is not None:
            out["tz"] = str(tz)
        return out
    if isinstance(dtype, pd.CategoricalDtype):
        return {"dtype": "category", "ordered": bool(dtype.ordered),
                "categories": _encode_array(pd.Index(dtype.categories).array),
                "codes": _encode_ndarray(np.asarray(values.codes))}
    if isinstance(dtype, pd.PeriodDtype):
        return {"dtype": "period", "freq": str(dtype)[len("period["):-1], "ordinals": _encode_ndarray(values.asi8)}
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if dtype.na_value is not pd.NA else "NA"
        return {"dtype": "string", "storage": dtype.storage, "na": na,
                "items": [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in values.tolist()]}
    if dtype.name in _MASKED:
        return {"dtype": dtype.name, "data": _b64(np.asarray(values._data)), "mask": _b64(np.asarray(values._mask))}
    return {"dtype": "unsupported", "type": str(dtype), "n": len(values)}


def _encode_ndarray(values: Any) -> dict:
    dtype = values.dtype
    if dtype.name in _NUMERIC or _TIME.match(str(dtype)):
        return {"dtype": str(dtype), "data": _b64(values)}
    if dtype.kind == "O":
        return {"dtype": "object", "items": [encode(x) for x in values.tolist()]}
    if dtype.kind == "U":
        return {"dtype": "unicode", "items": values.tolist()}
    return {"dtype": "unsupported", "type": str(dtype), "n": len(values)}


def _b64(values: Any) -> str:
    import numpy as np

    little = values.astype(values.dtype.newbyteorder("<"), copy=False) if values.dtype.byteorder == ">" else values
    return base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii")


# --------------------------------------------------------------------------- decoding
def loads(text: str | bytes) -> Any:
    """Rebuild a value written by ``dumps``; raises ``PlainDataError`` on anything else."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PlainDataError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "value" not in data:
        raise PlainDataError("not plain data of this format")
    try:
        return decode(data["value"])
    except PlainDataError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, RecursionError) as exc:
        raise PlainDataError(f"malformed plain data ({type(exc).__name__}: {exc})") from None


def decode(node: dict) -> Any:
    """One value from its JSON-able dict."""
    kind = node["t"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = node["v"]
        if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
            raise PlainDataError(f"a {kind} holds {type(value).__name__}")
        return value
    if kind == "float":
        value = node["v"]
        return float(value) if type(value) in (int, float) or value in ("nan", "inf", "-inf") else _bad(kind)
    if kind in ("list", "tuple", "set", "frozenset"):
        items = [decode(x) for x in node["items"]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
    if kind == "dict":
        return {decode(k): decode(v) for k, v in node["items"]}
    if kind == "datetime":
        return dt.datetime.fromisoformat(node["v"])
    if kind == "date":
        return dt.date.fromisoformat(node["v"])
    if kind == "pytimedelta":
        return dt.timedelta(microseconds=int(node["us"]))
    if kind == "unsupported":
        return Unsupported(str(node["type"])[:200])
    if kind == "ndarray":
        shape = [int(n) for n in node["shape"]]
        array = _decode_numpy_array(node["array"])
        return array.reshape(shape)
    if kind == "npscalar":
        return _decode_numpy_array(node["array"])[0]
    if kind == "npstr":
        import numpy as np

        value = node["v"]
        return np.str_(value) if type(value) is str else _bad(kind)
    return _decode_pandas(node)


def _bad(kind: str) -> Any:
    raise PlainDataError(f"malformed {kind}")


def _decode_pandas(node: dict) -> Any:
    import pandas as pd

    kind = node["t"]
    if kind == "series":
        index = _decode_index(node["index"])
        values = _decode_array(node["array"])
        if len(values) != len(index):
            raise PlainDataError("a Series whose index and values differ in length")
        return pd.Series(values, index=index, name=decode(node["name"]), copy=False)
    if kind == "frame":
        index = _decode_index(node["index"])
        columns = _decode_index(node["columns"])
        arrays = [_decode_array(a) for a in node["arrays"]]
        if len(arrays) != len(columns) or any(len(a) != len(index) for a in arrays):
            raise PlainDataError("a DataFrame whose columns and values do not match")
        frame = pd.DataFrame(dict(enumerate(arrays)), index=index) if arrays else pd.DataFrame(index=index)
        frame.columns = columns
        return frame
    if kind == "index":
        return _decode_index(node["index"])
    if kind in ("timestamp", "timedelta"):
        value = _decode_array(node["array"])[0]
        return pd.Timestamp(value) if kind == "timestamp" else pd.Timedelta(value)
    if kind == "nat":
        return pd.NaT
    if kind == "na":
        return pd.NA
    if kind == "period":
        freq = str(node["freq"])
        if not _FREQ.match(freq):
            raise PlainDataError("malformed period")
        return pd.Period(str(node["v"])[:40], freq=freq)
    raise PlainDataError(f"unknown kind {kind!r}")


def _decode_index(node: dict) -> Any:
    import pandas as pd

    names = [decode(n) for n in node["names"]]
    cls = node["cls"]
    if cls == "RangeIndex":
        start, stop, step = (int(node[k]) for k in ("start", "stop", "step"))
        if step == 0 or abs((stop - start) // step) > MAX_ITEMS:
            raise PlainDataError("malformed RangeIndex")
        return pd.RangeIndex(start, stop, step, name=names[0] if names else None)
    if cls == "MultiIndex":
        levels = [_decode_array(a) for a in node["levels"]]
        if not levels or len(names) != len(levels):
            raise PlainDataError("malformed MultiIndex")
        return pd.MultiIndex.from_arrays(levels, names=names)
    if cls == "unsupported":
        return Unsupported(str(node["type"])[:200])
    values = _decode_array(node["array"])
    name = names[0] if names else None
    made = {"Index": pd.Index, "DatetimeIndex": pd.DatetimeIndex, "TimedeltaIndex": pd.TimedeltaIndex,
            "CategoricalIndex": pd.CategoricalIndex, "PeriodIndex": pd.PeriodIndex}
    if cls not in made:
        raise PlainDataError(f"unknown index class {cls!r}")
    index = made[cls](values, name=name, copy=False) if cls != "Index" else pd.Index(values, name=name, copy=False)
    if "freq" in node:
        freq = str(node["freq"])
        if cls != "DatetimeIndex" or not _FREQ.match(freq):
            raise PlainDataError("malformed index frequency")
        index = pd.DatetimeIndex(index, freq=freq)
    if type(index).__name__ != cls:
        raise PlainDataError(f"an {cls} that is not one")
    return index


def _decode_numpy_array(node: dict) -> Any:
    import numpy as np

    dtype = str(node["dtype"])
    if dtype in _NUMERIC or _TIME.match(dtype):
        raw = base64.b64decode(node["data"], validate=True)
        itemsize = np.dtype(dtype).itemsize
        if len(raw) % itemsize or len(raw) // itemsize > MAX_ITEMS:
            raise PlainDataError("array bytes do not fit the dtype")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    if dtype == "object":
        items = node["items"]
        if len(items) > MAX_ITEMS:
            raise PlainDataError("array too long")
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = decode(item)
        return out
    if dtype == "unicode":
        items = node["items"]
        if not all(type(x) is str for x in items):
            raise PlainDataError("malformed unicode array")
        return np.asarray(items, dtype=str)
    if dtype == "unsupported":
        out = np.empty(min(int(node["n"]), MAX_ITEMS), dtype=object)
        out[:] = [Unsupported(str(node["type"])[:200]) for _ in range(len(out))]
        return out
    raise PlainDataError(f"dtype {dtype!r} is not allowed")


def _decode_array(node: dict) -> Any:
    """A numpy array or a pandas extension array, rebuilt from an allow-listed dtype."""
    import numpy as np
    import pandas as pd

    dtype = str(node["dtype"])
    if "tz" in node:
        tz = str(node["tz"])
        if not _TZ.match(tz):
            raise PlainDataError("malformed time zone")
        return pd.DatetimeIndex(_decode_numpy_array(node)).tz_localize("UTC").tz_convert(tz).array
    if dtype == "category":
        categories = _decode_array(node["categories"])
        codes = _decode_numpy_array(node["codes"])
        if codes.dtype.kind != "i" or (len(codes) and (codes.max() >= len(categories) or codes.min() < -1)):
            raise PlainDataError("malformed categorical")
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories), ordered=bool(node["ordered"]))
    if dtype == "period":
        freq = str(node["freq"])
        if not _FREQ.match(freq):
            raise PlainDataError("malformed period frequency")
        return pd.arrays.PeriodArray(_decode_numpy_array(node["ordinals"]).astype("int64"),
                                     dtype=pd.PeriodDtype(freq))
    if dtype == "string":
        items = node["items"]
        if not all(x is None or type(x) is str for x in items) or node["storage"] not in ("python", "pyarrow"):
            raise PlainDataError("malformed string array")
        string_dtype = pd.StringDtype(node["storage"], na_value=np.nan if node["na"] == "nan" else pd.NA)
        return pd.array(items, dtype=string_dtype)
    if dtype in _MASKED:
        numpy_dtype = {"boolean": "bool", "Float32": "float32", "Float64": "float64"}.get(dtype, dtype.lower())
        data = _decode_numpy_array({"dtype": numpy_dtype, "data": node["data"]})
        mask = _decode_numpy_array({"dtype": "bool", "data": node["mask"]})
        if len(mask) != len(data):
            raise PlainDataError("malformed masked array")
        return pd.array(data, dtype=dtype) if not mask.any() else _masked(data, mask, dtype)
    return _decode_numpy_array(node)


def _masked(data: Any, mask: Any, dtype: str) -> Any:
    import pandas as pd

    values = pd.array(data, dtype=dtype)
    values[mask] = pd.NA
    return values
