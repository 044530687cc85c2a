"""The grader side of a hidden test: read a kernel's record and judge it against the reference.

The kernel only computes (``ds4023.probe``); everything that decides a grade happens here, in
the grading process, which never runs student code and which the sandbox cannot see. Each
assignment's ``source/<a>/reference.py`` (never released, never exposed to a kernel) provides

- ``build(folder, seed) -> (arrays, tests)``: one submission's inputs (arrays by name, drawn
  from ``seed``, see :func:`submission_seed`) and, per hidden test, the cases the probe runs;
  ``folder`` holds the assignment's data files;
- ``judge(grade_id, results, arrays) -> Verdict``: the score of one hidden test from the
  student's results on those cases.

This module holds what every ``reference.py`` shares: :class:`Results` (a record read
defensively), :class:`Verdict`, :func:`worst`, :func:`near` and :func:`how_far` (tolerances
relative to the values' size, and the note for a value just outside), :func:`settle` (the
partial-credit rule) and :func:`load_reference`. The nbgrader step that applies verdicts to
the notebook is ``ds4023.grading.preprocessors.judge_hidden_tests``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ds4023 import probe

#: Most bytes of a record the grader reads at all.
MAX_RECORD_BYTES = 2 * probe.MAX_RECORD_BYTES
#: Most bytes the arrays of one record may decode to, all cases together (a training run's
#: 250 gradients take 21 MB).
MAX_DECODED_BYTES = 2 * 8 * probe.MAX_ELEMENTS


#: A function still raising the notebook stub's NotImplementedError, in the visible checks' words.
UNWRITTEN = "is not written yet: replace `raise NotImplementedError()` with your code."


def unwritten(what: str, why: str) -> str | None:
    """'<what> is not written yet: ...' when ``why`` is the stub's error, else None."""
    return f"{what} {UNWRITTEN}" if why.startswith("NotImplementedError") else None


class NoResult(Exception):
    """The record holds no usable result for a case; the text says why (student-facing)."""


@dataclass(frozen=True)
class Verdict:
    """The judgement of one hidden test.

    Attributes:
        fraction: the share of the test's points earned: 0, 0.5 or 1.
        message: what the student reads next to the score (empty when fully right).
        mistake: the key of the known mistake behind a partial or zero score, if one was seen.
    """

    fraction: float
    message: str = ""
    mistake: str | None = None


RIGHT = Verdict(1.0)


class Results:
    """The results of one hidden test as the kernel reported them, read defensively.

    Args:
        record: the decoded JSON payload of the probe's record, or None if there was none.
        why_missing: the reason there is no record (shown to the student).
    """

    def __init__(self, record: dict | None, why_missing: str = "") -> None:
        self.why_missing = why_missing or "the hidden test produced no result"
        cases = record.get("cases") if isinstance(record, dict) else None
        self.cases: dict = cases if isinstance(cases, dict) else {}
        self.present = isinstance(cases, dict)
        self._decoded: dict = {}
        self._budget = MAX_DECODED_BYTES

    def value(self, case: str):
        """The decoded result of ``case``: an array, or a list of arrays for a tuple result.

        Raises:
            NoResult: the case is missing, failed in the student's code, or is malformed.
        """
        if not self.present:
            raise NoResult(self.why_missing)
        entry = self.cases.get(case)
        if not isinstance(entry, dict):
            raise NoResult(f"no result for {case!r}")
        if "error" in entry:
            raise NoResult(str(entry["error"])[:300])
        if case not in self._decoded:
            self._decoded[case] = self._decode(case, entry.get("value"))
        value = self._decoded[case]
        if isinstance(value, NoResult):
            raise value
        if self._numbers(case) and isinstance(value, np.ndarray) and value.ndim == 1:
            return [np.array(v) for v in value]  # a list of numbers, item by item
        return value

    def _decode(self, case: str, encoded):
        """The decoded value, or the NoResult that says why there is none; every case's
        arrays come out of one budget (``MAX_DECODED_BYTES``), claimed before decoding."""
        claimed = probe.claimed_bytes(encoded)
        if claimed > self._budget:
            return NoResult(f"the result for {case!r} is larger than the grader reads")
        self._budget -= claimed
        try:
            return probe.decode(encoded)
        except Exception as err:  # anything the kernel sent that is not our format
            return NoResult(f"the result for {case!r} is malformed ({type(err).__name__})")

    def _numbers(self, case: str) -> bool:
        """Whether the probe sent a list or tuple of plain numbers as one array."""
        entry = self.cases.get(case)
        value = entry.get("value") if isinstance(entry, dict) else None
        return isinstance(value, dict) and "len" in value and "shape" in value

    def array(self, case: str) -> np.ndarray | None:
        """The result of ``case`` as one float array, or None when there is none usable."""
        try:
            value = self.value(case)
        except NoResult:
            return None
        if self._numbers(case):  # a list of numbers (y_pred as a list, say) is an array too
            return self._decoded[case]
        return value if isinstance(value, np.ndarray) else None

    def parts(self, case: str, count: int) -> list[np.ndarray] | None:
        """The ``count`` arrays of a tuple result, or None when it is not that."""
        try:
            value = self.value(case)
        except NoResult:
            return None
        return value if isinstance(value, list) and len(value) == count else None

    def length(self, case: str) -> int | None:
        """How many items a tuple, list or string result had (before any were cut), or None."""
        entry = self.cases.get(case)
        value = entry.get("value") if isinstance(entry, dict) else None
        size = value.get("len") if isinstance(value, dict) else None
        return size if isinstance(size, int) and not isinstance(size, bool) else None

    def text(self, case: str) -> str | None:
        """The string result of ``case`` (a ``repr`` capture, a string), or None."""
        try:
            value = self.value(case)
        except NoResult:
            return None
        return value if isinstance(value, str) else None

    def types(self, case: str) -> list[str]:
        """The names of the result's type and its bases (``"numpy.ndarray"``, ...), or []."""
        entry = self.cases.get(case)
        names = entry.get("type") if isinstance(entry, dict) else None
        return [str(n) for n in names] if isinstance(names, list) else []

    def item_types(self, case: str) -> list[list[str]]:
        """Per item of a tuple or list result, the names of its type and bases (else [])."""
        entry = self.cases.get(case)
        items = entry.get("item_types") if isinstance(entry, dict) else None
        if not isinstance(items, list):
            return []
        return [[str(n) for n in t] if isinstance(t, list) else [] for t in items]

    def digest(self, case: str):
        """The ``[shape, sha256]`` the kernel reported for a value, or None."""
        entry = self.cases.get(case)
        if isinstance(entry, dict) and isinstance(entry.get("value"), dict):
            return entry["value"].get("digest")
        return None

    def error(self, case: str) -> str:
        """Why ``case`` has no usable result ('' when it has one)."""
        try:
            self.value(case)
        except NoResult as why:
            return str(why)
        return ""


#: The ``[shape, sha256]`` of an array, computed by the probe's own function, so both agree.
digest = probe.digest


def worst(a, b) -> float:
    """Largest ``|a - b|`` over all entries, broadcast as NumPy does; infinite for NaN,
    infinities or shapes that do not broadcast."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return np.inf
    with np.errstate(all="ignore"):
        d = np.abs(a - b)
    if d.size == 0:
        return 0.0
    return float(d.max()) if np.all(np.isfinite(d)) else np.inf


def near(got, want, rtol: float) -> bool:
    """Whether ``got`` has the shape of ``want`` and differs from it by at most ``rtol`` times
    the reference's largest magnitude anywhere: a tolerance that follows the numbers' size,
    loose enough for float32 arithmetic (about 1e-7 of the size) at ``rtol`` = 5e-5."""
    if got is None:
        return False
    g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        return False
    if w.size == 0:
        return True
    scale = float(np.max(np.abs(w))) if np.all(np.isfinite(w)) else np.inf
    return worst(g, w) <= rtol * max(scale, 1e-300)


#: How far off, relative to the reference's size, a value may be and still be called close.
CLOSE = 1e-2


def how_far(got, want, rtol: float, note: str = "", upto: float = CLOSE) -> str:
    """A note for the student when ``got`` misses ``want`` only a little, else ''.

    The offset is measured as :func:`near` measures it (largest difference over the
    reference's largest magnitude). Nothing is said when ``got`` is within ``rtol`` (its fault
    lies elsewhere), is off by more than ``upto``, or is not comparable (shape, NaN).

    Args:
        got: the student's value.
        want: the reference value.
        rtol: the tolerance ``got`` was judged with.
        note: words added after the tolerance, e.g. why it is that tight.
        upto: the largest offset still called close.

    Returns:
        ``" (close: off by 3.2e-04 of its size; at most 5e-05 is accepted<note>)"`` or ''.
    """
    try:
        g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    except (TypeError, ValueError):
        return ""
    if g.shape != w.shape or w.size == 0:
        return ""
    with np.errstate(all="ignore"):
        off = float(np.max(np.abs(g - w)) / max(float(np.max(np.abs(w))), 1e-300))
    if not np.isfinite(off) or off <= rtol or off > upto:
        return ""
    digits = 1
    while float(f"{off:.{digits}e}") <= rtol:  # 1.04e-06 against 1e-06 is not "1.0e-06"
        digits += 1
    return f" (close: off by {off:.{digits}e} of its size; at most {rtol:.0e} is accepted{note})"


def close(a, b, tol: float = 1e-9) -> bool:
    """Whether ``a`` and ``b`` have the same shape and differ by at most ``tol`` anywhere."""
    return a is not None and np.shape(a) == np.shape(b) and worst(a, b) <= tol


def settle(
    kinds: list[str],
    names: list[str],
    what: str,
    messages: dict[str, str],
    data_ok: bool = True,
    data_note: str = "",
    errors: list[str] | None = None,
) -> Verdict:
    """The partial-credit rule of the course, from the kind of each case's result.

    A kind is ``"right"``, the key of a known mistake (half credit when it is the only one and
    the notebook's data are right), ``"wrong <function>"`` (right on top of a wrong function
    it builds on: half credit), or ``"wrong"``.

    Args:
        kinds: the kind of each case.
        names: a readable name of each case, for the message.
        what: the function judged, for the message.
        messages: known mistake -> the sentence that explains it.
        data_ok: whether the notebook's own data (X, y_onehot) are right.
        data_note: the sentence for "right, but the notebook's data are not".
        errors: per case, the student's error text if it raised ('' otherwise).

    Returns:
        The verdict.
    """
    wrong = set(kinds) - {"right"}
    if not wrong:
        return RIGHT if data_ok else Verdict(0.5, data_note, "notebook_data")
    if len(wrong) == 1 and data_ok and "wrong" not in wrong:
        key = wrong.pop()
        default = f"{what} itself is right; the mistake is in {key[6:]}, which it builds on."
        return Verdict(0.5, messages.get(key, default), key if key in messages else None)
    first = next(i for i, k in enumerate(kinds) if k != "right")
    raised = (errors or [""] * len(kinds))[first]
    if unwritten(what, raised):
        return Verdict(0.0, unwritten(what, raised))
    detail = f": {raised}" if raised else ""
    return Verdict(0.0, f"{what} is wrong for {names[first]}{detail}")


def load_module(path: Path):
    """Import a Python file from its path as a module of its own, writing no bytecode.

    The file may import modules beside it by name (a checking module imports
    ``checks_core``), as it does in a kernel started in its folder; those are loaded from
    that folder, afresh, and left out of ``sys.modules`` afterwards too.

    Args:
        path: the file (a ``reference.py``, or a checking module beside it).

    Returns:
        The module; it is not left in ``sys.modules``.

    Raises:
        ImportError: the file is missing.
    """
    name = f"ds4023_loaded_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not Path(path).is_file():
        raise ImportError(f"no module at {path}")
    folder = Path(path).resolve().parent
    siblings = {p.stem for p in folder.glob("*.py")} | {name}
    shadowed = {n: sys.modules.pop(n) for n in siblings if n in sys.modules}
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(folder))
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in source/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        sys.dont_write_bytecode = keep
        for sibling in siblings:
            sys.modules.pop(sibling, None)
        sys.modules.update(shadowed)
    return module


def load_reference(path: Path):
    """Import an assignment's ``reference.py`` from its path, as a module of its own.

    Args:
        path: the file.

    Returns:
        The module (needs ``build`` and ``judge``).

    Raises:
        ImportError: the file is missing or lacks ``build``/``judge``.
    """
    module = load_module(path)
    if not (callable(getattr(module, "build", None)) and callable(getattr(module, "judge", None))):
        raise ImportError(f"{path} must define build(folder) and judge(grade_id, results, arrays)")
    return module


#: The name the probe module has in a kernel's folder.
PROBE_MODULE = "ds4023_probe.py"


def bundle_files(source: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The files a grading task needs to judge an assignment's hidden tests.

    Args:
        source: ``source/<assignment>/`` (the data files installed there).

    Returns:
        ``(probe_files, judge_files)``: the probe module, for the kernel's folder, and
        ``{"reference.py": ...}`` for the grading process alone; both empty when the
        assignment has no ``reference.py`` (its hidden tests then score themselves). The
        inputs are drawn per submission by the task (:func:`build_inputs`).
    """
    path = Path(source) / "reference.py"
    if not path.is_file():
        return {}, {}
    load_reference(path)  # a broken reference.py stops the run before any grading
    return {PROBE_MODULE: Path(probe.__file__).read_bytes()}, {"reference.py": path.read_bytes()}


def submission_seed(secret: bytes, assignment: str, student: str, digest_: str) -> int:
    """The seed of one submission's hidden inputs: only whoever holds ``secret`` can know it,
    and the same submission gets the same inputs on every regrade."""
    text = f"{assignment}/{student}/{digest_}".encode()
    return int.from_bytes(hmac.new(secret, text, hashlib.sha256).digest()[:8], "big")


def build_inputs(module, folder: Path, seed: int | None) -> tuple[dict, dict]:
    """``module.build(folder, seed)``: the arrays and cases of one submission (an older
    ``reference.py`` whose ``build`` takes no seed gets the same inputs every time)."""
    if "seed" in inspect.signature(module.build).parameters:
        return module.build(Path(folder), seed=seed)
    return module.build(Path(folder))
