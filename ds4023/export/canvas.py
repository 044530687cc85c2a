"""Grades as a CSV that Canvas's gradebook import (Grades → Import) accepts.

Canvas reads the header ``Student, ID, SIS User ID, SIS Login ID, Section`` then one column
per assignment, named ``<title>`` or ``<title> (<assignment id>)``; an optional row starting
``Points Possible``; students matched by ``ID`` (the Canvas user id, the roster's
``lms_user_id``), else by name. An empty grade leaves Canvas's grade as it is
(lib/gradebook_importer.rb in canvas-lms).
"""

from __future__ import annotations

import csv
import io

from traitlets import Unicode

from ds4023.export import LmsExport
from ds4023.export.grades import LmsTable, number

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def to_csv(table: LmsTable, column: str = "") -> str:
    """Render the table in Canvas's gradebook import format.

    Args:
        table: the grades (see :func:`ds4023.export.grades.build_table`).
        column: the assignment column's header; Canvas updates the assignment with that
            title, or ``title (id)`` as its own gradebook export names it, and creates a new
            assignment for a title it does not know. Default: the assignment's name.

    Returns:
        The CSV text: header, ``Points Possible`` row (core and written points; extra credit
        goes above it), one row per roster student; no grade where it is not final.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*HEADER, column or table.assignment])
    writer.writerow(["Points Possible", "", "", "", "", number(table.points_possible)])
    for r in table.rows:
        name = r.person.sortable_name or r.person.id
        grade = "" if r.grade is None else number(r.grade)
        writer.writerow([name, r.person.lms_user_id, "", "", "", grade])
    return buf.getvalue()


class CanvasExport(LmsExport):
    """``nbgrader export --exporter=ds4023.export.canvas.CanvasExport --assignment=[A]``.

    Writes ``reports/<A>_canvas.csv`` (or ``--to``).
    """

    lms = "canvas"
    column = Unicode(
        "", help="assignment column header, e.g. 'backprop (123456)' from Canvas's own export"
    ).tag(config=True)

    def render(self, table: LmsTable) -> str:
        """The CSV text (see :func:`to_csv`)."""
        return to_csv(table, self.column)
