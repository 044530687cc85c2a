"""Grades out of the gradebook: a CSV per assignment, a Markdown report with two charts."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from nbgrader.api import Gradebook

from ds4023 import command_line, course_terms
from ds4023.files import atomic_write_bytes
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading import gradebook_template
from ds4023.grading import late as grading_late
from ds4023.grading.course import load_course, run_or_explain
from ds4023.grading.state import GradingState
from ds4023.grading.task import GRADED
from ds4023.report.charts import MISSING, histogram_png, mean_score_png
from ds4023.settings import COURSE_ROOT


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
    terms = course_terms.parts(Path(coursedir.root), assignment)
    maxima = {p["id"]: p["max_score"] for p in parts}
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
        rows[-1]["course"] = course_terms.course_grade(terms, scores, maxima)
    late = grading_late.lateness(db, course, assignment)
    for row in rows:
        found = late.get(row["student"], {})
        row["seconds_late"] = found.get("seconds_late", 0.0)
        row["timestamp"] = found.get("timestamp")  # ISO text, or None
        if "course" not in row:  # no submission: nothing earned, nothing awaiting a person
            row["course"] = course_terms.course_grade(terms, dict.fromkeys(maxima, 0.0), maxima)
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
    fixed = ["student", "status", "core", "optional", "written", "total", "max_score"]
    fixed += ["late_penalty", "needs_manual_grade"]
    writer.writerow(fixed + [p["id"] for p in parts] + ["reason", "hours_late"])
    for r in rows:
        grade = r.get("course")
        terms = ["", "", ""]
        if grade is not None:
            written = "awaiting grading" if grade.written_pending else f"{grade.written:g}"
            terms = [f"{grade.core:g}", f"{grade.optional:g}", written]
        values = [r["student"], r["status"], *terms, f"{r['total']:g}", f"{r['max_score']:g}"]
        values += [f"{r['late_penalty']:g}", str(r["needs_manual_grade"]).lower()]
        values += [
            "" if r["scores"].get(p["id"]) is None else f"{r['scores'][p['id']]:g}" for p in parts
        ]
        late = grading_late.hours_late(r.get("seconds_late", 0.0))
        writer.writerow(values + [r["reason"], late])
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


def part_stats(parts: list[dict], rows: list[dict]) -> dict[str, dict]:
    """Per part: mean score, and how many scored submissions got full, part or no marks.

    Args:
        parts: as returned by :func:`collect`.
        rows: as returned by :func:`collect`.

    Returns:
        part id -> ``{"mean", "full", "partial", "zero", "scored", "awaiting"}`` (mean None
        when nothing is scored yet; ``awaiting``: submissions whose part a person has still to
        grade); a failed submission counts as scored 0.
    """
    stats = {}
    for p in parts:
        got = [r["scores"].get(p["id"]) for r in rows if r["status"] != MISSING]
        awaiting = sum(v is None for v in got)
        got = [v for v in got if v is not None]
        top = p["max_score"]
        stats[p["id"]] = {
            "mean": statistics.mean(got) if got else None,
            "full": sum(v >= top for v in got),
            "partial": sum(0 < v < top for v in got),
            "zero": sum(v <= 0 for v in got),
            "scored": len(got),
            "awaiting": awaiting,
        }
    return stats


def part_labels(course_root: Path, assignment: str) -> dict[str, str]:
    """Readable part names, as the README's points table names the parts.

    Returns:
        grade_id -> the table's name of its part (the grade_id in words where several checks
        share one row).
    """
    table = course_terms.parts(course_root, assignment)
    shared = {
        p.label for p in table.values() if [q.label for q in table.values()].count(p.label) > 1
    }
    return {
        g: (p.label if p.label not in shared else g.replace("_", " ")) for g, p in table.items()
    }


def mistakes(course_root: Path, assignment: str) -> dict[str, dict]:
    """The known mistakes the judge named in the autograded notebooks, and how often.

    Args:
        course_root: the course directory.
        assignment: the assignment name.

    Returns:
        mistake key -> ``{"students": sorted ids, "parts": sorted grade_ids, "example": the
        sentence a student read}``, most frequent first.
    """
    found: dict[str, dict] = {}
    for path in sorted((Path(course_root) / "autograded").glob(f"*/{assignment}/*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            seen = cell.get("metadata", {}).get("ds4023") or {}
            key = seen.get("mistake") if isinstance(seen, dict) else None
            if not isinstance(key, str):
                continue
            entry = found.setdefault(key, {"students": set(), "parts": set(), "example": ""})
            entry["students"].add(path.parent.parent.name)
            entry["parts"].add(cell["metadata"].get("nbgrader", {}).get("grade_id", "?"))
            entry["example"] = entry["example"] or str(seen.get("message", ""))
    ranked = sorted(found.items(), key=lambda kv: (-len(kv[1]["students"]), kv[0]))
    return {
        k: {"students": sorted(v["students"]), "parts": sorted(v["parts"]), "example": v["example"]}
        for k, v in ranked
    }


def to_markdown(
    assignment: str,
    parts: list[dict],
    rows: list[dict],
    counts: dict,
    stats: dict | None = None,
    seen: dict | None = None,
) -> str:
    """Render the report: summary, the two charts, tables of parts, known mistakes, students."""
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
        + (
            f" {len(rows) - len(sub)} of the students (in the gradebook through another "
            f"assignment or the roster) handed in nothing for {assignment}: 'no submission' below."
            if len(rows) > len(sub)
            else ""
        )
    )
    late = [r for r in sub if r.get("seconds_late", 0) > 0]
    if late:
        penalised = sum(r["late_penalty"] > 0 for r in late)
        lines.append(f"{len(late)} submitted late ({penalised} with a late penalty).")
    graded = [r["course"] for r in sub if r.get("course")]
    if graded:
        core = [g.core for g in graded]
        lines.append(
            f"In the course's terms: core points mean {statistics.mean(core):.1f} / "
            f"{graded[0].core_max:g} (median {statistics.median(core):g}), optional mean "
            f"+{statistics.mean(g.optional for g in graded):.1f} / {graded[0].optional_max:g}, "
            f"written answers awaiting a person in {sum(g.written_pending for g in graded)} "
            "submissions."
        )
    lines += ["", f"![Total scores]({assignment}_totals.png)", ""]
    lines += [f"![Mean score per part]({assignment}_parts.png)", "", "## Parts", ""]
    lines += ["| part | type | points | full marks | mean | awaiting a person |"]
    lines.append("| --- | --- | ---: | ---: | ---: | ---: |")
    stats = stats or part_stats(parts, rows)
    for p in parts:
        full, scored = counts[p["id"]]
        shown = f"{full} / {scored} ({100 * full / scored:.0f}%)" if scored else "not scored yet"
        mean = stats[p["id"]]["mean"]
        mean_text = "" if mean is None else f"{mean:.2f}"
        waiting = len(sub) - scored
        lines.append(
            f"| {p['id']} | {p['cell_type']} | {p['max_score']:g} | {shown} | {mean_text} "
            f"| {waiting} |"
        )
    if seen:
        lines += ["", "## Known mistakes", "", "| mistake | parts | students | what they read |"]
        lines.append("| --- | --- | ---: | --- |")
        for key, m in seen.items():
            example = m["example"].replace("|", "/").replace("\n", " ")[:300]
            lines.append(f"| {key} | {', '.join(m['parts'])} | {len(m['students'])} | {example} |")
    lines += ["", "## Students", "", "| student | score | grade | status | note |"]
    lines.append("| --- | ---: | --- | --- | --- |")
    for r in rows:
        note = r["reason"] or ("written answers to grade" if r["needs_manual_grade"] else "")
        if r.get("seconds_late", 0) > 0:
            hours = grading_late.hours_late(r["seconds_late"])
            penalty = f", penalty {r['late_penalty']:g}" if r["late_penalty"] else ""
            note = f"late {hours} h{penalty}" + (f"; {note}" if note else "")
        note = note.replace("|", "/")
        grade = r["course"].text() if r.get("course") else ""
        lines.append(
            f"| {r['student']} | {r['total']:g} / {r['max_score']:g} | {grade} | {r['status']} "
            f"| {note} |"
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
    counts, stats = pass_counts(parts, rows), part_stats(parts, rows)
    labels, seen = part_labels(course_root, assignment), mistakes(course_root, assignment)
    out = Path(course_root) / "reports"
    markdown = to_markdown(assignment, parts, rows, counts, stats, seen)
    files = {
        out / f"{assignment}_grades.csv": to_csv(parts, rows).encode("utf-8"),
        out / f"{assignment}_totals.png": histogram_png(rows, assignment),
        out / f"{assignment}_parts.png": mean_score_png(parts, stats, labels, assignment),
        out / f"{assignment}.md": markdown.encode("utf-8"),
    }
    for path, data in files.items():
        atomic_write_bytes(path, data)
    return list(files)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 report [--assignment A] [--course DIR]``."""
    parser = command_line.parser(
        "report",
        "(Re)write reports/<assignment>_grades.csv, <assignment>.md and the charts from the "
        "gradebook (`ds4023 grade` does this after grading).",
    )
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument(
        "--assignment", default="backprop", help="assignment to report on (default: backprop)"
    )
    args = parser.parse_args(argv)
    problem = command_line.unknown_assignment(args.course, args.assignment)
    if problem:
        return command_line.fail(problem)
    paths = run_or_explain(lambda: write_report(args.course, args.assignment))
    if paths is None:
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0
