"""``ds4023 feedback``: (re)build the feedback pages of an assignment (ds4023/feedback/pages.py)."""

from __future__ import annotations

from pathlib import Path

from ds4023 import command_line
from ds4023.settings import COURSE_ROOT


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 feedback [--assignment A] [--course DIR] [--force]``.

    Returns:
        0 when every page is written, 1 when some page could not be (one line each), 2 when
        nothing could be done (one ``error:`` line).
    """
    parser = command_line.parser(
        "feedback",
        "(Re)build feedback/<student>/<assignment>/<notebook>.html for every graded "
        "submission: scores in the course's terms, hidden tests hidden, student HTML made "
        "inert. A page is rebuilt only when its grades changed (`ds4023 grade` does this "
        "after grading).",
    )
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument(
        "--assignment", default="backprop", help="assignment to build pages for (default: backprop)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild every page")
    args = parser.parse_args(argv)
    problem = command_line.unknown_assignment(args.course, args.assignment)
    if problem:
        return command_line.fail(problem)
    from ds4023.feedback.pages import generate_feedback
    from ds4023.grading.course import run_or_explain

    failures: list[str] = []
    pages = run_or_explain(
        lambda: generate_feedback(args.course, args.assignment, args.force, failures=failures)
    )
    if pages is None:
        return 2
    print(f"wrote {len(pages)} feedback page(s) under {args.course / 'feedback'}")
    return 1 if failures else 0
