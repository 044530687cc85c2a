"""The kernel side of a hidden test: call the student's code on the grader's inputs, return data.

This file is copied into every grading kernel's folder as ``ds4023_probe.py``. It holds no
reference solution, no expected value and no comparison: a hidden test cell's hidden region is
one expression, ``__import__("ds4023_probe").run("<grade_id>", globals())``, that the grader
evaluates through Jupyter's ``user_expressions`` (never through the student's input
transformers) after the cell's visible part ran. ``run`` reads the cases of that test from
``ds4023_inputs.npz`` (written by the grader), calls the student's functions on copies of the
inputs, and returns a :class:`Record` of plain numbers and arrays. The grader judges it
(``ds4023.grading.judge``) in a process the kernel cannot see, so anything the student's code
does to this module can only change the numbers it claims, never how they are judged.

Written by hand because no library turns "call these functions on these inputs inside a
Jupyter kernel and hand back the results as data" into one call; it depends on the standard
library and NumPy only (the kernel's environment), and the grader imports the same file to
resolve the inputs, so both sides read the cases alike.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import types
import warnings
import zlib
from pathlib import Path

import numpy as np

#: The MIME type of a record, as the grader reads it from the expression's result.
MIME = "application/vnd.ds4023.record+json"
#: The inputs file the grader puts beside the notebook.
INPUTS = "ds4023_inputs.npz"
#: Most encoded bytes one record may hold; larger results are reported as too large. A
#: training run's recorded evaluations (250 gradients of 10285 weights) take about 28 MB.
MAX_RECORD_BYTES = 40 * 2**20
#: Most entries of one array the grader decodes (128 MiB of float64).
MAX_ELEMENTS = 2**24
#: Most characters of a string result that are kept.
MAX_TEXT = 2000
#: Most evaluations of a training run the grader can replay (each carries one gradient; the
#: notebook's run makes 250, and 350 of 10285 weights fill about 37 MB of record).
MAX_RUN_EVALUATIONS = 350
#: Of how many items of a tuple or list result the type names are recorded.
TYPED_ITEMS = 100
#: How many of the latest TNC runs the kernel keeps (for the training test's evidence).
KEEP_RUNS = 2
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
    """The bytes of an inputs file: the cases ``tests`` and the ``arrays`` they use (grader).

    Keys of a case that start with ``_`` are the grader's own notes and are left out, and so
    is every array no case names."""
    shown = {
        g: [{k: v for k, v in c.items() if not k.startswith("_")} for c in cases]
        for g, cases in tests.items()
    }
    text = json.dumps(shown, sort_keys=True)
    used = {k: np.asarray(v) for k, v in sorted(arrays.items()) if f'"array": "{k}"' in text}
    buffer = io.BytesIO()
    np.savez(buffer, __tests__=np.frombuffer(text.encode(), dtype=np.uint8), **used)
    return buffer.getvalue()


def resolve(arg, arrays: dict, namespace: dict | None = None):
    """One argument of a case: a literal, ``{"array": name, "rows": [start, stop, step]}`` (a
    fresh float64 copy of the grader's array, rows sliced, or ``"row": i`` for one row;
    ``"dtype"`` to change the type), or ``{"global": name}`` (the notebook's
    value; only where ``namespace`` is given; ``"copy": true`` for a deep copy of it, so the
    call cannot change the notebook's own object)."""
    if isinstance(arg, dict) and "array" in arg:
        value = arrays[arg["array"]]
        if "rows" in arg:
            value = value[slice(*arg["rows"])]
        if "row" in arg:
            value = value[arg["row"]]
        return np.array(value, dtype=arg.get("dtype", "float64"))
    if isinstance(arg, dict) and "global" in arg:
        value = _lookup(namespace or {}, arg["global"])
        return copy.deepcopy(value) if arg.get("copy") else value
    return arg


def _lookup(namespace: dict, dotted: str):
    head, *rest = dotted.split(".")
    value = namespace[head]
    for name in rest:
        value = getattr(value, name)
    return value


def _scalars(value) -> np.ndarray | None:
    """A list or tuple of plain numbers (a sequence of labels, say) as one array, else None."""
    if any(isinstance(v, str | bytes | tuple | list | dict) or np.ndim(v) for v in value):
        return None
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 1 else None


def _sequence(items: list, depth: int) -> dict:
    """A tuple or list, item by item, as long as the record's byte budget lasts."""
    out, size = [], 0
    for item in items:
        entry = encode(item, depth)
        size += len(entry.get("data", "")) + 64
        if size > MAX_RECORD_BYTES:
            return {"seq": out, "len": len(items), "cut": True}
        out.append(entry)
    return {"seq": out, "len": len(items)}


def encode(value, depth: int = 0) -> dict:
    """Plain JSON for a result: arrays of float64 (zlib, base64), or a sequence of those; a
    string is kept as text (at most ``MAX_TEXT`` characters), None as ``{"none": true}``.
    A list or tuple of plain numbers is one array (``"len"`` says it was a sequence); other
    sequences keep every item while the record's byte budget lasts (``"cut"`` when not)."""
    if isinstance(value, str):
        return {"text": str.__str__(value)[:MAX_TEXT], "len": len(str.__str__(value))}
    if value is None:
        return {"none": True}
    if isinstance(value, tuple | list) and depth == 0:
        items = list(value)
        flat = _scalars(items) if items else None
        if flat is not None:
            return {**encode(flat, 1), "len": len(items)}
        return _sequence(items, 1)
    try:
        array = np.array(value, dtype=np.float64)
    except ValueError:  # a ragged tuple inside a result (two matrices): one level more
        if depth != 1 or not isinstance(value, tuple | list):
            raise
        return _sequence(list(value), 2)
    data = base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), 1)).decode()
    return {"shape": list(array.shape), "data": data}


def claimed_bytes(entry) -> int:
    """How many bytes decoding ``entry`` would make, from its shapes alone (no recursion, no
    decoding): the grader refuses a record that claims more than it reads."""
    total, todo = 0, [entry]
    while todo:
        item = todo.pop()
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("seq"), list):
            todo.extend(item["seq"])
        elif isinstance(item.get("shape"), list):
            try:
                total += 8 * int(np.prod([max(int(n), 0) for n in item["shape"]], dtype=np.float64))
            except (TypeError, ValueError, OverflowError):
                return 2**63
        elif isinstance(item.get("text"), str):
            total += len(item["text"])
    return total


def decode(entry: dict) -> np.ndarray | list | str | None:
    """The inverse of :func:`encode`, for the grader; raises ValueError on anything malformed."""
    if not isinstance(entry, dict):
        raise ValueError("not a result")
    if "text" in entry:
        if not isinstance(entry["text"], str):
            raise ValueError("the text is not a string")
        return entry["text"]
    if entry.get("none") is True:
        return None
    if "seq" in entry:
        if entry.get("cut"):
            raise ValueError("the result is too large to hand to the grader")
        return [decode(e) for e in entry["seq"]]
    shape = [int(n) for n in entry["shape"]]
    if len(shape) > 8 or any(n < 0 for n in shape):
        raise ValueError("not the shape of an array")
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > MAX_ELEMENTS:
        raise ValueError("the array is larger than the grader reads")
    inflate = zlib.decompressobj()  # never more than the shape needs: no zip bombs
    raw = inflate.decompress(base64.b64decode(entry["data"]), 8 * size + 1)
    if inflate.unconsumed_tail:
        raise ValueError("the data does not fit its shape")
    if len(raw) != 8 * size:
        raise ValueError("the data does not fit its shape")
    return np.frombuffer(raw, dtype=np.float64).reshape(shape)


class StandIn:
    """A made-up network function ``(params, X, y, ...) -> (J, grad)`` for gradient checks.

    ``table`` holds five rows of one number per parameter: ``w``, ``k``, ``phi``, ``c``,
    ``err``. ``J(p) = sum(w cos(k p + phi)) + sum(c p^2) / 2`` curves strongly, so central
    differences with the grader's epsilon differ from the exact derivative by an amount only
    the differences themselves give; the gradient it returns is the exact one times ``1 +
    err``, a different error for every parameter (all zero: a right gradient).
    """

    def __init__(self, table) -> None:
        self.table = np.array(table, dtype=np.float64)

    def __call__(self, params, X=None, y=None, *args, **kwargs):
        # NumPy only, no builtins: a student's patched float or abs cannot change the numbers
        w, k, phi, c, err = self.table
        p = np.asarray(params, dtype=np.float64)
        angle = k * p + phi
        J = np.sum(w * np.cos(angle)) + 0.5 * np.sum(c * p**2)
        return J, (c * p - w * k * np.sin(angle)) * (1.0 + err)


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


def digest(value) -> list:
    """The ``[shape, sha256]`` of a value as a float64 array (the grader compares digests)."""
    import hashlib

    array = np.ascontiguousarray(np.array(value, dtype=np.float64))
    return [list(array.shape), hashlib.sha256(array.tobytes()).hexdigest()]


def _type(value) -> list[str]:
    """The names of the type of ``value`` and its bases (``module.name``, most specific first)."""
    return [f"{t.__module__}.{t.__qualname__}"[:100] for t in type(value).__mro__[:12]]


def _attr(obj, dotted: str):
    for name in dotted.split("."):
        obj = getattr(obj, name)
    return obj


def _resolve_all(spec, arrays: dict, namespace: dict):
    """An argument, or a list of arguments resolved one by one (a list of arrays)."""
    if isinstance(spec, list):
        return [resolve(a, arrays, namespace) for a in spec]
    return resolve(spec, arrays, namespace)


def _observer(function, pick, seen: dict, name: str):
    """``function`` that also keeps, in ``seen[name]``, item ``pick`` of its latest result (the
    whole result for None): what a building block gave the function that called it."""

    def observed(*args, **kwargs):
        out = function(*args, **kwargs)
        kept = out if pick is None else out[pick]
        try:  # as it was returned: the caller may change it in place afterwards (J += ...)
            seen[name] = copy.deepcopy(kept)
        except Exception:
            seen[name] = kept
        return out

    return observed


def optimum(value):
    """The weights an optimiser found: ``.x`` of SciPy's result object, or the first item of
    ``fmin_tnc``'s ``(x, nfeval, rc)``."""
    if hasattr(value, "x"):
        return value.x
    if isinstance(value, tuple | list) and value:
        return value[0]
    raise TypeError(f"expected minimize's result or fmin_tnc's tuple, got {type(value).__name__}")


def _captured(value, capture: str | None):
    if capture == "digest":
        return digest(value)
    if capture == "optimum":
        return optimum(value)
    if capture == "tnc_run":
        return tnc_run(optimum(value))
    if capture == "repr":
        return repr(value)
    if capture == "none":
        return None
    return value


def _one(case: dict, arrays: dict, namespace: dict, kept: dict):
    """The result of one case (not yet captured), and the extra values it records: name ->
    (a function that gets the value, its capture).

    A case is ``{"id", "value": "dotted.name"}`` (a notebook value) or ``{"id", "call":
    "dotted.name", "args": [...], "kwargs": {...}}`` (see :func:`resolve` for the arguments),
    with optionally ``patch`` (notebook globals replaced during the call), ``standins`` (see
    :class:`StandIn`), ``capture`` (``image``, ``digest``, ``repr`` or ``none``), ``pick`` (an
    index into the result), ``after`` (indices of positional arguments recorded after the
    call). An object: ``"new": {"call": "ClassName", "args", "kwargs", "set": {attribute:
    argument or list of arguments}}`` constructs one (``"on": name`` takes the one an earlier
    case of the same test kept with ``"keep": name``); ``call`` then names a method of it (no
    ``call``: the result is the object itself), and ``attrs`` (a list of names, or a dict
    name -> capture) records its attributes after the call."""
    if "value" in case:
        return _lookup(namespace, case["value"]), {}
    args = [resolve(a, arrays, namespace) for a in case.get("args", [])]
    kwargs = {k: resolve(a, arrays, namespace) for k, a in case.get("kwargs", {}).items()}
    patch = dict(case.get("patch", {}))
    patch.update({k: StandIn(resolve(s, arrays)) for k, s in case.get("standins", {}).items()})
    seen: dict = {}
    for name, pick in case.get("observe", {}).items():
        patch[name] = _observer(_lookup(namespace, name), pick, seen, name)
    if case.get("capture") == "image":
        import matplotlib.pyplot as plt

        plt.close("all")
    obj = kept[case["on"]] if "on" in case else None
    with _patched(namespace, patch):
        if "new" in case:
            new = case["new"]
            obj = _lookup(namespace, new["call"])(
                *[resolve(a, arrays, namespace) for a in new.get("args", [])],
                **{k: resolve(a, arrays, namespace) for k, a in new.get("kwargs", {}).items()},
            )
            for name, spec in new.get("set", {}).items():
                setattr(obj, name, _resolve_all(spec, arrays, namespace))
        if "keep" in case:
            kept[case["keep"]] = obj
        if "call" not in case:
            out = obj
        elif "new" in case or "on" in case:
            out = _attr(obj, case["call"])(*args, **kwargs)
        else:
            out = _lookup(namespace, case["call"])(*args, **kwargs)
    if case.get("capture") == "image":
        import matplotlib.pyplot as plt

        try:
            out = _image()
        finally:  # the grader's inputs are drawn into no output of the student's page
            plt.close("all")
    if "pick" in case:
        out = out[case["pick"]]
    extra = {f"arg{i}": (lambda i=i: args[i]) for i in case.get("after", [])}
    for name in case.get("observe", {}):
        extra[f"seen_{name}"] = lambda name=name: seen[name]
    attrs = case.get("attrs", [])
    for name in attrs:
        extra[name] = lambda name=name: _attr(obj, name)
    captures = attrs if isinstance(attrs, dict) else {}
    return out, {k: (get, captures.get(k)) for k, get in extra.items()}


def run(grade_id: str, namespace: dict, folder: Path | str = ".") -> Record | None:
    """Run the cases of one hidden test and return their results as a :class:`Record`.

    Args:
        grade_id: the test cell's grade_id (its cases come from the inputs file).
        namespace: the notebook's globals, where the student's functions live.
        folder: where the inputs file is (the notebook's folder).

    Returns:
        A record: ``{"grade_id", "cases": {case id: {"value": ..., "type": [...]} | {"error":
        text}}}``; ``type`` names the result's type and its bases (``item_types`` those of
        each item of a tuple or list). A case that records more (``attrs``: attributes of the
        object after the call; ``after``: positional arguments after the call) adds one entry
        per value, ``"<case id>.<attribute>"`` or ``"<case id>.arg<i>"``, when the call
        succeeded. The student's own printing during the calls is captured and dropped.
        None (shown as nothing) where there is no inputs file: a notebook run outside
        grading, such as the instructor's source notebook in JupyterLab.
    """
    if not (Path(folder) / INPUTS).is_file():
        return None
    arrays, tests = load_inputs(folder)
    results, kept, size = {}, {}, 0
    for case in tests.get(grade_id, []):
        entries = {}
        with _quiet():
            try:
                out, extra = _one(case, arrays, namespace, kept)
                entries[case["id"]] = _entry(lambda out=out: out, case.get("capture"))
                for name, (get, capture) in extra.items():
                    entries[f"{case['id']}.{name}"] = _entry(get, capture)
            except Exception as err:  # the student's code failed: that is the result
                entries[case["id"]] = _error(err)
        for key, entry in entries.items():
            size += len(json.dumps(entry))
            if size > MAX_RECORD_BYTES:
                entry = {"error": "the result is too large to hand to the grader"}
            results[key] = entry
    return Record({"v": 1, "grade_id": grade_id, "cases": results})


@contextlib.contextmanager
def _quiet():
    sink = io.StringIO()
    with (
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore")
        yield


def _error(err: BaseException) -> dict:
    return {"error": f"{type(err).__name__}: {err}"[:300]}


def _entry(get, capture: str | None) -> dict:
    """One recorded value: ``get()`` (captured as asked), its type names, or the error."""
    try:
        raw = get()
        value = _captured(raw, capture)
        typed = raw if capture == "digest" else value
        entry = {"value": _jsonable(value, capture), "type": _type(typed)}
        if isinstance(typed, tuple | list):
            entry["item_types"] = [_type(v) for v in list(typed)[:TYPED_ITEMS]]
        return entry
    except Exception as err:
        return _error(err)


def _jsonable(value, capture: str | None):
    if capture == "digest":
        return {"digest": value}
    return encode(value)


# ---------------------------------------------------------------- training runs, as evidence
#: The latest TNC runs of this kernel: dicts of x0, the options, every (f, g) the optimiser
#: was given, and the x it returned.
RUNS: list[dict] = []


def tnc_run(x) -> tuple:
    """The recorded TNC run that returned ``x``: ``(x0, f, g, low, up, scale, offset,
    options)``, for the grader to replay (``options``: TNC's eleven numeric settings)."""
    x = np.asarray(x, dtype=np.float64)
    for run in reversed(RUNS):
        if run.get("x") is not None and run["x"].shape == x.shape and np.array_equal(run["x"], x):
            if len(run["g"]) > MAX_RUN_EVALUATIONS:
                raise ValueError(
                    f"the training run is too long to replay ({len(run['g'])} evaluations): "
                    f"train with maxfun=250 as the notebook does (at most {MAX_RUN_EVALUATIONS})"
                )
            g = np.array(run["g"], dtype=np.float64).reshape(len(run["g"]), -1)
            rows = (run["x0"], np.array(run["f"]), g, *run["arrays"], run["options"])
            return tuple(rows)
    raise LookupError("these weights came from no TNC run of this kernel (scipy.optimize TNC)")


def _record(minimize_tnc):
    """SciPy's C entry point of TNC, keeping what the optimiser was given (see ``RUNS``)."""

    def recorded(fun, x0, low, up, scale, offset, messages, *rest):
        run = {"x0": np.array(x0, dtype=np.float64), "f": [], "g": [], "x": None}
        run["arrays"] = [np.array(a, dtype=np.float64) for a in (low, up, scale, offset)]
        run["options"] = np.array(rest[:-1], dtype=np.float64)  # maxCGit ... rescale

        def evaluated(x):
            f, g = fun(x)
            run["f"].append(float(f))  # as the C code reads them: a double, a double array
            run["g"].append(np.array(g, dtype=np.float64).ravel())
            return f, g

        RUNS.append(run)
        del RUNS[:-KEEP_RUNS]
        out = minimize_tnc(evaluated, x0, low, up, scale, offset, messages, *rest)
        run["x"] = np.array(out[3], dtype=np.float64)
        return out

    recorded.ds4023, recorded.original = RUNS, minimize_tnc
    return recorded


def watch_tnc() -> None:
    """Record every TNC run from now on (``minimize(method="TNC")`` and ``fmin_tnc`` share
    one C entry point); nothing happens without SciPy."""
    try:
        from scipy.optimize import _tnc
    except ImportError:
        return
    current = _tnc.moduleTNC.tnc_minimize
    if getattr(current, "ds4023", None) is RUNS:
        return
    original = getattr(current, "original", current)  # another copy of this module's: replaced
    _tnc.moduleTNC = types.SimpleNamespace(tnc_minimize=_record(original))


if __name__ != "ds4023.probe":  # in a kernel (ds4023_probe), never in the grader itself
    watch_tnc()
