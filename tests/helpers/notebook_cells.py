"""Run a sample student's notebook cells in-process, cell by cell, as the student would.

The tests of the checking modules (``source/<assignment>/<name>_checks.py``) need each sample
student's functions and the output of their visible test cells. Starting a kernel per student
is slow, so the code cells are executed here with ``exec`` in one namespace per student, in a
scratch folder holding the data and a fresh copy of the checking module and of the core it
loads (imported under its own name, as in a kernel). IPython magics (``%matplotlib inline``) are
skipped. A cell's error is recorded as IPython shows it: what ``_render_traceback_`` returns
when the exception has one (a failing check), else ``Type: message``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from ds4023.assignments import SHIPPED, manifest
from ds4023.grading.judge import load_module
from ds4023.sample_class.students import (
    Student,
    cell_key,
    load_table,
    release_notebook,
    student_notebook,
)
from tests.helpers import COURSE_ROOT


@dataclass
class CellRun:
    """What one executed cell printed, and the exception that stopped it (if any), as shown."""

    stdout: str = ""
    stderr: str = ""
    error: str | None = None


@dataclass
class StudentRun:
    """A student's namespace after their cells ran, and each cell's output by cell key."""

    namespace: dict
    cells: dict[str, CellRun] = field(default_factory=dict)
    checks: object = None


def source_dir(assignment: str) -> Path:
    """The assignment's folder in ``source/``."""
    return COURSE_ROOT / "source" / assignment


def workdir(assignment: str, dest: Path) -> Path:
    """A folder with the data files and the checking module, as beside a released notebook."""
    setup = manifest(assignment)
    dest.mkdir(parents=True, exist_ok=True)
    for name in setup.data:
        built = COURSE_ROOT / "data" / name
        if not built.is_file():
            raise FileNotFoundError(f"{built} is missing: run `make data` first")
        shutil.copy2(built, dest / name)
    shutil.copy2(source_dir(assignment) / f"{setup.checks}.py", dest)
    for name in SHIPPED:
        shutil.copy2(source_dir(assignment) / name, dest)
    return dest


def load_checks(assignment: str, folder: Path):
    """Import the checking module from ``folder`` as a fresh module (no bytecode written)."""
    return load_module(folder / f"{manifest(assignment).checks}.py")


def student_notebooks(assignment: str) -> dict[str, nbformat.NotebookNode]:
    """Every sample student's notebook, as ``python -m ds4023.sample_class.students`` writes it."""
    source = nbformat.read(source_dir(assignment) / f"{assignment}.ipynb", as_version=4)
    release = release_notebook(source)
    table = load_table(assignment)
    return {s.name: student_notebook(source, release, s) for s in table.STUDENTS}


def run_student(assignment: str, nb: nbformat.NotebookNode, folder: Path) -> StudentRun:
    """Execute a notebook's code cells up to the assignment's ``stop_at`` cell, in ``folder``.

    Every cell runs even when an earlier one failed (as with "run all, ignore errors"); its
    stdout, stderr and error are recorded. The checking module is imported from ``folder``
    for this run only.

    Args:
        assignment: the assignment name (see ``ds4023.assignments``).
        nb: the notebook (a student's, i.e. visible tests only).
        folder: a folder made by :func:`workdir`.

    Returns:
        The namespace and the per-cell outputs.
    """
    setup = manifest(assignment)
    checks = load_checks(assignment, folder)
    run = StudentRun(namespace={"__name__": "__main__"}, checks=checks)
    saved_module = sys.modules.get(setup.checks)
    here = os.getcwd()
    sys.modules[setup.checks] = checks
    os.chdir(folder)
    try:
        for cell in nb.cells:
            if cell.get("id") == setup.stop_at:
                break
            if cell.cell_type != "code" or cell.get("id") in setup.slow_cells:
                continue
            run.cells[cell_key(cell)] = _execute(cell.source, run.namespace)
    finally:
        os.chdir(here)
        if saved_module is None:
            sys.modules.pop(setup.checks, None)
        else:
            sys.modules[setup.checks] = saved_module
        _close_figures()
    return run


def _execute(source: str, namespace: dict) -> CellRun:
    code = "\n".join(line for line in source.split("\n") if not line.startswith("%"))
    out, err = io.StringIO(), io.StringIO()
    result = CellRun()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(code, "<cell>", "exec"), namespace)
        except Exception as exc:
            result.error = shown_error(exc)
    result.stdout, result.stderr = out.getvalue(), err.getvalue()
    return result


def shown_error(exc: BaseException) -> str:
    """The lines IPython shows for an exception stopping a cell, without the traceback frames.

    An exception with ``_render_traceback_`` (a failing check) is shown as exactly the lines
    that method returns; any other as ``Type: message`` (IPython adds the frames above it).
    """
    render = getattr(exc, "_render_traceback_", None)
    if callable(render):
        return "\n".join(render())
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def run_variant(assignment: str, folder: Path, name: str, *edits) -> StudentRun:
    """A student who solved everything and then made ``edits`` (sample_class Edits), run here."""
    source = nbformat.read(source_dir(assignment) / f"{assignment}.ipynb", as_version=4)
    nb = student_notebook(source, release_notebook(source), Student(name, name, edits=edits))
    return run_student(assignment, nb, folder)


def visible_output(run: StudentRun, cells) -> str:
    """What the given test cells printed and raised, as one text."""
    return "\n".join(
        f"{run.cells[c].stdout}\n{run.cells[c].error or ''}" for c in cells if c in run.cells
    )


def named_mistakes(checks, text: str) -> set[str]:
    """The known mistakes (keys of the checking module's MESSAGES) whose sentence is in ``text``."""
    return {key for key, message in checks.MESSAGES.items() if message in text}


def fingerprint_problems(found: dict, stored: dict) -> list[str]:
    """How fresh fingerprints differ from the stored table; each line says how to regenerate.

    Args:
        found: name -> fingerprint computed now from the source's solution and the mistakes.
        stored: the checking module's FINGERPRINTS.

    Returns:
        One line per problem (empty when they agree), ending with the table to paste.
    """
    fresh = "\n".join(f'    "{k}": {tuple(float(x) for x in v)!r},' for k, v in found.items())
    problems = (
        [f"names differ: {sorted(set(found) ^ set(stored))}"] if set(found) != set(stored) else []
    )
    problems += [
        f"{key} differs"
        for key, values in found.items()
        # 1e-9: what the checks match with; a finite-difference gradient's fingerprint moves by
        # ~1e-11 between CPUs (BLAS kernels), which a tighter tolerance took for a change
        if key in stored and not np.allclose(values, stored[key], rtol=1e-9, atol=1e-12)
    ]
    return [*problems, f"regenerate FINGERPRINTS:\n{fresh}"] if problems else []


def diagnosis_problems(runs: dict, checks, diagnoses: dict, test_cells) -> dict:
    """Where a sample class's visible tests do not name each student's own mistake, alone.

    Args:
        runs: student -> StudentRun.
        checks: the checking module.
        diagnoses: student -> the mistake key its tests must name (None: nothing).
        test_cells: the visible test cells' keys.

    Returns:
        student -> what was wrong (empty when every student is diagnosed as expected): the
        names found instead, a diagnosis not named once in the one-line error of its cell, a
        test cell that printed on stdout, or a cell that wrote to stderr.
    """
    problems = {}
    for name, run in runs.items():
        expected = {diagnoses[name]} if diagnoses[name] else set()
        found = named_mistakes(checks, visible_output(run, test_cells))
        if found != expected:
            problems[name] = f"named {sorted(found)}, expected {sorted(expected)}"
            continue
        message = checks.MESSAGES[diagnoses[name]] if expected else None
        shown = [c for c in test_cells if c in run.cells]
        naming = [c for c in shown if message and message in (run.cells[c].error or "")]
        for cell in naming:
            error = run.cells[cell].error
            if error.count(message) != 1 or len(error.splitlines()) != 1:
                problems[name] = f"{cell} shows more than the one-line message: {error!r}"
        if message and not naming:
            problems[name] = "no test cell's error names the diagnosis"
        printing = [c for c in shown if run.cells[c].stdout]
        if printing:
            problems[name] = f"{printing[0]} printed {run.cells[printing[0]].stdout[:200]!r}"
        noisy = [c for c in shown if run.cells[c].stderr]
        if noisy:
            problems[name] = f"{noisy[0]} wrote to stderr: {run.cells[noisy[0]].stderr[:200]}"
    return problems


def errors_and_stderr(nb: nbformat.NotebookNode) -> list[str]:
    """Every error output and stderr stream of an executed notebook, one line each.

    Each line starts with the cell's ``grade_id`` (or its id when it has none).
    """
    problems = []
    for cell in nb.cells:
        label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"{label}: {out.ename}: {out.evalue[:200]}")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"{label}: stderr {out.text[:200]}")
    return problems
