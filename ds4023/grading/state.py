"""What has been graded already: hashes of submissions and assignments, kept in a JSON file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ds4023.files import atomic_write_text

#: Where the state lives, relative to the course directory (gitignored).
STATE_DIR = ".grading"
STATE_FILE = "state.json"
#: Bump when the grading procedure changes in a way that changes results.
GRADER_VERSION = 1


def digest_files(files: dict[str, bytes]) -> str:
    """Hash a set of files by relative path and content.

    Args:
        files: relative path -> bytes.

    Returns:
        A hex SHA-256 that changes when any name or content changes.
    """
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(files[rel]).digest())
    return h.hexdigest()


def fingerprint(spec: dict, support_files: dict[str, bytes], config: dict) -> str:
    """Hash everything about an assignment that decides its grades.

    Args:
        spec: the gradebook's description of the assignment (cells, points, sources).
        support_files: the source's data files copied over each submission.
        config: the nbgrader settings the autograder runs with (timeouts and the like).

    Returns:
        A hex SHA-256; when it changes, every submission of the assignment is regraded.
    """
    blob = json.dumps(
        {"v": GRADER_VERSION, "spec": spec, "files": digest_files(support_files), "cfg": config},
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class GradingState:
    """The record of graded submissions, one entry per ``assignment/student``.

    Each entry holds the submission digest and assignment fingerprint it was graded with,
    the status (``graded``/``failed``), the reason of a failure, the score and timings.
    Every :meth:`put` rewrites the file atomically, so a killed run loses at most the
    submission that was being recorded, which the next run grades again.
    """

    def __init__(self, course_root: Path):
        """Load the state of a course directory (empty when there is none or it is unreadable).

        Args:
            course_root: the course directory.
        """
        self.path = Path(course_root) / STATE_DIR / STATE_FILE
        self.entries: dict[str, dict] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == GRADER_VERSION:
                self.entries = dict(data.get("entries", {}))
        except (OSError, ValueError, AttributeError):
            self.entries = {}

    @staticmethod
    def key(assignment: str, student: str) -> str:
        """Return the entry key of one submission."""
        return f"{assignment}/{student}"

    def get(self, assignment: str, student: str) -> dict | None:
        """Return the entry of one submission, or None if it was never recorded."""
        return self.entries.get(self.key(assignment, student))

    def is_current(self, assignment: str, student: str, digest: str, fprint: str) -> bool:
        """Tell whether a submission was recorded with exactly these files and assignment.

        Args:
            assignment: the assignment name.
            student: the student id.
            digest: the submission digest now.
            fprint: the assignment fingerprint now.

        Returns:
            True when the recorded entry matches both hashes.
        """
        entry = self.get(assignment, student)
        return bool(entry) and entry["digest"] == digest and entry["fingerprint"] == fprint

    def put(self, assignment: str, student: str, entry: dict) -> None:
        """Record one submission and save the whole state atomically.

        Args:
            assignment: the assignment name.
            student: the student id.
            entry: at least ``digest``, ``fingerprint``, ``status``; any JSON-able extras.
        """
        self.entries[self.key(assignment, student)] = entry
        payload = {"version": GRADER_VERSION, "entries": self.entries}
        atomic_write_text(self.path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
