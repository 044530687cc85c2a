"""Grades out of the gradebook: a CSV per assignment and a Markdown report with two charts."""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from nbgrader.api import Gradebook
from sqlalchemy.exc import SQLAlchemyError

from ds4023 import COURSE_ROOT, gradebook_io, gradebook_template
from ds4023.course_dir import GradingError, load_course
from ds4023.grading_state import GradingState, atomic_write_bytes
from ds4023.grading_task import GRADED

MISSING = "no submission"


def collect(course_root: Path, assignment: str) -> tuple[list[dict], list[dict]]:
    """Gather one assignment's grades: parts from the gradebook, one row per student.

    Args:
        course_root: the course directory.
        assignment: the assignment name.

    Returns:
        ``(parts, rows)``: parts are ``{"id", "max_score", "cell_type"}`` in notebook order of
        the gradebook; each row has ``student``, ``status``, ``total``, ``max_score``,
        ``late_penalty``, ``needs_manual_grade``, ``scores`` (part id -> score or None) and
        ``reason``. Students of the gradebook without a submission get status
        ``"no submission"`` and a total of 0.

    Raises:
        gradebook_io.GradebookError: the assignment is not in the gradebook.
    """
    _, coursedir = load_course(course_root)
    db, course = coursedir.db_url, coursedir.course_id
    spec = gradebook_template.assignment_spec(db, course, assignment)
    table = gradebook_io.grade_table(db, course, assignment)
    with Gradebook(db, course) as gb:
        students = sorted(s.id for s in gb.students)
    parts = []
    for nb in spec["notebooks"]:
        order = _cell_order(Path(coursedir.root) / "source" / assignment / f"{nb['name']}.ipynb")
        cells = sorted(nb["grade"] + nb["task"], key=lambda c: (order.get(c[0], len(order)), c[0]))
        parts += [{"id": name, "cell_type": kind, "max_score": pts} for name, kind, pts in cells]
    top = sum(p["max_score"] for p in parts)
    state = GradingState(Path(coursedir.root))
    rows = []
    for student in students:
        if student not in table:
            rows.append(_row(student, MISSING, 0.0, top, 0.0, False, {}, ""))
            continue
        got = table[student]["parts"]
        scores = {p["id"]: _score(got.get(p["id"])) for p in parts}
        penalty = table[student]["late_penalty"]
        total = sum(v or 0.0 for v in scores.values()) - penalty
        entry = state.get(assignment, student) or {}
        status = entry.get("status", GRADED)
        manual = any(g["needs_manual_grade"] for g in got.values())
        rows.append(
            _row(student, status, total, top, penalty, manual, scores, entry.get("reason") or "")
        )
    return parts, rows


def _cell_order(path: Path) -> dict[str, int]:
    """Position of each grade_id in the source notebook (empty if it cannot be read)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return {}
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    return {g: i for i, g in enumerate(ids) if g}


def _score(grade: dict | None) -> float | None:
    if grade is None or (grade["auto_score"] is None and grade["manual_score"] is None):
        return None
    return grade["score"]


def _row(student, status, total, top, penalty, manual, scores, reason) -> dict:
    return {
        "student": student,
        "status": status,
        "total": total,
        "max_score": top,
        "late_penalty": penalty,
        "needs_manual_grade": manual,
        "scores": scores,
        "reason": reason,
    }


def to_csv(parts: list[dict], rows: list[dict]) -> str:
    """Render the grade rows as CSV text (one row per student, one column per part).

    Args:
        parts: as returned by :func:`collect`.
        rows: as returned by :func:`collect`.

    Returns:
        The CSV text; a part without a score yet is an empty cell.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    fixed = ["student", "status", "total", "max_score", "late_penalty", "needs_manual_grade"]
    writer.writerow(fixed + [p["id"] for p in parts] + ["reason"])
    for r in rows:
        values = [r["student"], r["status"], f"{r['total']:g}", f"{r['max_score']:g}"]
        values += [f"{r['late_penalty']:g}", str(r["needs_manual_grade"]).lower()]
        values += [
            "" if r["scores"].get(p["id"]) is None else f"{r['scores'][p['id']]:g}" for p in parts
        ]
        writer.writerow(values + [r["reason"]])
    return buf.getvalue()


def pass_counts(parts: list[dict], rows: list[dict]) -> dict[str, tuple[int, int]]:
    """Count, per part, the submissions with full marks among those with a score.

    Args:
        parts: as returned by :func:`collect`.
        rows: as returned by :func:`collect`.

    Returns:
        part id -> ``(full marks, scored)``; a failed submission counts as scored 0,
        a written answer awaiting manual grading is not scored yet.
    """
    counts = {}
    for p in parts:
        got = [r["scores"].get(p["id"]) for r in rows if r["status"] != MISSING]
        got = [v for v in got if v is not None]
        counts[p["id"]] = (sum(v >= p["max_score"] for v in got), len(got))
    return counts


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def histogram_png(rows: list[dict], assignment: str) -> bytes:
    """Draw the histogram of total scores of the submitted students, as PNG bytes."""
    totals = [r["total"] for r in rows if r["status"] != MISSING]
    top = max([r["max_score"] for r in rows] + [1.0])
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.hist(totals, bins=min(20, max(5, int(top))), range=(0, top), color="#4477aa", ec="white")
    ax.set(xlabel=f"total score (out of {top:g})", ylabel="students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{assignment}: total scores of {len(totals)} submissions")
    return _png(fig)


def pass_rate_png(counts: dict[str, tuple[int, int]], submissions: int, assignment: str) -> bytes:
    """Draw the bar chart of per-part pass rates (full marks among scored), as PNG bytes.

    Each bar is labelled ``full/scored``, plus how many answers still await a person.
    """
    names = [n for n, (_, scored) in counts.items() if scored]
    labels = [
        f" {counts[n][0]}/{counts[n][1]}"
        + (f", {submissions - counts[n][1]} to grade" if submissions > counts[n][1] else "")
        for n in names
    ]
    fig = Figure(figsize=(6, 0.5 + 0.4 * max(1, len(names))))
    ax = fig.subplots()
    bars = ax.barh(names, [100 * counts[n][0] / counts[n][1] for n in names], color="#228833")
    ax.bar_label(bars, labels=labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="students with full marks (%)")
    ax.set_title(f"{assignment}: pass rate per part")
    return _png(fig)


def to_markdown(assignment: str, parts: list[dict], rows: list[dict], counts: dict) -> str:
    """Render the report: summary, the two charts, a table of parts and one of students."""
    sub = [r for r in rows if r["status"] != MISSING]
    totals = [r["total"] for r in sub]
    top = rows[0]["max_score"] if rows else 0
    failed = [r for r in sub if r["status"] != GRADED]
    lines = [f"# Grades: {assignment}", ""]
    lines.append(
        f"{len(rows)} students, {len(sub)} submissions, {len(failed)} failed to grade "
        f"(recorded as 0)."
        + (
            f" Mean total {statistics.mean(totals):.2f} / {top:g}, "
            f"median {statistics.median(totals):g}."
            if totals
            else ""
        )
    )
    lines += ["", f"![Total scores]({assignment}_totals.png)", ""]
    lines += [f"![Pass rate per part]({assignment}_parts.png)", "", "## Parts", ""]
    lines += ["| part | type | points | full marks | awaiting a person |"]
    lines.append("| --- | --- | ---: | ---: | ---: |")
    for p in parts:
        full, scored = counts[p["id"]]
        shown = f"{full} / {scored} ({100 * full / scored:.0f}%)" if scored else "not scored yet"
        waiting = len(sub) - scored
        lines.append(f"| {p['id']} | {p['cell_type']} | {p['max_score']:g} | {shown} | {waiting} |")
    lines += ["", "## Students", "", "| student | score | status | note |"]
    lines.append("| --- | ---: | --- | --- |")
    for r in rows:
        note = r["reason"] or ("written answers to grade" if r["needs_manual_grade"] else "")
        note = note.replace("|", "/")
        lines.append(
            f"| {r['student']} | {r['total']:g} / {r['max_score']:g} | {r['status']} | {note} |"
        )
    return "\n".join(lines) + "\n"


def write_report(course_root: Path = COURSE_ROOT, assignment: str = "backprop") -> list[Path]:
    """Write ``reports/<assignment>_grades.csv``, ``reports/<assignment>.md`` and its charts.

    Args:
        course_root: the course directory.
        assignment: the assignment name.

    Returns:
        The files written (each written atomically).
    """
    parts, rows = collect(course_root, assignment)
    counts = pass_counts(parts, rows)
    out = Path(course_root) / "reports"
    files = {
        out / f"{assignment}_grades.csv": to_csv(parts, rows).encode("utf-8"),
        out / f"{assignment}_totals.png": histogram_png(rows, assignment),
        out / f"{assignment}_parts.png": pass_rate_png(
            counts, sum(r["status"] != MISSING for r in rows), assignment
        ),
        out / f"{assignment}.md": to_markdown(assignment, parts, rows, counts).encode("utf-8"),
    }
    for path, data in files.items():
        atomic_write_bytes(path, data)
    return list(files)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m ds4023.report [--assignment A] [--course DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument("--assignment", default="backprop", help="assignment name")
    args = parser.parse_args(argv)
    gradebook_io.ensure_alembic_on_path()
    try:
        paths = write_report(args.course, args.assignment)
    except (GradingError, gradebook_io.GradebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SQLAlchemyError as err:
        print(f"error: {gradebook_io.database_problem(err)}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
