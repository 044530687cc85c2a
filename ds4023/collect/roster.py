"""The class roster (roster.csv, nbgrader's student import format) and LMS name matching."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: The columns of ``nbgrader db student import``; only ``id`` is required.
FIELDS = ("id", "first_name", "last_name", "email", "lms_user_id")
#: A student id becomes a folder name under submitted/: no slashes, no leading dot.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
#: Characters Moodle's clean_filename drops from the name in a download's folder names.
_MOODLE_DROPPED = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


class RosterError(ValueError):
    """roster.csv cannot be used; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Person:
    """One student of the roster.

    Attributes:
        id: the nbgrader student id (folder name under ``submitted/``).
        first_name, last_name, email: as in the LMS.
        lms_user_id: Canvas's numeric user id ("" when unknown).
    """

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""

    @property
    def full_name(self) -> str:
        """``First Last``, as Moodle shows a participant."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def sortable_name(self) -> str:
        """``Last, First``, as Canvas's gradebook lists a student."""
        return ", ".join(p for p in (self.last_name, self.first_name) if p)


def read_roster(path: Path) -> list[Person]:
    """Read and check roster.csv.

    Args:
        path: the roster file (``roster.csv`` at the course root).

    Returns:
        The students, in file order.

    Raises:
        RosterError: the file is missing or unreadable, lacks the ``id`` column, or has a bad
            or repeated id or a repeated ``lms_user_id``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(
            f"{path.name} not found in {path.parent}: write it with the columns "
            f"{','.join(FIELDS)} (nbgrader's student import format), one line per student"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RosterError(f"{path} cannot be read ({err}): save it as UTF-8 CSV") from None
    rows = list(csv.DictReader(text.splitlines()))
    header = [h.strip() for h in (csv.DictReader(text.splitlines()).fieldnames or [])]
    if "id" not in header:
        raise RosterError(
            f"{path.name} has no 'id' column: its first line must be {','.join(FIELDS)}"
        )
    people, seen_ids, seen_lms = [], {}, {}
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        person = Person(**{f: row.get(f, "") for f in FIELDS})
        if not _ID.match(person.id):
            raise RosterError(
                f"{path.name} line {line}: student id {person.id!r} is not usable as a folder "
                "name: use letters, digits, '.', '_', '-' or '@' only"
            )
        if person.id in seen_ids:
            raise RosterError(
                f"{path.name} line {line}: student id {person.id!r} is also on line "
                f"{seen_ids[person.id]}: give each student one line"
            )
        if person.lms_user_id and person.lms_user_id in seen_lms:
            raise RosterError(
                f"{path.name} line {line}: lms_user_id {person.lms_user_id!r} is also on line "
                f"{seen_lms[person.lms_user_id]}: each LMS user id belongs to one student"
            )
        seen_ids[person.id] = line
        if person.lms_user_id:
            seen_lms[person.lms_user_id] = line
        people.append(person)
    return people


def name_key(text: str) -> str:
    """Normalise a person's name for matching a Moodle folder to the roster.

    Moodle writes ``fullname()`` with underscores turned into spaces and file-name characters
    dropped; case, accents' encoding and runs of spaces do not matter here.

    Args:
        text: a full name.

    Returns:
        The comparison key.
    """
    text = unicodedata.normalize("NFC", text).replace("_", " ")
    return " ".join(_MOODLE_DROPPED.sub("", text).casefold().split())


def by_name(people: list[Person]) -> dict[str, list[Person]]:
    """Index the roster by name: ``first last`` and ``last first`` (Moodle's two orders).

    Args:
        people: the roster.

    Returns:
        :func:`name_key` of either order -> the students it names (more than one: ambiguous).
    """
    index: dict[str, list[Person]] = {}
    for person in people:
        keys = {name_key(f"{person.first_name} {person.last_name}")}
        keys.add(name_key(f"{person.last_name} {person.first_name}"))
        for key in keys:
            if key:
                index.setdefault(key, []).append(person)
    return index
