"""Grades as Moodle's offline grading worksheet (Assignment → Upload grading worksheet).

Moodle reads ``Identifier`` (``Participant <id>``, the participant id of this assignment, as in
the download's folder names), ``Grade``, ``Last modified (grade)`` and the feedback columns; it
skips a row whose grade is empty or above the assignment's maximum, and one whose grade was
changed in Moodle after ``Last modified (grade)`` unless told to overwrite
(mod/assign/feedback/offline in moodle).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from ds4023.export import LmsExport
from ds4023.export.grades import GRADED, MISSING, LmsTable

HEADER = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]


def moodle_time(when: datetime | None) -> str:
    """A time as Moodle writes it in the worksheet (``Thursday, 3 December 2026, 7:05 AM``)."""
    if when is None:
        return "-"
    return f"{when:%A}, {when.day} {when:%B %Y}, {int(when.strftime('%I'))}:{when:%M %p}"


def participant(row) -> str:
    """The row's Moodle participant id for this assignment ("" when it never came from Moodle)."""
    entries = row.lms.get("moodle", {}).get("entries", [])
    ids = [e.get("participant_id") for e in entries if e.get("participant_id")]
    return ids[0] if ids else ""


def to_csv(table: LmsTable, now: datetime | None = None) -> str:
    """Render the table as Moodle's grading worksheet.

    Args:
        table: the grades (see :func:`ds4023.export.grades.build_table`).
        now: the grading time written as ``Last modified (grade)`` (default: now, UTC).

    Returns:
        The CSV text: one row per roster student collected from this assignment's Moodle
        download (only they have a participant id); grades with two decimals, empty (Moodle
        keeps its own) where the grade is not final, with the status saying why.
    """
    stamp = moodle_time(now or datetime.now(UTC))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for r in table.rows:
        pid = participant(r)
        if not pid:
            continue
        if r.status == MISSING:
            status = "No submission"
        elif r.grade is None:
            status = f"Submitted for grading - {r.status.capitalize()} (grade not exported)"
        else:
            status = "Submitted for grading - Graded" + ("" if r.status == GRADED else " (final)")
        if r.late:
            status += " - Late"
        writer.writerow(
            [
                f"Participant {pid}",
                r.person.full_name or r.person.id,
                r.person.email,
                status,
                "" if r.grade is None else f"{r.grade:.2f}",
                f"{table.points_possible:.2f}",
                "Yes",
                moodle_time(r.submitted),
                stamp if r.grade is not None else "-",
                r.text if r.grade is not None else "",
            ]
        )
    return buf.getvalue()


class MoodleExport(LmsExport):
    """``nbgrader export --exporter=ds4023.export.moodle.MoodleExport --assignment=[A]``.

    Writes ``reports/<A>_moodle.csv`` (or ``--to``).
    """

    lms = "moodle"

    def render(self, table: LmsTable) -> str:
        """The CSV text (see :func:`to_csv`).

        Raises:
            ValueError: no student has a Moodle participant id (no Moodle download of the
                assignment was collected), so the worksheet would be empty.
        """
        if not any(participant(r) for r in table.rows):
            raise ValueError(
                f"no Moodle download of {table.assignment} has been collected, so no student "
                "has a Moodle participant id: download the submissions from Moodle and run "
                f"make collect LMS=moodle ZIP=<download.zip> ASSIGNMENT={table.assignment} first"
            )
        return to_csv(table)

    def missing_lines(self, table: LmsTable) -> list[str]:
        """Students left out: no Moodle participant id for this assignment."""
        left = [r.person.id for r in table.rows if not participant(r)]
        if not left:
            return []
        return [
            f"not in the worksheet: {', '.join(left)}: no Moodle participant id for "
            f"{table.assignment} (they were not in a collected Moodle download)"
        ]
