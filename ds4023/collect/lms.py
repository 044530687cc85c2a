"""Who handed in what, from the file names of a Canvas or Moodle bulk download.

Each LMS is one nbgrader ``FileNameCollectorPlugin`` (a named regular expression) that also
matches the student against roster.csv. :meth:`LmsCollector.parse` says in one line why an
entry is not usable; :meth:`LmsCollector.collect` is nbgrader's interface (None when skipped),
so ``nbgrader zip_collect --collector=ds4023.collect.lms.CanvasCollector`` works as well.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

from ds4023.collect.roster import Person, by_name, name_key, read_roster


class Skip(Exception):
    """An entry of the download that is not imported; ``str()`` is the reason and the fix."""


class LmsCollector(FileNameCollectorPlugin):
    """Common part: the roster, the assignment's notebook names, and nbgrader's ``collect``."""

    lms = "lms"
    #: How this LMS names a submitted file, for the message when a name does not fit.
    naming = ""

    roster_file = Unicode("roster.csv", help="the roster, relative to the course root").tag(
        config=True
    )

    def setup(self, roster: list[Person], notebooks: set[str]) -> None:
        """Give the collector the roster and the assignment's notebook names.

        Args:
            roster: the students (see :func:`ds4023.collect.roster.read_roster`).
            notebooks: the released notebooks' file names, e.g. ``{"backprop.ipynb"}``.
        """
        self.roster, self.notebooks = list(roster), set(notebooks)
        self.by_id = {p.id: p for p in roster}

    def _ensure_setup(self) -> None:
        """Under ``nbgrader zip_collect``: read the roster and notebooks from the course."""
        if hasattr(self, "roster"):
            return
        coursedir = self.parent.coursedir
        released = Path(coursedir.root) / coursedir.release_directory / coursedir.assignment_id
        self.setup(
            read_roster(Path(coursedir.root) / self.roster_file),
            {p.name for p in released.glob("*.ipynb")},
        )

    def parse(self, entry: str) -> dict:
        """Read one zip entry's name.

        Args:
            entry: the entry's path inside the zip (``/``-separated).

        Returns:
            ``student_id``, ``file_id`` (the notebook's released name) and what the LMS says
            about the submission (``lms_user_id`` or ``participant_id``, ``late`` ...).

        Raises:
            Skip: the name is not in this LMS's naming, not a notebook, a notebook under
                another name, or the student is not on the roster.
        """
        match = re.match(self.named_regexp, self.entry_name(entry))
        if not match:
            raise Skip(
                f"not in {self.lms.capitalize()}'s naming ({self.naming}): "
                "was the zip downloaded from another LMS?"
            )
        info = {k: v for k, v in match.groupdict().items() if v is not None}
        info["file_id"] = self.notebook_name(info["file_id"])
        info["student_id"] = self.student(info).id
        return info

    def notebook_name(self, original: str) -> str:
        """The released notebook an uploaded file stands for (Canvas's ``-1`` suffix removed).

        Raises:
            Skip: not a notebook, or a notebook under another name.
        """
        expected = " or ".join(sorted(self.notebooks)) or "a released notebook"
        if PurePosixPath(original).suffix != ".ipynb":
            raise Skip(f"not a notebook (.ipynb): only {expected} is collected")
        if original in self.notebooks:
            return original
        stem = re.sub(r"-\d+$", "", PurePosixPath(original).stem)
        if f"{stem}.ipynb" in self.notebooks:
            return f"{stem}.ipynb"
        raise Skip(
            f"notebook {original!r} is not {expected}: rename it in the zip if it is this "
            "assignment, or ask the student to resubmit"
        )

    def student(self, info: dict) -> Person:
        """The roster's student for a parsed name. Raises :class:`Skip` when there is none."""
        raise NotImplementedError

    def collect(self, submitted_file: str) -> dict | None:
        """nbgrader's interface: the parsed name, or None (with the reason logged) to skip it."""
        self._ensure_setup()
        try:
            return self.parse(submitted_file)
        except Skip as why:
            self.log.warning("Skipped %s: %s", submitted_file, why)
            return None

    def entry_name(self, path: str) -> str:
        """The part of an entry's path that carries the LMS's naming (here: the file name)."""
        return PurePosixPath(path).name


class CanvasCollector(LmsCollector):
    """Canvas: ``<lastfirst>_[LATE_]<userId>_<attachmentId>_<original name>``, one flat folder.

    Canvas writes the sortable name lower-cased without punctuation, ``LATE`` when the
    submission came after the due date, and the numeric user id, matched to the roster's
    ``lms_user_id`` (lib/content_zipper.rb in canvas-lms).
    """

    lms = "canvas"
    naming = "<lastfirst>_<userId>_<attachmentId>_<file>"
    named_regexp = Unicode(
        r"^(?P<name>[^/]*?)_(?:(?P<late>LATE)_)?(?P<lms_user_id>\d+)_(?P<attachment_id>\d+)_"
        r"(?P<file_id>[^/]+)$"
    ).tag(config=True)

    def parse(self, entry: str) -> dict:
        """Read one entry (see :meth:`LmsCollector.parse`); anonymous grading hides the student."""
        if re.match(r"^(LATE_)?anon_", self.entry_name(entry)):
            raise Skip(
                "Canvas's anonymous grading hides who handed this in: download the submissions "
                "again after turning anonymous grading off (or posting the grades)"
            )
        return super().parse(entry)

    def student(self, info: dict) -> Person:
        """The roster's student with this Canvas user id (``lms_user_id``)."""
        for person in self.roster:
            if person.lms_user_id == info["lms_user_id"]:
                return person
        raise Skip(
            f"Canvas user {info['lms_user_id']} ({info.get('name') or 'no name'}) is not in "
            "roster.csv: add the student with lms_user_id "
            f"{info['lms_user_id']} and collect again"
        )


class MoodleCollector(LmsCollector):
    """Moodle: ``<Full Name>_<participantId>_assignsubmission_file_/<original name>``.

    The participant id changes from one assignment to the next, so the student is matched by
    the roster's first and last name (either order); the id is kept for the grade worksheet.
    Older sites' flat downloads (``..._assignsubmission_file_<name>``) are read too.
    """

    lms = "moodle"
    naming = "<Full Name>_<participantId>_assignsubmission_file_/<file>"
    named_regexp = Unicode(
        r"^(?P<name>[^/_]+)_(?P<participant_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?"
        r"(?:/(?:[^/]+/)*)?(?P<file_id>[^/]+)$"
    ).tag(config=True)

    def parse(self, entry: str) -> dict:
        """Read one entry (see :meth:`LmsCollector.parse`); online text is not a notebook."""
        match = re.match(self.named_regexp, self.entry_name(entry))
        if match and match["plugin"] != "file":
            raise Skip(f"Moodle {match['plugin']} submission, not a file: only notebooks count")
        info = super().parse(entry)
        info["folder"] = f"{info['name']}_{info['participant_id']}_assignsubmission_file_"
        return info

    def student(self, info: dict) -> Person:
        """The roster's one student whose first and last name give the folder's name."""
        found = by_name(self.roster).get(name_key(info["name"]), [])
        if len(found) == 1:
            return found[0]
        if not found:
            raise Skip(
                f"no student named {info['name']!r} in roster.csv: add them with first_name "
                "and last_name as Moodle shows them, and collect again"
            )
        ids = ", ".join(p.id for p in found)
        raise Skip(
            f"{info['name']!r} names {len(found)} students in roster.csv ({ids}): "
            "move this folder to the right student by hand"
        )

    def entry_name(self, path: str) -> str:
        """The path from the folder Moodle named after the student (its naming is there)."""
        parts = PurePosixPath(path).parts
        for i, part in enumerate(parts):
            if re.search(r"_\d+_assignsubmission_", part):
                return "/".join(parts[i:])
        return path


#: ``LMS=`` value -> its collector.
COLLECTORS: dict[str, type[LmsCollector]] = {"canvas": CanvasCollector, "moodle": MoodleCollector}
