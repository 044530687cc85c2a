"""nbgrader's release_feedback for a class that hands in through the exchange and an LMS.

nbgrader's ``ExchangeReleaseFeedback`` opens ``timestamp.txt`` and ``submission_secret.txt``
beside every page (the secret names the page in the exchange) and stops with
``FileNotFoundError`` at the first student whose work came from an LMS download or by hand:
those files exist only for what ``nbgrader collect`` took from the exchange. The pages after
that one are not released either.

:class:`CourseReleaseFeedback` is nbgrader's own class with one change, plugged in through
nbgrader's extension point for it, ``c.ExchangeFactory.release_feedback`` in
``nbgrader_config.py``: before nbgrader copies, every feedback folder lacking either file (or
holding a symbolic link in its place) is added to nbgrader's own
``CourseDirectory.student_id_exclude`` with one warning naming the student. So every path that
releases feedback behaves alike: the formgrader's *Release Feedback* buttons (a hub instructor
never types a command), ``nbgrader release_feedback`` and ``ds4023 exchange release-feedback``.
Writing the missing files instead would invent a secret no student holds: their
``fetch_feedback`` could never find the page. Those students get their page through the LMS
(``ds4023 export --feedback-zip``).
"""

from __future__ import annotations

import glob
import os
import re
import stat

from nbgrader.exchange.default import ExchangeReleaseFeedback

#: The files nbgrader's release_feedback reads beside each page (``nbgrader collect`` leaves them).
RELEASE_FEEDBACK_FILES = ("timestamp.txt", "submission_secret.txt")


def missing_files(folder: str) -> list[str]:
    """The files of :data:`RELEASE_FEEDBACK_FILES` not in ``folder`` as regular files.

    Args:
        folder: a feedback folder ``feedback/<student>/<assignment>``.

    Returns:
        Their names, in :data:`RELEASE_FEEDBACK_FILES` order (empty: releasable).
    """
    absent = []
    for name in RELEASE_FEEDBACK_FILES:
        try:
            mode = os.lstat(os.path.join(folder, name)).st_mode
        except OSError:
            mode = 0
        if not stat.S_ISREG(mode):
            absent.append(name)
    return absent


class CourseReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback that leaves out, and names, students outside the exchange."""

    def _student_of(self, folder: str) -> str | None:
        pattern = self.coursedir.format_path(
            self.coursedir.feedback_directory,
            "(?P<student_id>[^/]+)",
            self.coursedir.assignment_id,
            escape=True,
        )
        found = re.fullmatch(pattern, folder.rstrip(os.sep))
        return found.group("student_id") if found else None

    def outside_exchange(self) -> dict[str, list[str]]:
        """student -> the files missing beside their page, for every folder this run releases."""
        found = {}
        for folder in sorted(glob.glob(self.src_path)):
            student = self._student_of(folder)
            if student is None or not glob.glob(os.path.join(glob.escape(folder), "*.html")):
                continue
            absent = missing_files(folder)
            if absent:
                found[student] = absent
        return found

    def copy_files(self):
        """Release every page nbgrader can release; warn about each student left out."""
        configured = self.coursedir.student_id_exclude
        excluded = {s for s in (configured or "").split(",") if s}
        for student, absent in self.outside_exchange().items():
            if student in excluded:
                continue
            self.log.warning(
                "Not releasing feedback for student '%s': handed in outside the exchange (no "
                "%s beside the page); give the page through the LMS (ds4023 export "
                "--feedback-zip)",
                student,
                " or ".join(absent),
            )
            excluded.add(student)
        self.coursedir.student_id_exclude = ",".join(sorted(excluded))
        try:
            super().copy_files()
        finally:
            self.coursedir.student_id_exclude = configured
