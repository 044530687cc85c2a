"""One assignment's grades per roster student, in the course's terms, ready for an LMS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ds4023.collect import read_manifest
from ds4023.collect.roster import Person, read_roster

#: Statuses of a row.
GRADED, PENDING, MISSING, FAILED = "graded", "awaiting manual grading", "no submission", "failed"


@dataclass
class LmsRow:
    """One roster student's line for the LMS.

    Attributes:
        person: the roster entry.
        status: ``graded``, ``awaiting manual grading``, ``failed`` or ``no submission``.
        grade: what the LMS gets; None leaves the LMS's grade as it is (not final yet).
        points: the grade as computed now, whether final or not.
        text: the grade in the course's terms (``core 80 / 100, ...``), or why there is none.
        late: the LMS marked the submission late, or nbgrader found it after the due date.
        submitted: the submission's time in the gradebook (None when unknown).
        lms: LMS -> what its download said about the submission (see ``read_manifest``).
    """

    person: Person
    status: str
    grade: float | None
    points: float
    text: str
    late: bool = False
    submitted: datetime | None = None
    lms: dict = field(default_factory=dict)


@dataclass
class LmsTable:
    """The rows of one assignment, its maximum, and students the roster lacks."""

    assignment: str
    points_possible: float
    extra_credit: float
    rows: list[LmsRow]
    not_on_roster: list[str]


def build_table(course_root: Path, assignment: str, final: bool = False) -> LmsTable:
    """Compute the LMS grade of every roster student for one assignment.

    The grade is the README's course grade: core points plus the optional extra credit plus
    the written answers, less any late penalty nbgrader recorded. A submission whose written
    answers (or failed grading) still wait for a person, and a missing submission, get no
    grade, so the LMS keeps what it has, unless ``final``: then the points as they stand.

    Args:
        course_root: the course directory (roster.csv, README.md, gradebook).
        assignment: the assignment name.
        final: export every grade as final (missing submissions as 0).

    Returns:
        The table; ``points_possible`` is the core and written maximum (extra credit on top).

    Raises:
        ds4023.collect.roster.RosterError: roster.csv is missing or wrong.
        ds4023.grading.gradebook.GradebookError: the assignment is not in the gradebook.
    """
    from ds4023.report import grades as report

    people = read_roster(Path(course_root) / "roster.csv")
    parts, rows = report.collect(course_root, assignment)
    by_student = {r["student"]: r for r in rows}
    manifests = {
        name: read_manifest(course_root, assignment, name) for name in ("canvas", "moodle")
    }
    sample = next(iter(rows), None)
    grade0 = sample["course"] if sample else None
    possible = (grade0.core_max + grade0.written_max) if grade0 else 0.0
    table = LmsTable(assignment, possible, grade0.optional_max if grade0 else 0.0, [], [])
    roster_ids = {p.id for p in people}
    table.not_on_roster = sorted(s for s in by_student if s not in roster_ids)
    for person in people:
        r = by_student.get(person.id)
        lms = {name: m[person.id] for name, m in manifests.items() if person.id in m}
        stamp = r.get("timestamp") if r else None
        late = bool(r and r["seconds_late"] > 0) or any(
            e.get("late") for i in lms.values() for e in i["entries"]
        )
        if r is None or r["status"] == report.MISSING:
            row = LmsRow(person, MISSING, 0.0 if final else None, 0.0, "no submission")
        else:
            g = r["course"]
            points = max(0.0, g.core + g.optional + g.written - r["late_penalty"])
            if r["status"] != report.GRADED:
                status, text = FAILED, f"not graded automatically: {r['reason']}"
            elif r["needs_manual_grade"] or g.written_pending:
                status, text = PENDING, g.text()
            else:
                status, text = GRADED, g.text()
            exported = points if (status == GRADED or final) else None
            row = LmsRow(person, status, exported, points, text)
        row.late, row.lms = late, lms
        row.submitted = datetime.fromisoformat(stamp) if stamp else None
        table.rows.append(row)
    return table


def number(value: float) -> str:
    """A grade as the LMSs read it: at most two decimals, no trailing zeros (``87.5``)."""
    return f"{round(value, 2):g}"


def summary_lines(table: LmsTable, path: Path, lms: str) -> list[str]:
    """What was written, and every student whose grade the LMS does not get (one line each)."""
    counts = {
        s: [r for r in table.rows if r.status == s] for s in (GRADED, PENDING, FAILED, MISSING)
    }
    exported = sum(r.grade is not None for r in table.rows)
    lines = [
        f"wrote {path}: {len(table.rows)} students, {exported} grades exported "
        f"({len(counts[GRADED])} graded, {len(counts[PENDING])} awaiting manual grading, "
        f"{len(counts[FAILED])} failed, {len(counts[MISSING])} without submission)"
    ]
    for r in table.rows:
        if r.grade is None and r.status != MISSING:
            lines.append(f"not exported: {r.person.id}: {r.status} ({r.text}); FINAL=1 exports it")
    for student in table.not_on_roster:
        lines.append(f"not exported: {student}: in the gradebook but not in roster.csv")
    if lms == "moodle":
        over = [r.person.id for r in table.rows if r.grade and r.grade > table.points_possible]
        if over:
            lines.append(
                f"{len(over)} grades exceed {number(table.points_possible)} with extra credit "
                f"({', '.join(over)}): Moodle skips a grade above the assignment's maximum; set "
                f"it to {number(table.points_possible + table.extra_credit)}"
            )
    return lines
