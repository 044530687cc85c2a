"""Tests for the judge: records read defensively, the partial-credit rule, verdicts in cells."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from nbgrader.utils import determine_grade

from ds4023 import COURSE_ROOT, probe
from ds4023.grading.judge import (
    RIGHT,
    NoResult,
    Results,
    Verdict,
    how_far,
    load_reference,
    near,
    settle,
    worst,
)
from ds4023.grading.preprocessors.execute import probe_expression
from ds4023.grading.preprocessors.judge_hidden_tests import apply_verdict
from ds4023.sample_class.students import (
    Student,
    cell_key,
    load_table,
    release_notebook,
    student_notebook,
)
from tests.notebooks.test_mlp_from_scratch_checks import classic_loss

MESSAGES = {"cost_not_divided_by_m": "The cost is m times too large."}
#: backprop's reference module (the judge of its hidden tests).
REFERENCE = load_reference(COURSE_ROOT / "source" / "backprop" / "reference.py")
#: 128 MiB of zeros (2**24 float64), compressed.
_BOMB_24 = __import__("base64").b64encode(__import__("zlib").compress(bytes(2**27), 9)).decode()
#: 64 MiB of zeros, compressed to about 64 KiB, claimed to be 10 numbers.
_BOMB = __import__("base64").b64encode(__import__("zlib").compress(bytes(2**26), 9)).decode()


def _record(**cases) -> dict:
    """A record as the kernel sends it (through JSON), from case id -> value or exception."""
    out = {}
    for name, value in cases.items():
        if isinstance(value, Exception):
            out[name] = {"error": f"{type(value).__name__}: {value}"}
        else:
            out[name] = {"value": probe.encode(value)}
    return json.loads(json.dumps({"v": 1, "grade_id": "t", "cases": out}))


def _test_cell(source: str = '"""Test?"""\ncheck()', points: float = 10) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": "t",
        "points": points,
        "schema_version": 3,
    }
    return cell


def test_results_decode_arrays_tuples_and_scalars():
    """Do arrays, tuples of arrays and scalars come back as the kernel computed them?"""
    got = Results(_record(a=np.arange(6.0).reshape(2, 3), pair=(1.5, np.ones(3)), x=2))
    assert np.array_equal(got.array("a"), np.arange(6.0).reshape(2, 3))
    first, second = got.parts("pair", 2)
    assert first.shape == () and float(first) == 1.5 and np.array_equal(second, np.ones(3))
    assert got.array("x").shape == () and got.parts("a", 2) is None


@pytest.mark.parametrize(
    "entry, why",
    [
        ({"error": "ValueError: shapes"}, "ValueError: shapes"),
        ({"value": {"shape": [3], "data": "bm90IHpsaWI="}}, "malformed"),
        ({"value": {"shape": [1000], "data": ""}}, "malformed"),
        ("not a dict", "no result for 'c'"),
        ({"value": {"shape": [2**30], "data": ""}}, "larger than the grader reads"),
        ({"value": {"shape": [10], "data": _BOMB}}, "malformed"),
    ],
)
def test_broken_or_failed_results_are_no_result_with_a_reason(entry, why):
    """Does a failing, forged or malformed result read as missing, with a reason, never raise?"""
    got = Results({"cases": {"c": entry}})
    assert got.array("c") is None and why in got.error("c")
    with pytest.raises(NoResult):
        got.value("c")


def test_a_record_nested_past_the_recursion_limit_costs_only_its_case():
    """A record's value nested 10^5 levels of "seq" (probe.decode recurses on it) and the
    other readers: is it one case without a result, not an error out of the judge?"""
    deep: dict = {"shape": [1], "data": ""}
    for _ in range(100_000):
        deep = {"seq": [deep], "len": 1}
    got = Results({"cases": {"deep": {"value": deep}, "ok": {"value": probe.encode(2.0)}}})
    assert got.array("deep") is None and got.parts("deep", 1) is None
    assert "malformed (RecursionError)" in got.error("deep")
    assert got.length("deep") == 1 and got.types("deep") == [] and got.digest("deep") is None
    assert float(got.array("ok")) == 2.0


def test_no_record_says_why():
    """Does a test with no record give the reason the grader recorded?"""
    got = Results(None, "the hidden test could not run (KeyboardInterrupt: )")
    assert got.array("anything") is None
    assert got.error("anything") == "the hidden test could not run (KeyboardInterrupt: )"


def test_worst_broadcasts_and_treats_nan_and_bad_shapes_as_infinite():
    """Is the largest difference a plain float, infinite for NaN or shapes that do not fit?"""
    assert worst([1.0, 2.0], [1.0, 2.5]) == 0.5
    assert worst(np.ones(3), 1.0) == 0.0
    assert worst([np.nan], [np.nan]) == np.inf
    assert worst(np.ones(3), np.ones(4)) == np.inf


def test_how_far_speaks_only_of_a_value_just_outside_the_tolerance():
    """Is the note there exactly when a value fails near() by less than 1e-2 of its size?"""
    want = np.array([[2.0, -4.0], [1.0, 0.5]])
    off = want + np.array([[0.0, 0.0], [1.2e-3, 0.0]])  # 3e-4 of the largest magnitude, 4
    assert not near(off, want, 5e-5)
    assert how_far(off, want, 5e-5) == (
        " (close: off by 3.0e-04 of its size; at most 5e-05 is accepted)"
    )
    note = ", which takes float64 arithmetic"
    assert how_far(want * (1 + 2e-7), want, 1e-7, note) == (
        " (close: off by 2.0e-07 of its size; at most 1e-07 is accepted, which takes float64 "
        "arithmetic)"
    )
    inside = want * (1 + 1e-5)
    assert near(inside, want, 5e-5) and how_far(inside, want, 5e-5) == ""
    for far in (want * 1.5, want.T, want[0], np.full_like(want, np.nan), "text"):
        assert how_far(far, want, 5e-5) == ""


@pytest.mark.parametrize(
    "kinds, data_ok, want",
    [
        (["right", "right"], True, RIGHT),
        (["right", "right"], False, Verdict(0.5, "data note", "notebook_data")),
        (
            ["cost_not_divided_by_m"] * 2,
            True,
            Verdict(0.5, "The cost is m times too large.", "cost_not_divided_by_m"),
        ),
        (
            ["wrong forward_propagate", "right"],
            True,
            Verdict(
                0.5,
                "cost itself is right; the mistake is in forward_propagate, which it builds on.",
            ),
        ),
        (["right", "wrong"], True, Verdict(0.0, "cost is wrong for case two")),
        (
            ["cost_not_divided_by_m", "wrong forward_propagate"],
            True,
            Verdict(0.0, "cost is wrong for case one"),
        ),
        (["cost_not_divided_by_m"] * 2, False, Verdict(0.0, "cost is wrong for case one")),
    ],
)
def test_settle_gives_half_credit_for_exactly_one_known_slip(kinds, data_ok, want):
    """Is half credit given for one known slip (with the data right), else 0 or full?"""
    got = settle(kinds, ["case one", "case two"], "cost", MESSAGES, data_ok, "data note")
    assert got == want


def test_settle_names_the_students_error():
    """Does a case that raised name the student's error in the message?"""
    got = settle(["wrong"], ["the given weights"], "cost", {}, errors=["TypeError: bad"])
    assert got.message == "cost is wrong for the given weights: TypeError: bad"


@pytest.mark.parametrize(
    "verdict, score, text",
    [
        (RIGHT, 10.0, None),
        (Verdict(0.5, "One slip."), 5.0, "Partial credit: 5 of 10 points. One slip.\n"),
        (Verdict(0.0, "Wrong."), 0.0, "0 of 10 points: Wrong.\n"),
    ],
)
def test_the_verdict_is_the_score_nbgrader_reads_whatever_the_cell_printed(verdict, score, text):
    """Does nbgrader read the judge's score even when the student's code raised or faked one?"""
    cell = _test_cell()
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "10"}, execution_count=1),
        nbformat.v4.new_output("error", ename="AssertionError", evalue="x", traceback=[]),
        nbformat.v4.new_output("stream", name="stderr", text="boom"),
    ]
    assert apply_verdict(cell, verdict) == score
    assert determine_grade(cell) == (score, 10.0)
    assert cell.outputs[0].data["text/plain"] == f"{score:g}"
    assert (cell.outputs[1].text if text else None) == text
    assert len(cell.outputs) == 4 + bool(text)  # the student's outputs stay, for the feedback


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            '"""T?"""\ncheck()\n### BEGIN HIDDEN TESTS\n# why\n'
            '__import__("p").run("t", globals())\n### END HIDDEN TESTS',
            '# why\n__import__("p").run("t", globals())',
        ),
        ('"""T?"""\n### BEGIN HIDDEN TESTS\nx = 1\nassert x\n### END HIDDEN TESTS', None),
        ('"""T?"""\ncheck()', None),
    ],
)
def test_only_a_single_expression_region_is_a_probe(source, expected):
    """Is a hidden region taken as a probe only when it is one expression?"""
    assert probe_expression(_test_cell(source)) == expected


def _table(n: int, err) -> np.ndarray:
    i = np.arange(1.0, n + 1)
    return np.stack([1 + np.cos(i) ** 2, 40 + 40 * np.sin(i) ** 2, i, 1 + np.sin(i) ** 2, err])


def test_stand_in_gradient_is_exact_times_one_plus_its_errors():
    """Does a stand-in return its exact derivative, each coordinate off by its own error?"""
    params, n = np.sin(np.arange(1.0, 12.0)), 11
    exact = probe.StandIn(_table(n, np.zeros(n)))
    numeric = np.array(
        [(exact(params + e)[0] - exact(params - e)[0]) / 2e-7 for e in np.eye(n) * 1e-7]
    )
    assert np.allclose(exact(params)[1], numeric, rtol=1e-5)
    err = np.linspace(-0.3, 0.3, n)
    assert np.allclose(probe.StandIn(_table(n, err))(params)[1], exact(params)[1] * (1 + err))


def test_a_gradient_check_needs_the_differences_themselves():
    """Is the grader's expected difference (central differences with the case's epsilon) far
    from what the exact derivative gives, and from one coordinate scaled up?"""
    params, n = np.sin(np.arange(1.0, 12.0)), 11
    for err in (np.zeros(n), np.linspace(-0.3, 0.3, n)):
        table = _table(n, err)
        want = REFERENCE.gradient_difference(table, params, 8e-3)
        shortcut = REFERENCE.gradient_difference(table, params, 8e-3, exact=True)
        assert abs(want - shortcut) > 10 * REFERENCE.GC_RTOL * want
    one = err[0] / (2 + err[0])  # the relative difference of coordinate 0 alone
    assert abs(want - abs(one)) > 10 * REFERENCE.GC_RTOL * want


def test_probe_runs_cases_on_copies_and_captures_printing(tmp_path):
    """Does the probe call the notebook's function on fresh copies, patch globals and restore
    them, record failures as errors and keep the student's prints out of the output?"""
    arrays = {"x": np.arange(4.0)}
    tests = {
        "t": [
            {"id": "double", "call": "f", "args": [{"array": "x", "rows": [1, None, 2]}]},
            {"id": "sized", "call": "g", "args": [], "patch": {"size": 3}},
            {"id": "broken", "call": "h"},
            {"id": "value", "value": "obj.attr"},
        ]
    }
    (tmp_path / probe.INPUTS).write_bytes(probe.save_inputs(arrays, tests))

    class Obj:
        attr = (1.0, 2.0)

    def f(a):
        print("student output")
        a *= 2  # changes its own copy only
        return a

    namespace = {"size": 10, "obj": Obj()}
    namespace.update(f=f, g=lambda: namespace["size"], h=lambda: 1 / 0)
    record = probe.run("t", namespace, tmp_path)
    payload = json.loads(json.dumps(record._repr_mimebundle_()[probe.MIME]))
    got = Results(payload)
    assert got.array("double").tolist() == [2.0, 6.0]
    assert float(got.array("sized")) == 3.0 and namespace["size"] == 10
    assert got.error("broken") == "ZeroDivisionError: division by zero"
    assert [float(v) for v in got.parts("value", 2)] == [1.0, 2.0]
    assert arrays["x"].tolist() == [0.0, 1.0, 2.0, 3.0]


MLP = COURSE_ROOT / "source" / "mlp_from_scratch"
#: The grader's diagnosis of a calculate_loss copied from the classic code (seed material).
CLASSIC_LOSS_DIAGNOSIS = (
    "calculate_loss gets X without the bias column (as fit passes it), so predict must append "
    "it: call predict with its default add_bias=True, not with add_bias=False (addBias=False in "
    "the classic code, whose fit appends the column first)."
)


@pytest.fixture(scope="module")
def mlp_judge(tmp_path_factory):
    """mlp_from_scratch's reference module, its arrays, and a folder with the probe's inputs."""
    folder = tmp_path_factory.mktemp("mlp_probe")
    module = load_reference(MLP / "reference.py")
    arrays, tests = module.build(MLP)
    (folder / probe.INPUTS).write_bytes(probe.save_inputs(arrays, tests))
    return module, arrays, folder


def _mlp_verdict(mlp_judge, grade_id: str, *edits) -> Verdict:
    """The judge's verdict on a student's NeuralNetwork (the source's solution with ``edits``),
    from a record the probe made running that class in this process."""
    module, arrays, folder = mlp_judge
    source = nbformat.read(MLP / "mlp_from_scratch.ipynb", as_version=4)
    nb = student_notebook(source, release_notebook(source), Student("s", "s", edits=edits))
    namespace = {"__name__": "__main__", "np": np}
    code = next(c.source for c in nb.cells if cell_key(c) == "neural_network_class")
    exec(compile(code, "<cell>", "exec"), namespace)
    record = probe.run(grade_id, namespace, folder)
    payload = json.loads(json.dumps(record._repr_mimebundle_()[probe.MIME]))
    return module.judge(grade_id, Results(payload), arrays)


@pytest.mark.parametrize("keyword", ["add_bias", "addBias"])
def test_mlp_judge_diagnoses_calculate_loss_copied_from_the_classic_code(mlp_judge, keyword):
    """Does the grader name the classic code's calculate_loss (predict told not to add the bias
    column that X lacks) in the hidden test, with no partial credit (the notebook promises
    none), whichever keyword the student kept?"""
    students = {s.name: s for s in load_table("mlp_from_scratch").STUDENTS}
    if keyword == "add_bias":  # the sample student
        edits = students["loss_predict_without_bias"].edits
    else:
        edits = (classic_loss(keyword),)
    got = _mlp_verdict(mlp_judge, "network_calculate_loss", *edits)
    assert got == Verdict(0.0, CLASSIC_LOSS_DIAGNOSIS, "loss_predict_without_bias")


def test_mlp_judge_blames_a_wrong_predict_on_predict_not_on_calculate_loss(mlp_judge):
    """Is a calculate_loss that fails because predict never adds the bias column (while the
    loss of X with the column would be right) not taken for the classic code's slip?"""
    students = {s.name: s for s in load_table("mlp_from_scratch").STUDENTS}
    edits = students["predict_without_bias"].edits
    assert _mlp_verdict(mlp_judge, "network_calculate_loss") == RIGHT
    got = _mlp_verdict(mlp_judge, "network_calculate_loss", *edits)
    assert got.fraction == 0.0 and got.mistake is None
    assert got.message.startswith("small: ValueError: matmul")


def test_a_record_claiming_huge_arrays_is_refused_before_decoding():
    """Do 300 arrays of 2**24 zeros each (a few hundred KB of JSON, 38 GiB decoded) cost
    the grader nothing: every case past the record's budget is refused unread?"""
    import resource

    bomb = {"shape": [2**24], "data": _BOMB_24}
    record = {"cases": {"run": {"value": {"seq": [bomb] * 300, "len": 300}}, "x": {"value": bomb}}}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = Results(record)
    assert "larger than the grader reads" in results.error("run")
    assert results.array("x") is not None  # one array alone fits the budget
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 400, grown_mib


def test_a_stub_still_raising_is_not_written_yet_in_the_visible_checks_words():
    from ds4023.grading import judge

    assert judge.unwritten("sigmoid", "NotImplementedError: ") == (
        "sigmoid is not written yet: replace `raise NotImplementedError()` with your code."
    )
    assert judge.unwritten("sigmoid", "ValueError: shapes (5,) and (3,)") is None
    verdict = judge.settle(["wrong"], ["a vector"], "cost", {}, errors=["NotImplementedError: "])
    assert verdict.fraction == 0.0
    assert verdict.message == judge.unwritten("cost", "NotImplementedError: ")
