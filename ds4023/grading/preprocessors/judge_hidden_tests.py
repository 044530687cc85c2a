"""nbgrader step that scores each hidden test from the judge's verdict, never from the kernel.

``TrackedExecute`` leaves the probes' records in ``resources["ds4023_records"]``; this step,
placed right before nbgrader's ``SaveAutoGrades``, loads the assignment's ``reference.py``,
judges every test cell that has cases there and puts the verdict first in the cell's outputs
as an ``execute_result`` holding the score, followed by the sentence that explains it.
nbgrader reads a test cell's score from the first ``execute_result`` or error it finds, so the
judge's number is the one recorded, whatever the student's code printed or raised after it.
Also the bookkeeping of a known mistake goes into the cell's ``ds4023`` metadata, written by
the grader after the kernel is gone, for the reports.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer, Unicode

from ds4023.grading.judge import Results, Verdict, build_inputs, load_reference

_MODULES: dict[tuple, object] = {}
_CACHE: dict[tuple, tuple] = {}


def reference_for(path: Path, seed: int | None = None):
    """The reference module of ``path`` with one submission's ``(arrays, tests)`` (drawn
    from ``seed``), cached per file state and seed: the task writes the kernel's inputs from
    them, and this step judges against the same ones."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _MODULES:
        _MODULES.clear()
        _MODULES[key] = load_reference(path)
    module = _MODULES[key]
    if (key, seed) not in _CACHE:
        _CACHE.clear()
        _CACHE[(key, seed)] = (module, *build_inputs(module, path.parent, seed))
    return _CACHE[(key, seed)]


def apply_verdict(cell, verdict: Verdict) -> float:
    """Put the verdict first in a test cell's outputs; return the score it gives.

    Args:
        cell: the executed test cell (its ``points`` restored from the gradebook).
        verdict: the judge's verdict.

    Returns:
        The score: ``fraction`` times the cell's points.
    """
    points = float(cell.metadata["nbgrader"]["points"])
    score = round(verdict.fraction * points, 6)
    if verdict.fraction >= 1:
        text = ""
    elif verdict.fraction > 0:
        text = f"Partial credit: {score:g} of {points:g} points. {verdict.message}"
    else:
        text = f"0 of {points:g} points: {verdict.message}"
    result = nbformat.v4.new_output(
        "execute_result",
        data={"text/plain": f"{score:g}"},
        execution_count=cell.get("execution_count"),
    )
    head = [result] + (
        [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")] * bool(text)
    )
    cell.outputs = head + list(cell.outputs)
    cell.metadata["ds4023"] = {"score": score, "mistake": verdict.mistake, "message": text}
    return score


class JudgeHiddenTests(NbGraderPreprocessor):
    """Score the hidden tests of an assignment that has a ``reference.py`` (see module doc)."""

    reference = Unicode(
        "", help="path of the assignment's reference.py (empty: hidden tests score themselves)"
    ).tag(config=True)
    seed = Integer(
        None, allow_none=True, help="the submission's secret seed of its hidden inputs"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        if not self.reference:
            if resources.get("ds4023_records"):
                raise RuntimeError(
                    "the notebook's hidden tests are probes, but its assignment has no "
                    "reference.py to judge them: add source/<assignment>/reference.py"
                )
            return nb, resources
        module, arrays, tests = reference_for(Path(self.reference), self.seed)
        records = resources.get("ds4023_records", {})
        not_run = resources.get("ds4023_stopped") or "the test cell did not run"
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            if grade_id not in tests:
                continue
            payload, why = records.get(grade_id, (None, not_run))
            try:
                verdict = module.judge(grade_id, Results(payload, why), arrays)
            except Exception as err:  # a record the judge cannot read scores 0, and says so
                self.log.warning("could not judge %s: %s: %s", grade_id, type(err).__name__, err)
                verdict = Verdict(0.0, f"the result could not be judged ({type(err).__name__})")
            apply_verdict(cell, verdict)
        return nb, resources
