"""Autograde every submission of every assignment in parallel, with a single gradebook writer."""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from ds4023 import command_line, settings
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.course import (
    DEFAULT_MAX_SUBMISSION_MB,
    GradingError,
    SubmissionRefused,
    find_submissions,
    read_submission,
)
from ds4023.grading.recorder import Recorder
from ds4023.grading.runners.local import Job, Runner, WorkerStartError, run_local
from ds4023.grading.state import STATE_DIR
from ds4023.grading.table import Row, format_table, table_rows
from ds4023.grading.task import FAILED, GRADED, GradeResult, SubmissionFiles
from ds4023.sandbox import kernelspec, limits
from ds4023.settings import COURSE_ROOT

#: Seconds one whole submission may run (all its cells) before its kernel is killed.
DEFAULT_SUBMISSION_TIMEOUT = settings.get("DS4023_SUBMISSION_TIMEOUT")

#: Where grading tasks run: "dask" (docs/scaling.md) or "local" (a local process pool).
DEFAULT_ENGINE = settings.get("DS4023_GRADING_ENGINE")

#: What a student id (a folder of submitted/) may be made of (as in roster.csv).
_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


class GradingStopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; ``done`` submissions were recorded, ``left`` were not."""

    def __init__(self, done: int, left: int):
        super().__init__(done, left)
        self.done, self.left = done, left


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


def grade_course(
    course_root: Path = COURSE_ROOT,
    assignment: str | None = None,
    student: str | None = None,
    workers: int | None = None,
    force: bool = False,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    runner: Runner | None = None,
    progress: bool = True,
    setup_hook: str | None = None,
    engine: str = DEFAULT_ENGINE,
    scheduler: str | None = None,
    max_submission_mb: float = DEFAULT_MAX_SUBMISSION_MB,
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
        setup_hook: ``"module:function"`` each worker calls with (config, scratch course)
            before grading, e.g. to run the kernel in a sandbox; None for plain nbgrader.
        engine: ``"dask"`` (an embedded LocalCluster, or the cluster at ``scheduler``) or
            ``"local"`` (a local process pool); used when ``runner`` is None.
        scheduler: address of an existing Dask scheduler (default: ``$DS4023_DASK_SCHEDULER``,
            else an embedded cluster); see docs/scaling.md.
        max_submission_mb: a submission whose files (data files excluded) add up to more is
            refused unread, as is one holding a symbolic link (docs/grading.md).

    Returns:
        The :class:`Summary` of the run (final table and counts).

    Raises:
        GradingError: the course directory is not usable, or another run is grading it.
        gradebook_io.GradebookError: a submitted assignment was never released.
    """
    started = time.perf_counter()
    course = Recorder(Path(course_root), submission_timeout, setup_hook)
    if runner is None and engine == "dask":
        from ds4023.grading.runners.dask import run_dask  # imports distributed only when used

        runner = partial(
            run_dask, scheduler=scheduler, log_dir=str(course.root / STATE_DIR / "logs")
        )
    limit = int(max_submission_mb * 1e6)
    with course.lock():
        return _grade(course, assignment, student, workers, force, runner, progress, started, limit)


def _refusal(course: Recorder, a: str, s: str, refused: SubmissionRefused) -> GradeResult:
    fprint = course.plans[a]["fp"]
    return GradeResult(s, a, refused.digest, fprint, FAILED, reason=refused.reason)


def _grade(course, assignment, student, workers, force, runner, progress, started, limit):
    found = find_submissions(course.coursedir, assignment, student)
    summary = Summary()
    jobs: list[Job] = []
    refusals: list[GradeResult] = []  # symlinks, special files, too big: a zero, never read
    plans = {a: course.plan(a) for a in found}  # every assignment checked before any write
    for a, students in found.items():
        plan = plans[a]
        gradebook_io.ensure_students(course.db_url, course.course_id, students)
        in_gradebook = gradebook_io.submitted_students(course.db_url, course.course_id, a)
        ignore = course.coursedir.ignore
        for s in students:
            folder = course.folder(a, s)
            try:
                digest, refused = (
                    read_submission(folder, s, plan["support"], ignore, limit).digest,
                    None,
                )
            except SubmissionRefused as err:
                digest, refused = err.digest, err
            if not force and course.is_done(a, s, digest, in_gradebook):
                summary.skipped += 1
                continue
            if refused:
                refusals.append(_refusal(course, a, s, refused))
                continue

            def load(folder=folder, s=s, support=plan["support"], ignore=ignore):
                try:
                    return read_submission(folder, s, support, ignore, limit)
                except SubmissionRefused:  # changed since it was looked at: graded next run
                    return SubmissionFiles(s, {}, "changed-since-planned")

            jobs.append(Job(a, s, load))
    fresh = set()
    if jobs or refusals:
        bundles = {a: course.bundle(a) for a in {job.assignment for job in jobs}}
        count = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
        total = len(jobs) + len(refusals)
        bar = tqdm(total=total, unit="sub", desc="autograding", disable=not progress)
        with bar:
            if runner is None:
                runner = partial(run_local, log_dir=str(course.root / STATE_DIR / "logs"))
            results = runner(bundles, jobs, count) if jobs else iter(())
            try:
                for result in itertools.chain(refusals, results):
                    course.record(result)
                    fresh.add((result.assignment, result.student))
                    summary.graded_now += 1
                    bar.set_postfix_str(f"{result.student}: {result.status}", refresh=False)
                    if result.status != GRADED:
                        bar.write(f"FAILED {result.assignment}/{result.student}: {result.reason}")
                    bar.update(1)
            except KeyboardInterrupt as stop:
                getattr(results, "close", lambda: None)()  # workers and cluster shut down now
                raise GradingStopped(summary.graded_now, total - summary.graded_now) from stop
    summary.rows = table_rows(course, found, fresh)
    summary.seconds = time.perf_counter() - started
    return summary


def _parser():
    parser = command_line.parser(
        "grade",
        "Autograde every new or changed submission in submitted/<student>/<assignment>/, "
        "then write the feedback pages (feedback/) and the reports (reports/). A rerun skips "
        "what is already graded.",
        "examples:\n  ds4023 grade\n  ds4023 grade --assignment backprop --student s01 --force",
    )
    parser.add_argument(
        "--course", type=Path, default=COURSE_ROOT, metavar="DIR", help="course directory"
    )
    parser.add_argument(
        "--assignment", metavar="NAME", help="grade only this assignment (default: all)"
    )
    parser.add_argument(
        "--student", metavar="ID", help="grade only this student (default: everyone)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="processes (default: cores)"
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    parser.add_argument(
        "--submission-timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_SUBMISSION_TIMEOUT,
        help="seconds one submission may run before its kernel is killed (default: "
        "$DS4023_SUBMISSION_TIMEOUT or 900)",
    )
    parser.add_argument(
        "--max-submission-mb",
        type=float,
        metavar="MB",
        default=DEFAULT_MAX_SUBMISSION_MB,
        help="refuse, unread, a submission whose files add up to more (default: "
        "$DS4023_MAX_SUBMISSION_MB or 50)",
    )
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback step")
    parser.add_argument("--no-report", action="store_true", help="skip the CSV and report step")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--engine",
        choices=("dask", "local"),
        default=DEFAULT_ENGINE,
        help="dask: an embedded LocalCluster or --scheduler's cluster; local: a process pool "
        "(default: $DS4023_GRADING_ENGINE or dask)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=settings.get("DS4023_DASK_SCHEDULER"),
        help="address of an existing Dask scheduler, e.g. tcp://host:8786 (docs/scaling.md)",
    )
    parser.add_argument(
        "--setup-hook",
        metavar="MODULE:FUNCTION",
        default=settings.get("DS4023_GRADING_HOOK") or kernelspec.GRADING_HOOK,
        help="module:function each worker calls with (config, scratch) before grading "
        "(default: the sandbox, docs/security.md)",
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without the sandbox (trusted submissions only)",
    )
    return parser


def _check(args) -> str | None:
    """What is wrong with the command line, in one line (None: nothing)."""
    if args.workers is not None and args.workers < 1:
        return "--workers must be at least 1"
    if args.submission_timeout <= 0:
        return "--submission-timeout must be a number of seconds above 0"
    if args.max_submission_mb <= 0:
        return "--max-submission-mb must be a number above 0"
    if args.scheduler and args.engine != "dask":
        return "--scheduler needs --engine dask"
    if args.assignment:
        problem = command_line.unknown_assignment(args.course, args.assignment)
        if problem:
            return problem
    if args.student is not None:
        return _unknown_student(args.course, args.student, args.assignment)
    return None


def _unknown_student(course: Path, student: str, assignment: str | None) -> str | None:
    """Why ``--student`` names no submission (None when it names one)."""
    submitted = Path(course) / "submitted"
    if not _STUDENT_ID.fullmatch(student):
        return (
            f"--student {student!r} is not a student id: give the name of a folder in "
            f"{submitted} (letters, digits, '.', '_', '-' or '@')"
        )
    if not (submitted / student).is_dir():
        return f"no student {student!r} in {submitted}: use a folder name there (ls submitted/)"
    if assignment and not (submitted / student / assignment).is_dir():
        return (
            f"{student} has submitted nothing for {assignment} "
            f"(no {submitted / student / assignment}): drop --assignment or --student"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 grade [--workers N] [--force] ...``."""
    parser = _parser()
    args = parser.parse_args(argv)
    problem = _check(args)
    if problem:
        return command_line.fail(problem)
    if args.unsafe_no_sandbox:
        args.setup_hook = None
    elif args.scheduler:
        pass  # the cluster's workers run the kernels: each is checked before grading
    elif args.setup_hook == kernelspec.GRADING_HOOK and limits.unavailable_reason():
        return command_line.fail(f"cannot sandbox student code: {limits.unavailable_reason()}")
    if args.setup_hook == kernelspec.GRADING_HOOK and not args.scheduler:
        print(limits.limits_in_force())  # the run's log says which limits held
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
            setup_hook=args.setup_hook,
            engine=args.engine,
            scheduler=args.scheduler,
            max_submission_mb=args.max_submission_mb,
        )
    except GradingStopped as stop:
        return command_line.stopped(
            stop,
            "ds4023 grade",
            f"{stop.done} submission(s) graded before the stop are recorded, {stop.left} are not",
            "run `ds4023 grade` again to grade the rest (recorded ones are skipped)",
        )
    except (GradingError, gradebook_io.GradebookError, WorkerStartError) as err:
        return command_line.fail(str(err))
    except SQLAlchemyError as err:
        return command_line.fail(gradebook_io.database_problem(err))
    if not summary.rows:
        where = f" for assignment {args.assignment}" if args.assignment else ""
        print(f"nothing submitted{where} under {args.course / 'submitted'}")
        return 0
    print(format_table(summary))
    return _after_grading(args, sorted({r.assignment for r in summary.rows}), summary)


def _after_grading(args, assignments: list[str], summary: Summary) -> int:
    """Feedback pages and reports for the graded assignments; the run's exit status."""
    failures: list[str] = []
    if not args.no_feedback:
        from ds4023.feedback import pages as feedback

        for a in assignments:
            feedback.generate_feedback(args.course, a, progress=not args.quiet, failures=failures)
        if failures:
            print(
                f"error: {len(failures)} feedback page(s) could not be written (listed above): "
                "fix the cause, then run `ds4023 feedback --force`",
                file=sys.stderr,
            )
    if not args.no_report:
        from ds4023.report import grades as report

        for a in assignments:
            for path in report.write_report(args.course, a):
                print(f"wrote {path}")
    return summary.exit_code or (1 if failures else 0)
