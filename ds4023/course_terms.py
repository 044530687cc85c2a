"""The course's grade terms (core, optional, written) as the README's points tables define them.

The README's table of each assignment is the one definition of which parts are core points,
which are optional extra credit and which are written answers graded by a person; every page
and file that shows a grade (feedback header, CSV, report) reads it through this module, so
the two can never disagree. Written by hand: the rule is this course's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORE, OPTIONAL, WRITTEN = "core", "optional", "written"


@dataclass(frozen=True)
class Part:
    """One graded part as the README's table lists it.

    Attributes:
        grade_id: the check's grade_id.
        label: the part's name in the table (Markdown marks removed).
        kind: ``core``, ``optional`` or ``written``.
    """

    grade_id: str
    label: str
    kind: str


@dataclass(frozen=True)
class CourseGrade:
    """A submission's grade in the course's terms.

    Attributes:
        core, core_max: the core points and their maximum (100).
        optional, optional_max: the extra credit and its maximum.
        written, written_max: the written answers' points and their maximum.
        written_pending: whether a person has still to grade some written answer.
    """

    core: float
    core_max: float
    optional: float
    optional_max: float
    written: float
    written_max: float
    written_pending: bool

    def text(self) -> str:
        """E.g. ``core 80 / 100, optional +20 / 20, written 10 / 15`` (or ``awaiting grading``)."""
        parts = [f"core {self.core:g} / {self.core_max:g}"]
        if self.optional_max:
            parts.append(f"optional +{self.optional:g} / {self.optional_max:g}")
        if self.written_max:
            done = "awaiting grading" if self.written_pending else f"{self.written:g}"
            parts.append(f"written {done} / {self.written_max:g}")
        return ", ".join(parts)


def parts(course_root: Path, assignment: str) -> dict[str, Part]:
    """The graded parts of an assignment, from the README's table under ``### `<assignment>` ``.

    A row whose part starts with ``optional`` is extra credit, a row whose points say
    ``by hand`` holds written answers, every other row core points; a row may name several
    grade_ids (in backticks in its second column).

    Returns:
        grade_id -> :class:`Part`, in the table's order (empty when the README has no table).
    """
    try:
        text = (Path(course_root) / "README.md").read_text(encoding="utf-8")
    except OSError:
        return {}
    section = text.partition(f"### `{assignment}`")[2]
    section = re.split(r"\n#{2,3} ", section)[0]
    found: dict[str, Part] = {}
    for line in section.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) < 3 or set(cols[0]) <= {"-", " ", ":"} or cols[0] == "part":
            continue
        label = cols[0].replace("`", "").replace("*", "").strip()
        ids = re.findall(r"`([a-z][a-z0-9_]*)`", cols[1])
        if label.lower().startswith("optional"):
            kind = OPTIONAL
        elif "by hand" in cols[2]:
            kind = WRITTEN
        else:
            kind = CORE
        for grade_id in ids:
            found[grade_id] = Part(grade_id, label, kind)
    return found


def course_grade(
    table: dict[str, Part], scores: dict[str, float | None], max_scores: dict[str, float]
) -> CourseGrade:
    """A submission's grade in the course's terms.

    Args:
        table: the assignment's parts (see :func:`parts`).
        scores: grade_id -> score, None where nobody has graded the part yet.
        max_scores: grade_id -> the part's points (from the gradebook).

    Returns:
        The grade; a part the README does not list counts as core.
    """
    sums = {CORE: [0.0, 0.0], OPTIONAL: [0.0, 0.0], WRITTEN: [0.0, 0.0]}
    pending = False
    for grade_id, top in max_scores.items():
        kind = table[grade_id].kind if grade_id in table else CORE
        score = scores.get(grade_id)
        pending = pending or (kind == WRITTEN and score is None)
        sums[kind][0] += score or 0.0
        sums[kind][1] += top
    return CourseGrade(*sums[CORE], *sums[OPTIONAL], *sums[WRITTEN], pending)
