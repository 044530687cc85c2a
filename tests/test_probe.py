"""The kernel side of the hidden tests (ds4023.probe) and how the grader reads its records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ds4023 import probe
from ds4023.grading.judge import Results


class Counter:
    """A made-up student class: a constructor with arguments, a method, a repr."""

    def __init__(self, start, step=1.0):
        self.total = np.array(start, dtype=float)
        self.step = step

    def add(self, x):
        self.total = self.total + self.step * np.asarray(x)
        return float(self.total.sum())

    def __repr__(self):
        return f"Counter: {self.step:g}"


def _record(tmp_path, arrays, cases, namespace):
    """Run ``cases`` as the hidden test "t" and read the record as the grader does."""
    (tmp_path / probe.INPUTS).write_bytes(probe.save_inputs(arrays, {"t": cases}))
    record = probe.run("t", namespace, tmp_path)
    payload = record._repr_mimebundle_()[probe.MIME]
    return Results(json.loads(json.dumps(payload)))


def test_existing_case_formats_are_unchanged(tmp_path):
    """Do calls with array arguments, pick, values and digests give what they always gave?"""
    x = np.arange(6.0).reshape(3, 2)
    ns = {"double": lambda a: (2 * a, a.sum()), "v": [1.0, 2.0]}
    cases = [
        {"id": "pair", "call": "double", "args": [{"array": "x", "rows": [0, 2]}]},
        {"id": "first", "call": "double", "args": [{"array": "x", "row": 1}], "pick": 0},
        {"id": "v", "value": "v"},
        {"id": "d", "value": "v", "capture": "digest"},
    ]
    r = _record(tmp_path, {"x": x}, cases, ns)
    two, total = r.parts("pair", 2)
    assert np.array_equal(two, 2 * x[:2]) and float(total) == x[:2].sum()
    assert np.array_equal(r.array("first"), 2 * x[1])
    assert r.parts("v", 2) is not None and r.item_types("v")[0][0] == "builtins.float"
    assert r.digest("d") == probe.digest([1.0, 2.0])
    assert r.types("pair")[0] == "builtins.tuple"


def test_types_tell_arrays_floats_and_lists_apart(tmp_path):
    """Does each value come with its type's names, bases included, and items' types?"""
    ns = {"a": np.zeros(2), "f": np.float64(1.5), "lst": [np.ones(1), 2.0]}
    cases = [{"id": n, "value": n} for n in ns]
    r = _record(tmp_path, {}, cases, ns)
    assert r.types("a")[0] == "numpy.ndarray"
    assert "builtins.float" in r.types("f") and "numpy.floating" in r.types("f")
    assert r.types("lst")[0] == "builtins.list"
    assert [t[0] for t in r.item_types("lst")] == ["numpy.ndarray", "builtins.float"]


def test_objects_are_built_called_kept_and_their_attributes_recorded(tmp_path):
    """Does "new" construct, "set" replace attributes, "attrs" record them after the call,
    and "keep"/"on" call a second method on the same object?"""
    ns = {"Counter": Counter}
    new = {
        "call": "Counter",
        "args": [{"array": "start"}],
        "kwargs": {"step": 2.0},
        "set": {"extra": [{"array": "start"}, 3]},
    }
    cases = [
        {"id": "c", "new": new, "call": "add", "args": [[1.0, 1.0]], "attrs": ["total", "extra"]},
        {"id": "k", "new": new, "keep": "mine", "call": "add", "args": [1.0]},
        {"id": "again", "on": "mine", "call": "add", "args": [1.0], "attrs": {"total": "digest"}},
        {"id": "r", "new": new, "capture": "repr"},
        {"id": "bad", "new": new, "call": "add", "args": ["text"], "attrs": ["total"]},
    ]
    r = _record(tmp_path, {"start": np.array([1.0, 2.0])}, cases, ns)
    assert float(r.array("c")) == 7.0
    assert np.array_equal(r.array("c.total"), [3.0, 4.0])
    first, three = r.parts("c.extra", 2)
    assert np.array_equal(first, [1.0, 2.0]) and float(three) == 3.0
    assert float(r.array("k")) == 7.0 and float(r.array("again")) == 11.0
    assert r.digest("again.total") == probe.digest([5.0, 6.0])
    assert r.text("r") == "Counter: 2" and r.types("r")[0] == "builtins.str"
    assert r.error("bad") and "bad.total" not in r.cases


def test_arguments_after_the_call_and_copies_of_globals(tmp_path):
    """Does "after" record arguments as the call left them, and "copy" protect a global?"""

    def scale(a, b):
        a *= 2.0
        return b

    ns = {"scale": scale, "g": np.ones(3)}
    cases = [
        {
            "id": "s",
            "call": "scale",
            "args": [{"global": "g", "copy": True}, {"array": "x"}],
            "after": [0, 1],
        }
    ]
    r = _record(tmp_path, {"x": np.arange(2.0)}, cases, ns)
    assert np.array_equal(r.array("s.arg0"), [2.0, 2.0, 2.0])
    assert np.array_equal(r.array("s.arg1"), [0.0, 1.0])
    assert np.array_equal(ns["g"], np.ones(3)), "the notebook's own array was changed"


@pytest.mark.parametrize("value", ["", "NeuralNetwork: 2-2-1", "x" * 5000])
def test_strings_and_none_encode_and_decode(value):
    """Do strings (cut to MAX_TEXT) and None survive encode/decode, arrays unchanged?"""
    assert probe.decode(probe.encode(value)) == value[: probe.MAX_TEXT]
    assert probe.decode(probe.encode(None)) is None
    array = np.arange(4.0).reshape(2, 2)
    assert probe.encode(array).keys() == {"shape", "data"}
    assert np.array_equal(probe.decode(probe.encode(array)), array)
    with pytest.raises(ValueError):
        probe.decode({"text": 3})


def test_an_image_case_leaves_no_figure_open(tmp_path):
    """Is the picture drawn on the grader's input closed after it is read, so that it never
    shows up in the output of the student's next cell?"""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(x):
        plt.imshow(x.reshape(2, 2))

    cases = [{"id": "img", "call": "draw", "args": [{"array": "x"}], "capture": "image"}]
    r = _record(tmp_path, {"x": np.arange(4.0)}, cases, {"draw": draw})
    assert r.array("img").tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert plt.get_fignums() == []


def test_a_long_list_of_numbers_is_kept_whole(tmp_path):
    """Is y_pred as a list of 5000 labels read as all 5000 (limits are bytes, not items)?"""
    labels = [int(v) for v in np.arange(5000) % 10 + 1]
    r = _record(tmp_path, {}, [{"id": "y", "value": "y"}], {"y": labels})
    assert r.array("y").shape == (5000,) and r.length("y") == 5000
    assert r.array("y").tolist() == labels


def test_observe_keeps_what_a_building_block_returned_before_the_caller_changed_it(tmp_path):
    """Does ``observe`` record the inner function's result as it was returned, per call?"""

    ns = {"np": np}
    code = (
        "def inner(a):\n    return np.asarray(a) * 2\n\n\n"
        "def outer(a):\n    J = inner(a)\n    J += 100  # in place: the observed value stays\n"
        "    return J\n"
    )
    exec(code, ns)  # as in a notebook: the functions' globals are the namespace
    inner = ns["inner"]
    case = {"id": "c", "call": "outer", "args": [{"array": "x"}], "observe": {"inner": None}}
    r = _record(tmp_path, {"x": np.arange(3.0)}, [case], ns)
    assert r.array("c").tolist() == [100.0, 102.0, 104.0]
    assert r.array("c.seen_inner").tolist() == [0.0, 2.0, 4.0]
    assert ns["inner"] is inner  # put back after the call


def test_grader_notes_and_unnamed_arrays_stay_out_of_the_inputs_file(tmp_path):
    """Are case keys starting with _ and arrays no case names left out of the file?"""
    tests = {"t": [{"id": "c", "call": "f", "args": [{"array": "x"}], "_judge": {"answer": 42}}]}
    data = probe.save_inputs({"x": np.ones(2), "_answer": np.ones(2), "y": np.zeros(1)}, tests)
    (tmp_path / probe.INPUTS).write_bytes(data)
    arrays, shown = probe.load_inputs(tmp_path)
    assert set(arrays) == {"x"} and shown == {
        "t": [{"id": "c", "call": "f", "args": [{"array": "x"}]}]
    }


def test_every_tnc_interface_is_recorded_and_the_optimum_found(tmp_path):
    """Do minimize(method='TNC') and fmin_tnc both leave a run whose x0, evaluations and end
    the probe hands over, found from the result object or fmin_tnc's tuple?"""
    from scipy.optimize import fmin_tnc, minimize

    probe.watch_tnc()

    def f(x):
        return float(np.sum((x - 1) ** 2)), 2 * (x - 1)

    for result in (
        minimize(f, np.zeros(3), method="TNC", jac=True, options={"maxfun": 20}),
        fmin_tnc(f, np.zeros(3), maxfun=20, disp=0),
    ):
        x = probe.optimum(result)
        x0, values, grads, *_, options = probe.tnc_run(x)
        assert np.array_equal(x0, np.zeros(3)) and values[0] == 3.0
        assert grads.shape == (values.size, 3) and options.shape == (10,)
    with pytest.raises(LookupError):
        probe.tnc_run(np.full(3, 7.0))


def test_a_run_too_long_to_replay_says_so():
    """Is a recorded TNC run of more evaluations than the grader replays refused with a
    message that says how to train instead (and one of the allowed length handed over)?"""
    x = np.arange(3.0)
    for n in (probe.MAX_RUN_EVALUATIONS, probe.MAX_RUN_EVALUATIONS + 1):
        run = {"x0": np.zeros(3), "f": [1.0] * n, "g": [np.ones(3)] * n, "x": x + n}
        probe.RUNS.append({**run, "arrays": [np.zeros(0)] * 4, "options": np.zeros(10)})
    assert probe.tnc_run(x + probe.MAX_RUN_EVALUATIONS)[2].shape == (probe.MAX_RUN_EVALUATIONS, 3)
    with pytest.raises(ValueError, match="too long to replay .* train with maxfun=250"):
        probe.tnc_run(x + probe.MAX_RUN_EVALUATIONS + 1)
