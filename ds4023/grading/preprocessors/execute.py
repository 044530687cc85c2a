"""nbgrader's autograder with hooks: the running cell, the kernel, the first error, the warnings."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute, SaveAutoGrades
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer, Unicode
from traitlets.config import Config

from ds4023 import probe
from ds4023.grading.bounded_client import UNREAD, BoundedKernelClient, too_deep
from ds4023.grading.judge import MAX_RECORD_BYTES
from ds4023.grading.preprocessors.judge_hidden_tests import JudgeHiddenTests
from ds4023.grading.preprocessors.overwrite_cells import NotThisNotebook

# Execute instances running in this process, by thread, so a watchdog can find the kernel.
RUNNING: dict[int, TrackedExecute] = {}
#: A hidden region of a cell, as nbgrader marks it.
#: matplotlib's inline backend: a figure a cell leaves open becomes an ``image/png`` output.
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"

HIDDEN_REGION = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*(\n|$)",
    re.S | re.M,
)


def probe_expression(cell) -> str | None:
    """The probe expression of a test cell: its one hidden region, if that is one expression.

    Args:
        cell: a notebook cell (its source restored from the gradebook by then).

    Returns:
        The expression, or None for any other cell (no hidden region, or hidden code that is
        not a single expression: an old-style hidden test that runs as part of the cell).
    """
    if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
        return None
    found = HIDDEN_REGION.findall(cell.source)
    if len(found) != 1:
        return None
    text = found[0][0].strip()
    try:
        compile(text, "<hidden test>", "eval")
    except SyntaxError:
        return None
    return text


class TrackedExecute(Execute):
    """nbgrader's Execute preprocessor that remembers the running cell and its kernel.

    It behaves like ``Execute``; in addition it times kernel start-up and the cells, records
    which cell was running (for the failure reason when the kernel dies) and lets the task's
    watchdog kill the kernel's process group when the submission overruns. Against hostile
    code it also:

    - runs a test cell's hidden region, one probe expression (``ds4023.probe``), not as part
      of the cell but afterwards through ``user_expressions`` of an execute request of its own
      (so the student's input transformers never see it, and a failing visible check does not
      stop it), and keeps what it returns in ``resources["ds4023_records"]`` for the judge;
    - reads the kernel's messages within bounds (``ds4023.grading.bounded_client``): a
      message over ``MAX_MESSAGE_BYTES`` is never copied or decoded, one nested too deeply is
      not handed on, and a probe's reply that was not read makes that test's record missing
      with the reason, not the notebook fail;
    - keeps at most ``max_output_bytes`` and ``max_outputs`` outputs of each cell while the
      cell runs (nbgrader's LimitOutput only counts lines, after the whole output is in
      memory), never dropping the first error or result, or the fact that something went to
      stderr;
    - when the kernel dies or the submission's watchdog stops it, keeps the cells that ran
      (``resources["ds4023_stopped"]`` says why the rest did not), so the tests that finished
      keep their scores;
    - waits for the output of a cell that printed a lot as long as the cell itself may run
      (``iopub_timeout``, at least the cell's ``timeout``; nbclient's default is 4 s): the
      kernel's reply can come long before a busy grader has read the outputs sent ahead of
      it, and an honest cell must not lose its notebook's later tests to a slow reader.
    """

    max_output_bytes = Integer(
        2 * 2**20, help="most bytes of output kept per cell; the rest is dropped as it arrives"
    ).tag(config=True)
    max_outputs = Integer(
        1000, help="most outputs kept per cell; the rest is dropped as it arrives"
    ).tag(config=True)
    iopub_timeout = Integer(30, help=Execute.iopub_timeout.help).tag(config=True)
    kernel_mplbackend = Unicode(
        KERNEL_MPLBACKEND,
        help="MPLBACKEND of the grading kernel (the grader itself keeps its own, e.g. Agg)",
    ).tag(config=True)

    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel with matplotlib's inline backend, so figures become PNG outputs.

        Only the kernel's environment changes: the grading process keeps its non-GUI backend
        (``MPLBACKEND=Agg`` from the Makefile or the task). A sandboxed kernel passes
        ``MPLBACKEND`` through (``ds4023.sandbox.launcher.ENV_PASS``).
        """
        env = dict(kwargs.pop("env", None) or os.environ)
        if self.kernel_mplbackend:
            env["MPLBACKEND"] = self.kernel_mplbackend
        return await super().async_start_new_kernel(env=env, **kwargs)

    # nbclient's setup_kernel calls the synchronous wrapper, bound to the base class's coroutine
    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        """Connect to the kernel with a client that reads its messages within bounds."""
        if self.km is not None and issubclass(BoundedKernelClient, self.km.client_factory):
            self.km.client_factory = BoundedKernelClient
        return await super().async_start_new_kernel_client()

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess(self, nb, resources=None, km=None):
        self.current = None
        self.started = time.perf_counter()
        self.cell_seconds = 0.0
        self.first_cell_at = None
        self.stopped_by_watchdog = False
        # what the kernel sent within the cell's limit is read within a like limit
        self.iopub_timeout = max(self.iopub_timeout, int(self.timeout or 0))
        resources = resources if resources is not None else {}
        resources["ds4023_records"] = {}
        RUNNING[threading.get_ident()] = self
        try:
            return super().preprocess(nb, resources, km=km)
        except (DeadKernelError, CellTimeoutError) as err:
            tests = [c for c in nb.cells if is_grade(c) and c.cell_type == "code"]
            tests = [c for c in tests if not is_solution(c)]
            judged = all(probe_expression(c) is not None for c in tests)
            if not judged or not (resources["ds4023_records"] or self.stopped_by_watchdog):
                # a test that scores itself would count as passed without having run, and
                # before any test ran the failure explains the whole submission
                raise
            limit = self.stopped_by_watchdog or 0
            resources["ds4023_stopped"] = "not run: " + describe_failure(err, self, limit)
            return nb, resources
        finally:
            RUNNING.pop(threading.get_ident(), None)
            self.finished = time.perf_counter()

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        self.current = (index, grade_id)
        self._output_bytes, self._dropped, self._probe_unread = 0, set(), None
        self.interrupted = False
        now = time.perf_counter()
        if self.first_cell_at is None:
            self.first_cell_at = now
        full, probe = cell.source, probe_expression(cell)
        self._judged = probe is not None
        if probe is not None:
            cell.source = HIDDEN_REGION.sub("", full)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            if probe is not None:
                resources["ds4023_records"][grade_id] = self._run_probe(probe, index)
            return cell, resources
        finally:
            cell.source = full
            self.cell_seconds += time.perf_counter() - now

    def _run_probe(self, expression: str, index: int) -> tuple[dict | None, str]:
        """Evaluate a hidden test's probe expression; return (record payload or None, why)."""
        probe_cell = nbformat.v4.new_code_cell("pass")
        original = self.kc.execute

        def execute(code, **kwargs):
            kwargs.update(silent=True, store_history=False, user_expressions={"r": expression})
            return original(code, **kwargs)

        self.kc.execute, self._probe_reply, self._probe_unread = execute, None, None
        test_cell = self.nb.cells[index]
        try:
            self.execute_cell(probe_cell, index, store_history=False)
        finally:
            del self.kc.execute  # back to the class's method
            self.nb.cells[index] = test_cell  # nbclient put the probe's cell in its place
        unread = self._probe_unread
        if unread is not None:
            what = "nested deeper" if unread.get("reason") == "deep" else "larger"
            return None, f"the hidden test's record is {what} than the grader reads"
        reply = (self._probe_reply or {}).get("r")
        if not isinstance(reply, dict):
            return None, "the hidden test did not run (the kernel gave no answer)"
        if reply.get("status") != "ok":
            why = f"{reply.get('ename', 'error')}: {reply.get('evalue', '')}"[:300]
            return None, f"the hidden test could not run ({why})"
        payload = reply.get("data", {}).get(probe.MIME)
        if not isinstance(payload, dict):
            return None, "the hidden test returned no record"
        if too_deep(payload):  # the client checked the whole reply; this is the record alone
            return None, "the hidden test's record is nested deeper than the grader reads"
        if len(json.dumps(payload)) > MAX_RECORD_BYTES:
            return None, "the hidden test's record is larger than the grader reads"
        return payload, ""

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        kind = msg.get("msg_type")
        size = len(content.get("text", ""))
        size += sum(len(str(v)) for v in content.get("data", {}).values())
        size += sum(len(line) for line in content.get("traceback", []))
        self._output_bytes = getattr(self, "_output_bytes", 0) + size
        over_bytes = self._output_bytes > self.max_output_bytes
        over_count = len(outs) >= self.max_outputs
        if over_count and kind in ("error", "execute_result"):
            # past the count, only the first of each: all nbgrader reads to score a cell
            over_count = any(o.get("output_type") == kind for o in outs)
        if not (over_bytes or over_count) or (kind == "error" and not over_count):
            return super().output(outs, msg, display_id, cell_index)
        if kind == "execute_result" and not over_count:  # kept (it may be a score), cut short
            content["data"] = {k: str(v)[:1000] for k, v in content.get("data", {}).items()}
            return super().output(outs, msg, display_id, cell_index)
        stream = content.get("name") if kind == "stream" else "stdout"
        if stream not in self._dropped:  # say so once per stream (stderr counts for nbgrader)
            self._dropped.add(stream)
            cap = self.max_outputs if over_count else self.max_output_bytes
            limit = f"{cap} outputs" if over_count else f"{cap} bytes"
            text = f"\n... output truncated by the grader: more than {limit} ...\n"
            outs.append(nbformat.v4.new_output("stream", name=stream, text=text))
        return None

    async def _async_handle_timeout(self, timeout, cell=None):
        self.interrupted = True  # the cell ran past its limit: the kernel is being interrupted
        return await super()._async_handle_timeout(timeout, cell)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        cell, reply = kwargs.get("cell"), (kwargs.get("execute_reply") or {}).get("content", {})
        if "user_expressions" in reply:
            self._probe_reply = reply["user_expressions"]
        if isinstance(reply.get(UNREAD), dict):  # the client did not read the kernel's reply
            self._probe_unread = reply[UNREAD]
        judged = getattr(self, "_judged", False)
        if cell is not None and is_grade(cell) and not judged and reply.get("status") == "error":
            # a test that scores itself (no probe): a result emitted before its error is no score
            cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]

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
    if isinstance(err, NotThisNotebook):
        return str(err)[:600]
    if name == "CellTimeoutError" and not getattr(execute, "interrupted", True):
        return f"the output of a cell could not be collected in time (it printed too much){where}"
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
    """The autograde preprocessors (configured or nbgrader's): Execute swapped for ours, and the
    judge (:class:`.judge_hidden_tests.JudgeHiddenTests`) right before ``SaveAutoGrades``."""
    configured = cfg.Autograde.get("autograde_preprocessors")
    chain = configured or Autograde.class_traits()["autograde_preprocessors"].default()
    out = []
    for p in chain:
        if p is Execute or p is TrackedExecute:
            out.append(TrackedExecute)
        elif p is SaveAutoGrades:
            out += [JudgeHiddenTests, SaveAutoGrades]
        elif p is not JudgeHiddenTests:
            out.append(p)
    return out


def find_execute(grader: Autograde) -> TrackedExecute | None:
    """The TrackedExecute instance an Autograde run used (None if it never got that far)."""
    exporter = getattr(grader, "exporter", None)
    for pp in getattr(exporter, "_preprocessors", []) or []:
        if isinstance(pp, TrackedExecute):
            return pp
    return None
