"""Feedback preprocessor: the source of hidden tests, and any output quoting it, removed."""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Unicode

#: What replaces each hidden-test region in the feedback.
PLACEHOLDER = "# [hidden tests: not shown]"
#: What replaces an output line that quotes a hidden test.
REDACTED = "[line of a hidden test removed]"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Output types that only show a value as text.
TEXT = {"text/plain", "text/latex"}


def _strip_hidden(source: str, begin: str, end: str) -> tuple[str, list[str]]:
    kept, hidden, inside = [], [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            kept.append(line[: len(line) - len(line.lstrip())] + PLACEHOLDER)
        elif end in line:
            inside = False
        elif inside:
            hidden.append(line.strip())
        else:
            kept.append(line)
    return "\n".join(kept), [h for h in hidden if len(h) >= 6]


def _redact(text: str, hidden: list[str]) -> str:
    lines = text.split("\n")
    return "\n".join(
        REDACTED if any(h in _ANSI.sub("", ln) for h in hidden) else ln for ln in lines
    )


class HideHiddenTests(Preprocessor):
    """Replace hidden-test regions by a placeholder and scrub what any output quotes of them.

    Every test cell also loses the bare value of its last line (:func:`drop_bare_values`).

    In every test cell that held a hidden region: the region becomes one placeholder line;
    error tracebacks shrink to the exception type and message (IPython tracebacks quote the
    failing source lines); and any output line still quoting a hidden line is replaced. In
    every other cell, output lines quoting a line of any hidden region are replaced too: a
    student's cell could print what it caught of a hidden test that called its code.
    """

    #: on by default: nbgrader's GenerateFeedback registers its preprocessors without enabling
    enabled = Bool(True).tag(config=True)
    begin_test_delimeter = Unicode(ClearHiddenTests.begin_test_delimeter.default_value).tag(
        config=True
    )
    end_test_delimeter = Unicode(ClearHiddenTests.end_test_delimeter.default_value).tag(config=True)

    def _is_test(self, cell) -> bool:
        return (
            is_grade(cell)
            and not is_solution(cell)
            and cell.cell_type == "code"
            and self.begin_test_delimeter in cell.source
        )

    def preprocess(self, nb, resources):
        begin, end = self.begin_test_delimeter, self.end_test_delimeter
        self._all_hidden = [
            line
            for cell in nb.cells
            if self._is_test(cell)
            for line in _strip_hidden(cell.source, begin, end)[1]
        ]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if is_grade(cell) and not is_solution(cell) and cell.cell_type == "code":
            drop_bare_values(cell)
        if not self._is_test(cell):
            if cell.cell_type == "code" and getattr(self, "_all_hidden", None):
                _redact_outputs(cell, self._all_hidden, shrink_tracebacks=False)
            return cell, resources
        cell.source, hidden = _strip_hidden(
            cell.source, self.begin_test_delimeter, self.end_test_delimeter
        )
        _redact_outputs(cell, hidden, shrink_tracebacks=True)
        return cell, resources


def drop_bare_values(cell) -> None:
    """Remove the value a test cell's last line evaluated to (a bare ``Out: 5``), in place.

    A test cell's result is its pass, failure or message; the value of its last expression
    (e.g. a partial score a hidden test returns) is noise to a student. Values shown with
    anything richer than text (an image, a table) stay.

    Args:
        cell: a code cell.
    """
    cell.outputs = [
        out
        for out in cell.get("outputs", [])
        if not (out.get("output_type") == "execute_result" and set(out.get("data", {})) <= TEXT)
    ]


def rewrite_text_outputs(cell, rewrite, rewrite_error=None) -> None:
    """Pass every text a cell's outputs show through ``rewrite``, in place.

    Args:
        cell: a code cell.
        rewrite: ``str -> str`` for streams, ``text/*`` data, and error values and tracebacks.
        rewrite_error: changes an error output in place instead of ``rewrite``, if given.
    """
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            if rewrite_error:
                rewrite_error(out)
            else:
                out.evalue = rewrite(str(out.get("evalue", "")))
                out.traceback = [rewrite(line) for line in out.get("traceback", [])]
        elif out.output_type == "stream":
            out.text = rewrite(out.text)
        elif "data" in out:
            for mime, value in out.data.items():
                if mime.startswith("text/") and isinstance(value, str):
                    out.data[mime] = rewrite(value)


def _redact_outputs(cell, hidden: list[str], shrink_tracebacks: bool) -> None:
    def error(out) -> None:
        out.evalue = _redact(_ANSI.sub("", out.evalue), hidden)
        if shrink_tracebacks:
            out.traceback = [f"{out.ename}: {out.evalue}"]
        else:
            out.traceback = [_redact(line, hidden) for line in out.traceback]

    rewrite_text_outputs(cell, lambda text: _redact(text, hidden), error)
