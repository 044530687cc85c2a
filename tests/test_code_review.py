"""Tests for ds4023.code_review: which student code is held for a person, and which is not."""

from __future__ import annotations

import nbformat
import pytest

from ds4023 import COURSE_ROOT, sample_class
from ds4023.code_review import build_harness, review

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"

#: A tiny assignment: a locked import cell and a test whose hidden part defines _reference.
SOURCES = {
    "imports": "import numpy as np\nfrom scipy.io import loadmat\nimport backprop_checks as checks",
    "test": (
        "assert abs(f(1) - 2) < 1e-9\n"
        f"### {BEGIN}\n"
        "def _reference(x):\n    return 2 * x\n"
        "for _case in zip([1, 2], [2, 4], strict=True):\n"
        "    assert f(_case[0]) == _reference(_case[0])\n"
        f"### {END}\n"
    ),
}
HARNESS = build_harness(SOURCES, {"imports", "test"}, BEGIN, END)


def findings(code: str) -> list[str]:
    return review([("answer", code)], HARNESS)


def test_harness_knows_hidden_names_test_builtins_and_locked_imports():
    """Does the harness list what only hidden tests define, the builtins and imports tests use?"""
    assert HARNESS.hidden_names == {"_reference", "_case"}
    assert {"abs", "zip"} <= HARNESS.test_builtins
    assert HARNESS.imports == {
        "np": "numpy",
        "loadmat": "scipy.io.loadmat",
        "checks": "backprop_checks",
    }
    assert "backprop_checks" in HARNESS.modules


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("np.allclose = lambda *a, **k: True", "changes np.allclose"),
        ("np.testing.assert_allclose = print", "changes np.testing.assert_allclose"),
        ("checks.check_cost = lambda *a: None", "changes checks.check_cost"),
        ("import builtins\nbuiltins.abs = round", "imports builtins"),
        ("def zip(*args, strict=False):\n    return iter(())", "redefines zip"),
        ("abs = lambda x: 0", "redefines abs"),
        ("np = None", "rebinds np"),
        ("import pandas as np", "rebinds np"),
        ("def f(x):\n    return _reference(x)", "uses _reference, a name of the hidden tests"),
        ("source = In[3]", "uses In"),
        ("source = _i3", "uses _i3"),
        ("exec('x = 1')", "uses exec"),
        ("get_ipython().set_custom_exc((Exception,), print)", "uses get_ipython"),
        ("import sys\nsys.displayhook(10)", "uses .displayhook"),
        ("import sys\nframe = sys._getframe(1)", "uses ._getframe"),
        ("import sys\nnp2 = sys.modules['numpy']", "uses sys.modules"),
        ("import os\nos.chdir('/tmp')", "uses .chdir"),
        ("object.__setattr__(np, 'pi', 3)", "uses .__setattr__"),
        ("x = getattr(np, 'all' + 'close')", "calls getattr with a computed name"),
        ("import ctypes", "imports ctypes"),
        ("import stolen_reference", "not installed"),
        ("from . import helper", "relative"),
        ("data = np.load('x.npy', allow_pickle=True)", "allow_pickle"),
        ("def f():\n    global zip\n    zip = None", "declares global zip"),
        ("!ls ..", "uses get_ipython"),
        ("%run other.py", "uses get_ipython"),
    ],
)
def test_code_that_reaches_into_the_tests_is_found(code, expected):
    """Is each way of reaching into the test machinery named, with its cell and line?"""
    found = findings(code)
    assert any(expected in f for f in found), found
    assert all(f.startswith("cell answer line ") for f in found)


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\nx = np.allclose([1.0], [1.0])",
        "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80",
        "from sklearn.preprocessing import OneHotEncoder\nenc = OneHotEncoder()\nenc.x = 1",
        "def f(x):\n    total = sum(x)\n    max = 3\n    return total",
        "_, grad = (1, 2)\n_x = 3",
        "%matplotlib inline\n%timeit sum([1, 2])",
        "import os\npath = os.path.join('a', 'b')",
        "x = getattr(np, 'pi')",
        "class Net:\n    def __init__(self):\n        self.w = 1\n    def __eq__(self, o):\n"
        "        return True",
        "def broken(:\n    pass",  # a syntax error: it fails when it runs, nothing to review
    ],
)
def test_ordinary_code_is_not_held(code):
    """Does ordinary notebook code (plots, encoders, magics, bad syntax) pass the review?"""
    assert findings(code) == []


@pytest.mark.parametrize("assignment", sorted(sample_class.ASSIGNMENT_TABLES))
def test_no_sample_student_is_held(assignment):
    """Does every sample student of the real notebooks pass the review (no false alarms)?"""
    path = COURSE_ROOT / "source" / assignment / f"{assignment}.ipynb"
    source = nbformat.read(path, as_version=4)
    release = sample_class.release_notebook(source)

    def grade_id(cell):
        return cell.metadata.get("nbgrader", {}).get("grade_id")

    sources = {grade_id(c): c.source for c in source.cells if grade_id(c)}
    locked = {grade_id(c) for c in source.cells if c.metadata.get("nbgrader", {}).get("locked")}
    harness = build_harness(sources, locked, BEGIN, END)
    assert harness.hidden_names  # the real tests do hide names of their own
    for student in sample_class.load_table(assignment).STUDENTS:
        nb = sample_class.student_notebook(source, release, student)
        cells = [
            (grade_id(c) or c.get("id"), c.source)
            for c in nb.cells
            if c.cell_type == "code" and grade_id(c) not in locked
        ]
        assert review(cells, harness) == [], student.name
