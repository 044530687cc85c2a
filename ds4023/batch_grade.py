"""Autograde every submission of every assignment in parallel, with a single gradebook writer."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import find_all_files
from tqdm import tqdm
from traitlets.config import Config, PyFileConfigLoader

from ds4023 import COURSE_ROOT, gradebook_io
from ds4023.grading_pool import Job, Runner, WorkerStartError, run_local
from ds4023.grading_state import STATE_DIR, GradingState, digest_files, fingerprint
from ds4023.grading_task import GRADED, AssignmentBundle, GradeResult, SubmissionFiles

#: Seconds one whole submission may run (all its cells) before its kernel is killed.
DEFAULT_SUBMISSION_TIMEOUT = float(os.environ.get("DS4023_SUBMISSION_TIMEOUT", "900"))


class GradingError(RuntimeError):
    """The course cannot be graded as asked; the message says what to fix."""


@dataclass
class Row:
    """One line of the final table."""

    student: str
    assignment: str
    score: float
    max_score: float
    status: str
    note: str = ""
    fresh: bool = False


@dataclass
class Summary:
    """What a grading run did: the table rows and the counts behind the exit code."""

    rows: list[Row] = field(default_factory=list)
    graded_now: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        """Rows of submissions that stand as failed (this run or an earlier one)."""
        return [r for r in self.rows if r.status != GRADED]

    @property
    def exit_code(self) -> int:
        """0 when every submission is graded, 1 when any stands as a recorded failure."""
        return 1 if self.failed else 0


def load_course(course_root: Path) -> tuple[Config, CourseDirectory]:
    """Read a course directory's ``nbgrader_config.py``.

    Args:
        course_root: the course directory.

    Returns:
        The configuration and nbgrader's view of the course directory.

    Raises:
        GradingError: there is no configuration file.
    """
    course_root = Path(course_root).resolve()
    if not (course_root / "nbgrader_config.py").is_file():
        raise GradingError(f"{course_root} has no nbgrader_config.py: pass the course directory")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    cfg.CourseDirectory.root = str(course_root)
    return cfg, CourseDirectory(config=cfg)


def find_submissions(coursedir: CourseDirectory, assignment=None, student=None) -> dict:
    """List the submitted folders ``submitted/<student>/<assignment>/``.

    Args:
        coursedir: the course directory.
        assignment: only this assignment (None: all).
        student: only this student (None: all).

    Returns:
        assignment -> sorted list of student ids.
    """
    found: dict[str, list[str]] = {}
    root = Path(coursedir.root) / coursedir.submitted_directory
    for folder in sorted(root.glob("*/*")):
        s, a = folder.parent.name, folder.name
        if folder.is_dir() and not s.startswith(".") and not a.startswith("."):
            if (assignment in (None, a)) and (student in (None, s)):
                found.setdefault(a, []).append(s)
    return found


def _grading_config(cfg: Config) -> dict:
    def plain(value):
        return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value

    return {k: plain(v) for k, v in cfg.items() if k != "CourseDirectory"}


def _support_files(cfg: Config, coursedir: CourseDirectory, assignment: str) -> dict:
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    keep = set(cfg.Autograde.get("exclude_overwriting", {}).get(assignment, []))
    files = {}
    for name in find_all_files(str(source), coursedir.ignore + ["*.ipynb"]):
        rel = os.path.relpath(name, source)
        if rel not in keep:
            files[rel] = Path(name).read_bytes()
    return files


def read_submission(folder: Path, student: str, support: dict, ignore: list) -> SubmissionFiles:
    """Read the files of one submitted folder that can change its grade.

    Files the source overwrites anyway (data files) are left out of the task and its hash.

    Args:
        folder: ``submitted/<student>/<assignment>``.
        student: the student id.
        support: the assignment's support files (relative path -> bytes).
        ignore: nbgrader's ignore globs.

    Returns:
        The submission, with its digest.
    """
    files = {}
    for name in find_all_files(str(folder), ignore):
        rel = os.path.relpath(name, folder)
        if rel not in support:
            files[rel] = Path(name).read_bytes()
    return SubmissionFiles(student, files, digest_files(files))


def _timestamp(coursedir: CourseDirectory, folder: Path):
    try:
        return coursedir.get_existing_timestamp(str(folder))
    except Exception:  # an unreadable timestamp.txt: nbgrader fails that student in the worker
        return None


def write_autograded(coursedir: CourseDirectory, result: GradeResult, support: dict) -> Path:
    """Write ``autograded/<student>/<assignment>/`` from a result, replacing any old folder.

    Args:
        coursedir: the course directory.
        result: a graded result.
        support: the assignment's support files (copied as nbgrader does).

    Returns:
        The folder.
    """
    dest = Path(coursedir.format_path(coursedir.autograded_directory, result.student, ""))
    dest = dest / result.assignment
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    mode = 0o664 if coursedir.groupshared else 0o444
    contents = {**support, **result.files, **{f"{n}.ipynb": b for n, b in result.notebooks.items()}}
    for rel, data in contents.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


class _Course:
    """The parent's view of one grading run: configuration, bundles, state; the only writer."""

    def __init__(self, course_root: Path, submission_timeout: float):
        self.cfg, self.coursedir = load_course(course_root)
        self.root = Path(self.coursedir.root)
        self.db_url, self.course_id = self.coursedir.db_url, self.coursedir.course_id
        self.timeout = submission_timeout
        self.state = GradingState(self.root)
        self.plans: dict[str, dict] = {}
        self.bundles: dict[str, AssignmentBundle] = {}

    def plan(self, assignment: str) -> dict:
        spec = gradebook_io.assignment_spec(self.db_url, self.course_id, assignment)
        support = _support_files(self.cfg, self.coursedir, assignment)
        config = _grading_config(self.cfg)
        fprint = fingerprint(spec, support, config)
        self.plans[assignment] = {"spec": spec, "support": support, "config": config, "fp": fprint}
        return self.plans[assignment]

    def bundle(self, assignment: str) -> AssignmentBundle:
        if assignment not in self.bundles:
            p = self.plans[assignment]
            self.bundles[assignment] = AssignmentBundle(
                assignment=assignment,
                course_id=self.course_id,
                notebooks=tuple(nb["name"] for nb in p["spec"]["notebooks"]),
                gradebook_template=gradebook_io.build_template(
                    p["spec"], self.course_id, gradebook_io.schema_version(self.db_url)
                ),
                support_files=p["support"],
                config=p["config"],
                submission_timeout=self.timeout,
                fingerprint=p["fp"],
            )
        return self.bundles[assignment]

    def folder(self, assignment: str, student: str, step: str = "submitted") -> Path:
        step_dir = getattr(self.coursedir, f"{step}_directory")
        return Path(self.coursedir.format_path(step_dir, student, assignment))

    def is_done(self, assignment: str, student: str, digest: str, in_gradebook: set) -> bool:
        if student not in in_gradebook:
            return False
        if not self.state.is_current(assignment, student, digest, self.plans[assignment]["fp"]):
            return False
        if self.state.get(assignment, student)["status"] != GRADED:
            return True
        out = self.folder(assignment, student, "autograded")
        names = [nb["name"] for nb in self.plans[assignment]["spec"]["notebooks"]]
        return all((out / f"{n}.ipynb").is_file() for n in names)

    def record(self, result: GradeResult) -> None:
        """Write one result into autograded/, the gradebook and the state, in that order."""
        t0 = time.perf_counter()
        a, s = result.assignment, result.student
        stamp = _timestamp(self.coursedir, self.folder(a, s))
        if result.status == GRADED:
            try:
                write_autograded(self.coursedir, result, self.plans[a]["support"])
                gradebook_io.record_result(self.db_url, self.course_id, self.cfg, result, stamp)
            except Exception as err:  # a result the gradebook refuses still gets a recorded zero
                result.status, result.reason = "failed", f"could not record the grades: {err}"
        if result.status != GRADED:
            shutil.rmtree(self.folder(a, s, "autograded"), ignore_errors=True)
            gradebook_io.record_failure(self.db_url, self.course_id, a, s, result.reason, stamp)
        result.timings["record"] = time.perf_counter() - t0
        entry = {
            "digest": result.digest,
            "fingerprint": result.fingerprint,
            "status": result.status,
            "reason": result.reason,
            "auto_score": sum(v or 0 for nb in result.scores.values() for v in nb.values()),
            "timings": {k: round(v, 3) for k, v in result.timings.items()},
            "warnings": result.warnings[:20],
            "graded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.state.put(a, s, entry)


def grade_course(
    course_root: Path = COURSE_ROOT,
    assignment: str | None = None,
    student: str | None = None,
    workers: int | None = None,
    force: bool = False,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    runner: Runner | None = None,
    progress: bool = True,
) -> Summary:
    """Autograde the submissions of a course directory that are new or changed.

    Args:
        course_root: the course directory (holding ``nbgrader_config.py``).
        assignment: grade only this assignment (None: every assignment with submissions).
        student: grade only this student (None: everyone).
        workers: parallel worker processes (None: ``os.cpu_count()``).
        force: regrade submissions even when they are unchanged.
        submission_timeout: seconds one submission may run before its kernel is killed.
        runner: how tasks are executed (None: local worker processes, see docs/grading.md).
        progress: show a progress bar on stderr.

    Returns:
        The :class:`Summary` of the run (final table and counts).

    Raises:
        GradingError: the course directory is not usable.
        gradebook_io.GradebookError: a submitted assignment was never released.
    """
    started = time.perf_counter()
    course = _Course(Path(course_root), submission_timeout)
    found = find_submissions(course.coursedir, assignment, student)
    summary = Summary()
    jobs: list[Job] = []
    for a, students in found.items():
        plan = course.plan(a)
        gradebook_io.ensure_students(course.db_url, course.course_id, students)
        in_gradebook = gradebook_io.submitted_students(course.db_url, course.course_id, a)
        ignore = course.coursedir.ignore
        for s in students:
            folder = course.folder(a, s)
            digest = read_submission(folder, s, plan["support"], ignore).digest
            if not force and course.is_done(a, s, digest, in_gradebook):
                summary.skipped += 1
                continue

            def load(folder=folder, s=s, support=plan["support"], ignore=ignore):
                return read_submission(folder, s, support, ignore)

            jobs.append(Job(a, s, load))
    fresh = set()
    if jobs:
        bundles = {a: course.bundle(a) for a in {job.assignment for job in jobs}}
        count = min(workers or os.cpu_count() or 1, len(jobs))
        bar = tqdm(total=len(jobs), unit="sub", desc="autograding", disable=not progress)
        with bar:
            if runner is None:
                runner = partial(run_local, log_dir=str(course.root / STATE_DIR / "logs"))
            for result in runner(bundles, jobs, count):
                course.record(result)
                fresh.add((result.assignment, result.student))
                summary.graded_now += 1
                bar.set_postfix_str(f"{result.student}: {result.status}", refresh=False)
                if result.status != GRADED:
                    bar.write(f"FAILED {result.assignment}/{result.student}: {result.reason}")
                bar.update(1)
    summary.rows = _table_rows(course, found, fresh)
    summary.seconds = time.perf_counter() - started
    return summary


def _table_rows(course: _Course, found: dict, fresh: set) -> list[Row]:
    rows = []
    for a, students in found.items():
        table = gradebook_io.grade_table(course.db_url, course.course_id, a)
        for s in students:
            entry = course.state.get(a, s) or {}
            parts = table.get(s, {}).get("parts", {})
            score = sum(p["score"] or 0 for p in parts.values()) - table.get(s, {}).get(
                "late_penalty", 0.0
            )
            top = sum(p["max_score"] for p in parts.values())
            status = entry.get("status", "failed")
            note = entry.get("reason") or ""
            if status == GRADED and any(p["needs_manual_grade"] for p in parts.values()):
                note = "written answers await manual grading"
            rows.append(Row(s, a, score, top, status, note, (a, s) in fresh))
    return rows


def format_table(summary: Summary) -> str:
    """Render the final table and the summary lines as plain text.

    Args:
        summary: a finished run.

    Returns:
        The text to print.
    """
    head = ("student", "assignment", "score", "status", "note")
    lines = [
        (r.student, r.assignment, f"{r.score:g}/{r.max_score:g}", r.status, r.note[:70])
        for r in sorted(summary.rows, key=lambda r: (r.assignment, r.student))
    ]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head]]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    failed = summary.failed
    out.append(
        f"\n{summary.graded_now} graded now, {summary.skipped} unchanged and skipped, "
        f"{len(failed)} failed ({sum(r.fresh for r in failed)} in this run) "
        f"in {summary.seconds:.1f} s"
    )
    if failed:
        out.append(f"{len(failed)} submission(s) recorded as zero; reasons in the note column")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m ds4023.batch_grade [--workers N] [--force] ...``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    parser.add_argument("--assignment", help="grade only this assignment")
    parser.add_argument("--student", help="grade only this student")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    parser.add_argument("--submission-timeout", type=float, default=DEFAULT_SUBMISSION_TIMEOUT)
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback step")
    parser.add_argument("--no-report", action="store_true", help="skip the CSV and report step")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    gradebook_io.ensure_alembic_on_path()
    try:
        summary = grade_course(
            args.course,
            args.assignment,
            args.student,
            args.workers,
            args.force,
            args.submission_timeout,
            progress=not args.quiet,
        )
    except (GradingError, gradebook_io.GradebookError, WorkerStartError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not summary.rows:
        where = f" for assignment {args.assignment}" if args.assignment else ""
        print(f"nothing submitted{where} under {args.course / 'submitted'}")
        return 0
    print(format_table(summary))
    assignments = sorted({r.assignment for r in summary.rows})
    if not args.no_feedback:
        from ds4023 import feedback

        for a in assignments:
            feedback.generate_feedback(args.course, a, progress=not args.quiet)
    if not args.no_report:
        from ds4023 import report

        for a in assignments:
            for path in report.write_report(args.course, a):
                print(f"wrote {path}")
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
