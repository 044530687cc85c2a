"""The kernel side of a hidden test: call the student's code on the grader's inputs, return data.

This file is copied into every grading kernel's folder as ``ds4023_probe.py``. It holds no
reference solution, no expected value and no comparison: a hidden test cell's hidden region is
one expression, ``__import__("ds4023_probe").run("<grade_id>", globals())``, that the grader
evaluates through Jupyter's ``user_expressions`` (never through the student's input
transformers) after the cell's visible part ran. ``run`` reads the cases of that test from
``ds4023_inputs.npz`` (written by the grader), calls the student's functions on copies of the
inputs, and returns a :class:`Record` of plain numbers and arrays. The grader judges it
(``ds4023.judge``) in a process the kernel cannot see, so anything the student's code does to
this module can only change the numbers it claims, never how they are judged.

Written by hand because no library turns "call these functions on these inputs inside a
Jupyter kernel and hand back the results as data" into one call; it depends on the standard
library and NumPy only (the kernel's environment), and the grader imports the same file to
resolve the inputs, so both sides read the cases alike.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import warnings
import zlib
from pathlib import Path

import numpy as np

#: The MIME type of a record, as the grader reads it from the expression's result.
MIME = "application/vnd.ds4023.record+json"
#: The inputs file the grader puts beside the notebook.
INPUTS = "ds4023_inputs.npz"
#: Most encoded bytes one record may hold; larger results are reported as too large.
MAX_RECORD_BYTES = 8 * 2**20
#: Most items of a tuple or list result that are kept.
MAX_ITEMS = 16
_MISSING = object()


class Record:
    """The results of one hidden test, shown to Jupyter as one JSON document of our MIME type."""

    def __init__(self, payload: dict) -> None:
        self.payload = payload

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME: self.payload, "text/plain": f"<ds4023 record {self.payload['grade_id']}>"}


def load_inputs(folder: Path | str = ".") -> tuple[dict, dict]:
    """Read the grader's inputs file: ``(arrays, tests)``; tests maps grade_id -> cases."""
    with np.load(Path(folder) / INPUTS, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__tests__"}
        tests = json.loads(bytes(data["__tests__"]).decode())
    return arrays, tests


def save_inputs(arrays: dict, tests: dict) -> bytes:
    """The bytes of an inputs file: the cases ``tests`` and the ``arrays`` they use (grader)."""
    text = json.dumps(tests, sort_keys=True)
    used = {k: np.asarray(v) for k, v in sorted(arrays.items()) if f'"array": "{k}"' in text}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __tests__=np.frombuffer(text.encode(), dtype=np.uint8), **used)
    return buffer.getvalue()


def resolve(arg, arrays: dict, namespace: dict | None = None):
    """One argument of a case: a literal, ``{"array": name, "rows": [start, stop, step]}`` (a
    fresh float64 copy of the grader's array, rows sliced, or ``"row": i`` for one row;
    ``"dtype"`` to change the type), or ``{"global": name}`` (the notebook's
    value; only where ``namespace`` is given)."""
    if isinstance(arg, dict) and "array" in arg:
        value = arrays[arg["array"]]
        if "rows" in arg:
            value = value[slice(*arg["rows"])]
        if "row" in arg:
            value = value[arg["row"]]
        return np.array(value, dtype=arg.get("dtype", "float64"))
    if isinstance(arg, dict) and "global" in arg:
        return _lookup(namespace or {}, arg["global"])
    return arg


def _lookup(namespace: dict, dotted: str):
    head, *rest = dotted.split(".")
    value = namespace[head]
    for name in rest:
        value = getattr(value, name)
    return value


def encode(value, depth: int = 0) -> dict:
    """Plain JSON for a result: arrays of float64 (zlib, base64), or a sequence of those."""
    if isinstance(value, tuple | list) and depth == 0:
        return {"seq": [encode(v, 1) for v in list(value)[:MAX_ITEMS]], "len": len(value)}
    array = np.array(value, dtype=np.float64)
    data = base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), 1)).decode()
    return {"shape": list(array.shape), "data": data}


def decode(entry: dict) -> np.ndarray | list:
    """The inverse of :func:`encode`, for the grader; raises ValueError on anything malformed."""
    if not isinstance(entry, dict):
        raise ValueError("not a result")
    if "seq" in entry:
        return [decode(e) for e in entry["seq"]]
    shape = [int(n) for n in entry["shape"]]
    raw = zlib.decompress(base64.b64decode(entry["data"]), bufsize=8 * 2**20)
    size = int(np.prod(shape)) if shape else 1
    if len(raw) != 8 * size:
        raise ValueError("the data does not fit its shape")
    return np.frombuffer(raw, dtype=np.float64).reshape(shape)


class StandIn:
    """A made-up network function ``(params, X, y, ...) -> (J, grad)`` for gradient checks.

    ``J`` is a quadratic in the parameters, so central differences give its gradient exactly;
    the returned gradient is ``scale`` times the true one. A gradient check of it should report
    ``|1 - scale| / (1 + scale)``: 0 for ``scale`` = 1.
    """

    def __init__(self, scale: float) -> None:
        self.scale = float(scale)

    def __call__(self, params, X=None, y=None, *args, **kwargs):
        p = np.asarray(params, dtype=np.float64)
        i = np.arange(p.size, dtype=np.float64)
        weights, shift = 1.0 + (i % 7) / 7.0, np.cos(i + 1.0)
        return 0.5 * float(weights @ p**2) + float(shift @ p), self.scale * (weights * p + shift)


@contextlib.contextmanager
def _patched(namespace: dict, values: dict):
    saved = {k: namespace.get(k, _MISSING) for k in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _image():
    import matplotlib.pyplot as plt

    images = plt.gca().images
    if not images:
        raise ValueError("nothing was drawn with imshow")
    return np.array(images[-1].get_array(), dtype=np.float64)


def _digest(value) -> list:
    import hashlib

    array = np.ascontiguousarray(np.array(value, dtype=np.float64))
    return [list(array.shape), hashlib.sha256(array.tobytes()).hexdigest()]


def _one(case: dict, arrays: dict, namespace: dict):
    if "value" in case:
        value = _lookup(namespace, case["value"])
        return _digest(value) if case.get("capture") == "digest" else value
    fn = _lookup(namespace, case["call"])
    args = [resolve(a, arrays, namespace) for a in case.get("args", [])]
    kwargs = {k: resolve(a, arrays, namespace) for k, a in case.get("kwargs", {}).items()}
    patch = dict(case.get("patch", {}))
    patch.update({k: StandIn(s) for k, s in case.get("standins", {}).items()})
    if case.get("capture") == "image":
        import matplotlib.pyplot as plt

        plt.close("all")
    with _patched(namespace, patch):
        out = fn(*args, **kwargs)
    if case.get("capture") == "image":
        out = _image()
    if "pick" in case:
        out = out[case["pick"]]
    return out


def run(grade_id: str, namespace: dict, folder: Path | str = ".") -> Record:
    """Run the cases of one hidden test and return their results as a :class:`Record`.

    Args:
        grade_id: the test cell's grade_id (its cases come from the inputs file).
        namespace: the notebook's globals, where the student's functions live.
        folder: where the inputs file is (the notebook's folder).

    Returns:
        A record: ``{"grade_id", "cases": {case id: {"value": ...} | {"error": text}}}``; the
        student's own printing during the calls is captured and dropped.
    """
    arrays, tests = load_inputs(folder)
    results, size = {}, 0
    for case in tests.get(grade_id, []):
        sink = io.StringIO()
        try:
            with (
                contextlib.redirect_stdout(sink),
                contextlib.redirect_stderr(sink),
                warnings.catch_warnings(),
                np.errstate(all="ignore"),
            ):
                warnings.simplefilter("ignore")
                entry = {"value": _jsonable(_one(case, arrays, namespace), case)}
        except Exception as err:  # the student's code failed: that is the result
            entry = {"error": f"{type(err).__name__}: {err}"[:300]}
        size += len(json.dumps(entry))
        if size > MAX_RECORD_BYTES:
            entry = {"error": "the result is too large to hand to the grader"}
        results[case["id"]] = entry
    return Record({"v": 1, "grade_id": grade_id, "cases": results})


def _jsonable(value, case: dict):
    if case.get("capture") == "digest":
        return {"digest": value}
    return encode(value)
