"""Late work: the penalty setting (nbgrader's LateSubmissionPlugin or a percentage), lateness."""

from __future__ import annotations

import math

from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Bool, Float

from ds4023.settings import LATE_PENALTY_HELP, LATE_PERCENT, SettingError

#: The settings ``DS4023_LATE_PENALTY`` accepts (docs/grading.md, "Due dates and late work").
POLICY_HELP = LATE_PENALTY_HELP
_PERCENT = LATE_PERCENT


class PercentLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin taking a percentage of a late notebook's score off.

    With ``per_hour`` the percentage is taken per started hour late (capped at the score).
    """

    percent = Float(0.0, help="percent of the notebook's score taken off").tag(config=True)
    per_hour = Bool(False, help="take `percent` off per started hour late").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        """The points taken off a notebook submitted ``total_seconds_late`` seconds late."""
        if total_seconds_late <= 0:
            return None
        hours = math.ceil(total_seconds_late / 3600) if self.per_hour else 1
        return min(score, score * self.percent / 100 * hours)


def configure_late_penalty(c, setting: str | None) -> None:
    """Set nbgrader's ``AssignLatePenalties`` from one setting (``DS4023_LATE_PENALTY``).

    Args:
        c: the nbgrader configuration being loaded (``nbgrader_config.py``'s ``c``).
        setting: ``none`` (default, also for None or empty), ``zero`` (nbgrader's
            ``LateSubmissionPlugin`` in its ``zero`` mode: a late notebook scores 0), ``N%``
            (N percent of a late notebook's score off) or ``N%/h`` (N percent per started hour).

    Raises:
        SettingError (a ValueError): any other value; the message says which values are accepted.
    """
    value = (setting or "none").strip().lower()
    if value in ("none", "zero"):
        c.AssignLatePenalties.plugin_class = "nbgrader.plugins.LateSubmissionPlugin"
        c.LateSubmissionPlugin.penalty_method = value
        return
    match = _PERCENT.match(value)
    if not match or not 0 <= float(match.group(1)) <= 100:
        raise SettingError(f"DS4023_LATE_PENALTY={setting!r} is not one of: {POLICY_HELP}")
    c.AssignLatePenalties.plugin_class = "ds4023.grading.late.PercentLatePenalty"
    c.PercentLatePenalty.percent = float(match.group(1))
    c.PercentLatePenalty.per_hour = bool(match.group(2))


def lateness(db_url: str, course_id: str, assignment: str) -> dict[str, dict]:
    """How late each submission of an assignment is, from the gradebook.

    nbgrader's own arithmetic: the submission's timestamp (``timestamp.txt``, written by
    ``nbgrader submit``) against the assignment's due date plus the student's extension.

    Args:
        db_url: the gradebook URL.
        course_id: the course id.
        assignment: the assignment name.

    Returns:
        student -> ``{"timestamp": ISO text or None, "duedate": ISO text or None,
        "seconds_late": float}`` (0 when on time, without a timestamp or without a due date).

    Raises:
        MissingEntry: the assignment is not in the gradebook.
    """
    found = {}
    with Gradebook(db_url, course_id) as gb:
        for sub in gb.find_assignment(assignment).submissions:
            found[sub.student.id] = {
                "timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
                "duedate": sub.duedate.isoformat() if sub.duedate else None,
                "seconds_late": float(sub.total_seconds_late),
            }
    return found


def hours_late(seconds: float) -> str:
    """Hours late as the CSV and report show them: ``0`` on time, else at least ``0.01``."""
    if seconds <= 0:
        return "0"
    return f"{max(seconds / 3600, 0.01):.2f}"
