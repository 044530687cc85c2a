"""Grades and feedback out to an LMS: Canvas's gradebook CSV, Moodle's grading worksheet.

``ds4023 export --lms canvas|moodle --assignment A [--final] [--feedback-zip]``
(``make export LMS=... ASSIGNMENT=... [FINAL=1]``) writes ``reports/<A>_<lms>.csv``; the same
exporters run as nbgrader export plugins (``nbgrader export --exporter=...``).
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Unicode

from ds4023 import command_line
from ds4023.settings import COURSE_ROOT


class LmsExport(ExportPlugin):
    """An nbgrader export plugin for one LMS; subclasses render the table as that LMS reads it.

    ``--assignment=[A]`` names exactly one assignment; ``LmsExport.final`` exports grades
    still awaiting a person as they stand. ``summary`` holds the lines to print afterwards.
    """

    lms = ""
    final = Bool(False, help="export grades awaiting manual grading as final").tag(config=True)
    course_root = Unicode("", help="course directory (default: nbgrader's course root)").tag(
        config=True
    )

    def render(self, table) -> str:
        """The file's text for this LMS."""
        raise NotImplementedError

    def missing_lines(self, table) -> list[str]:
        """Students the file leaves out, one line each (none by default)."""
        return []

    def export(self, gradebook) -> None:
        """Write the assignment's grades for the LMS (nbgrader's plugin interface).

        Args:
            gradebook: the open gradebook (grades are read through the course's own report).

        Raises:
            ValueError: not exactly one assignment was named.
        """
        from ds4023.export.grades import build_table, summary_lines
        from ds4023.files import atomic_write_text

        if len(self.assignment) != 1:
            raise ValueError(f"name one assignment to export (got {list(self.assignment)})")
        assignment = str(self.assignment[0])
        coursedir = getattr(self.parent, "coursedir", None)
        root = Path(self.course_root or (coursedir.root if coursedir else COURSE_ROOT))
        table = build_table(root, assignment, self.final)
        path = Path(self.to) if self.to else root / "reports" / f"{assignment}_{self.lms}.csv"
        atomic_write_text(path, self.render(table))
        self.summary = summary_lines(table, path, self.lms) + self.missing_lines(table)
        for line in self.summary:
            self.log.info(line)


def exporter(lms: str) -> type[LmsExport]:
    """The export plugin class of an LMS (``canvas`` or ``moodle``)."""
    from ds4023.export.canvas import CanvasExport
    from ds4023.export.moodle import MoodleExport

    return {"canvas": CanvasExport, "moodle": MoodleExport}[lms]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 export --lms canvas|moodle --assignment A [...]``.

    Returns:
        0 when the file is written, 2 with one ``error:`` line when it cannot be.
    """
    from nbgrader.api import Gradebook
    from traitlets.config import Config

    from ds4023.collect.roster import RosterError
    from ds4023.export.feedback_zip import write_feedback_zip
    from ds4023.grading.course import load_course, run_or_explain

    parser = command_line.parser(
        "export",
        "Write an assignment's grades as the LMS imports them: Canvas's gradebook CSV or "
        "Moodle's grading worksheet (reports/<assignment>_<lms>.csv), and optionally a zip of "
        "the feedback pages to upload.",
        "example:\n  ds4023 export --lms canvas --assignment backprop --feedback-zip",
    )
    parser.add_argument(
        "--lms", required=True, choices=["canvas", "moodle"], help="the LMS to import into"
    )
    parser.add_argument("--assignment", required=True, help="assignment to export")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument(
        "--final",
        action="store_true",
        help="export grades still awaiting a person (written answers) as they stand",
    )
    parser.add_argument("--to", type=Path, help="output file (default reports/<A>_<lms>.csv)")
    parser.add_argument("--column", default="", help="Canvas: the assignment column's header")
    parser.add_argument(
        "--feedback-zip", action="store_true", help="also zip the feedback pages for the LMS"
    )
    args = parser.parse_args(argv)
    problem = command_line.unknown_assignment(args.course, args.assignment)
    if problem:
        return command_line.fail(problem)

    def export() -> list[str]:
        cfg, coursedir = load_course(args.course)
        plugin_config = Config()
        plugin_config.ExportPlugin.assignment = [args.assignment]
        plugin_config.ExportPlugin.to = str(args.to or "")
        plugin_config.LmsExport.final = args.final
        plugin_config.LmsExport.course_root = str(coursedir.root)
        plugin_config.CanvasExport.column = args.column
        plugin = exporter(args.lms)(config=plugin_config)
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            plugin.export(gb)
        lines = list(plugin.summary)
        if args.feedback_zip:
            lines += write_feedback_zip(Path(coursedir.root), args.lms, args.assignment)
        return lines

    lines = run_or_explain(export, also=(RosterError, ValueError))
    if lines is None:
        return 2
    print("\n".join(lines))
    return 0
