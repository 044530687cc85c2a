"""The table ``ds4023 grade`` prints: grades in the course's terms, late marks, notes wrapped.

Written with the standard library (``textwrap``, ``shutil.get_terminal_size``): the table has
five columns of plain text, and no pinned dependency prints one that wraps a column.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass

from nbgrader.api import MissingEntry

from ds4023 import course_terms
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading import late as grading_late
from ds4023.grading.task import GRADED


@dataclass
class Row:
    """One line of the final table.

    Attributes:
        score, max_score: nbgrader's points (late penalty taken off) and their maximum.
        grade: the grade in the course's terms (``core 80 / 100, ...``), "" when failed.
        late: ``late 2.50 h`` when handed in after the due date, else "".
        fresh: graded (or refused) in this run.
    """

    student: str
    assignment: str
    score: float
    max_score: float
    status: str
    note: str = ""
    fresh: bool = False
    grade: str = ""
    late: str = ""


def table_rows(course, found: dict, fresh: set) -> list[Row]:
    """The table's rows for every submission found (``course`` is the run's Recorder)."""
    rows = []
    for a, students in found.items():
        table = gradebook_io.grade_table(course.db_url, course.course_id, a)
        terms = course_terms.parts(course.root, a)
        try:
            lateness = grading_late.lateness(course.db_url, course.course_id, a)
        except MissingEntry:  # not in the gradebook: nothing is late
            lateness = {}
        for s in students:
            entry = course.state.get(a, s) or {}
            parts = table.get(s, {}).get("parts", {})
            score = sum(p["score"] or 0 for p in parts.values()) - table.get(s, {}).get(
                "late_penalty", 0.0
            )
            top = sum(p["max_score"] for p in parts.values())
            status = entry.get("status", "failed")
            note = entry.get("reason") or ""
            grade = ""
            if status == GRADED:
                scores = {
                    g: None if p["needs_manual_grade"] else p["score"] for g, p in parts.items()
                }
                tops = {g: p["max_score"] for g, p in parts.items()}
                grade = course_terms.course_grade(terms, scores, tops).text()
                if any(p["needs_manual_grade"] for p in parts.values()):
                    note = "written answers await a person (nbgrader formgrader)"
            seconds = lateness.get(s, {}).get("seconds_late", 0.0)
            late = f"late {grading_late.hours_late(seconds)} h" if seconds > 0 else ""
            rows.append(Row(s, a, score, top, status, note, (a, s) in fresh, grade, late))
    return rows


def format_table(summary, width: int | None = None) -> str:
    """Render the final table and the summary lines as plain text.

    Rows graded (or failed) in this run are listed, and failures standing from earlier runs;
    unchanged, graded submissions are only counted. Notes are wrapped, never cut.

    Args:
        summary: a finished run (``pipeline.Summary``).
        width: the terminal's width (default: the current terminal's, else 100).

    Returns:
        The text to print.
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    head = ("student", "assignment", "grade (course terms)", "status", "note")
    shown = [r for r in summary.rows if r.fresh or r.status != GRADED]
    lines = [
        (
            r.student,
            r.assignment,
            r.grade or "0 (recorded as zero)",
            ", ".join(x for x in (r.status, r.late) if x),
            r.note,
        )
        for r in sorted(shown, key=lambda r: (r.assignment, r.student))
    ]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(4)]
    indent = sum(widths) + 2 * len(widths)
    below = width - indent < 30  # too narrow beside the row: the note goes under it

    def render(row) -> list[str]:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  "
        if below:
            notes = textwrap.wrap(row[4], max(20, width - 4))
            return [left.rstrip()] + ["    " + note for note in notes]
        wrapped = textwrap.wrap(row[4], width - indent) or [""]
        return [(left + wrapped[0]).rstrip()] + [" " * indent + more for more in wrapped[1:]]

    out = render(head) + ["  ".join("-" * w for w in [*widths, len(head[4])])]
    for row in lines:
        out += render(row)
    failed = summary.failed
    fresh_failed = sum(r.fresh for r in failed)
    out.append(
        f"\n{summary.graded_now - fresh_failed} graded now, {summary.skipped} unchanged and "
        f"skipped (not listed; every grade is in reports/<assignment>_grades.csv), "
        f"{len(failed)} failed ({fresh_failed} in this run) in {summary.seconds:.1f} s"
    )
    if failed:
        out.append(f"{len(failed)} submission(s) recorded as zero; reasons in the note column")
    return "\n".join(out)
