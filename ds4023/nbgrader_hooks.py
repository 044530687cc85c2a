"""nbgrader's autograder with hooks: the running cell, the kernel, the first error, the warnings."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from traitlets.config import Config

# Execute instances running in this process, by thread, so a watchdog can find the kernel.
RUNNING: dict[int, TrackedExecute] = {}


class TrackedExecute(Execute):
    """nbgrader's Execute preprocessor that remembers the running cell and its kernel.

    It behaves exactly like ``Execute``; in addition it times kernel start-up and the cells,
    records which cell was running (for the failure reason when the kernel dies) and lets
    the task's watchdog kill the kernel's process group when the submission overruns.
    """

    def preprocess(self, nb, resources=None, km=None):
        self.current = None
        self.started = time.perf_counter()
        self.cell_seconds = 0.0
        self.first_cell_at = None
        RUNNING[threading.get_ident()] = self
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            RUNNING.pop(threading.get_ident(), None)
            self.finished = time.perf_counter()

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        self.current = (index, grade_id)
        now = time.perf_counter()
        if self.first_cell_at is None:
            self.first_cell_at = now
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.cell_seconds += time.perf_counter() - now

    def kill_kernel(self) -> None:
        """Kill the kernel and every process it started (its process group)."""
        provisioner = getattr(self.km, "provisioner", None)
        pgid = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class CapturingAutograde(Autograde):
    """nbgrader's Autograde that keeps the first exception instead of only logging it."""

    failure: BaseException | None = None

    def _keep(self, call, *args):
        try:
            return call(*args)
        except Exception as err:
            self.failure = self.failure or err
            raise

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        self._keep(super().init_assignment, assignment_id, student_id)

    def convert_single_notebook(self, notebook_filename: str) -> None:
        self._keep(super().convert_single_notebook, notebook_filename)


class WarningCollector(logging.Handler):
    """Keeps nbgrader's warnings about the submission (changed metadata, restored cells).

    Checksum changes are left out: every test cell with hidden tests differs from the
    released copy, so they say nothing about the student.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        if record.levelno == logging.WARNING and text and "'checksum'" not in text:
            self.lines.append(text.splitlines()[0][:300])


def describe_failure(err: BaseException | None, execute: TrackedExecute | None, timed_out: float):
    """Turn what went wrong in one autograde run into one line a person can act on.

    Args:
        err: the first exception nbgrader raised (None if it only logged an error).
        execute: the Execute preprocessor of the run, if the kernel had been started.
        timed_out: the submission time limit in seconds if the watchdog fired, else 0.

    Returns:
        The reason text recorded with the student's zero.
    """
    where = ""
    if execute is not None and getattr(execute, "current", None):
        index, grade_id = execute.current
        where = f" while running cell {index}" + (f" ({grade_id})" if grade_id else "")
    name = type(err).__name__ if err is not None else "error"
    if timed_out:
        return f"stopped: the submission ran longer than its {timed_out:g} s limit{where}"
    if name == "CellTimeoutError":
        return f"a cell ran past its time limit and ignored the interrupt{where}"
    if name == "DeadKernelError":
        return f"the kernel died{where} (the code crashed it or exited the interpreter)"
    if name in ("NotJSONError", "JSONDecodeError"):
        return "the notebook is not valid JSON (damaged file): it could not be read"
    if name == "ValidationError":
        return "the notebook does not follow the notebook format: it could not be read"
    text = str(err).strip().splitlines()[0][:200] if err is not None and str(err).strip() else ""
    return f"{name}{where}: {text}" if text else f"{name}{where}"


def tracked_preprocessors(cfg: Config) -> list:
    """The autograde preprocessors (configured or nbgrader's), with Execute swapped for ours."""
    configured = cfg.Autograde.get("autograde_preprocessors")
    chain = configured or Autograde.class_traits()["autograde_preprocessors"].default()
    return [TrackedExecute if p is Execute else p for p in chain]


def find_execute(grader: Autograde) -> TrackedExecute | None:
    """The TrackedExecute instance an Autograde run used (None if it never got that far)."""
    exporter = getattr(grader, "exporter", None)
    for pp in getattr(exporter, "_preprocessors", []) or []:
        if isinstance(pp, TrackedExecute):
            return pp
    return None
