"""The grading parent's bookkeeping: what to grade, and recording each result (one writer)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ds4023.files import GRADING_LOCK, LockHeld, hold_lock
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading import gradebook_template
from ds4023.grading.course import (
    GradingError,
    cell_order,
    grading_config,
    load_course,
    submission_timestamp,
    support_files,
    write_autograded,
)
from ds4023.grading.judge import bundle_files
from ds4023.grading.state import GradingState, fingerprint
from ds4023.grading.task import GRADED, AssignmentBundle, GradeResult

#: The course's grading secret: the hidden inputs of every submission are drawn from it.
SECRET = Path(".grading") / "secret"


def grading_secret(root: Path) -> bytes:
    """The course's grading secret (32 random bytes in ``.grading/secret``, readable by its
    owner only), made on first use; no kernel ever sees the course folder."""
    path = Path(root) / SECRET
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        os.replace(path.with_suffix(".tmp"), path)
    return path.read_bytes()


class Recorder:
    """The parent's side of one grading run: configuration, bundles, state; the only writer.

    It plans each assignment (gradebook cells, support files, fingerprint), builds the
    bundles sent to workers, tells which submissions are already done and records results
    into ``autograded/``, the gradebook and the state file, in that order.
    """

    def __init__(self, course_root: Path, submission_timeout: float, setup_hook=None):
        """Load a course directory and its grading state.

        Args:
            course_root: the course directory.
            submission_timeout: seconds one submission may run (sent to the workers).
            setup_hook: ``"module:function"`` workers call before grading (see
                :class:`~ds4023.grading.task.AssignmentBundle`), or None.
        """
        self.setup_hook = setup_hook
        self.cfg, self.coursedir = load_course(course_root)
        self.root = Path(self.coursedir.root)
        self.db_url, self.course_id = self.coursedir.db_url, self.coursedir.course_id
        self.timeout = submission_timeout
        self.state = GradingState(self.root)
        self.plans: dict[str, dict] = {}
        self.bundles: dict[str, AssignmentBundle] = {}

    @contextmanager
    def lock(self):
        """Hold the course's grading lock: a second grading run would be a second writer.

        Raises:
            GradingError: another run holds the lock (the operating system drops it when
                that process ends, even when it is killed).
        """
        try:
            with hold_lock(self.root / GRADING_LOCK):
                yield
        except LockHeld as held:
            raise GradingError(
                f"another grading run (pid {held.holder}) is using {self.root}: "
                "wait for it to finish or stop it"
            ) from None

    def plan(self, assignment: str) -> dict:
        """Describe an assignment for grading: gradebook spec, support files, fingerprint."""
        spec = gradebook_template.assignment_spec(self.db_url, self.course_id, assignment)
        support = support_files(self.cfg, self.coursedir, assignment)
        config = grading_config(self.cfg)
        restore = config.setdefault("RestoringOverwriteCells", {})
        restore["cell_order"] = cell_order(self.coursedir, assignment)
        source = self.coursedir.format_path(self.coursedir.source_directory, ".", assignment)
        probe_files, judge_files = bundle_files(Path(source))
        fprint = fingerprint(
            spec,
            {**support, **probe_files, **judge_files},
            {**config, "setup_hook": self.setup_hook},
        )
        self.plans[assignment] = {
            "spec": spec,
            "support": support,
            "config": config,
            "fp": fprint,
            "probe": probe_files,
            "judge": judge_files,
        }
        return self.plans[assignment]

    def bundle(self, assignment: str) -> AssignmentBundle:
        """Build (once) the bundle workers receive for a planned assignment."""
        if assignment not in self.bundles:
            p = self.plans[assignment]
            self.bundles[assignment] = AssignmentBundle(
                assignment=assignment,
                course_id=self.course_id,
                notebooks=tuple(nb["name"] for nb in p["spec"]["notebooks"]),
                gradebook_template=gradebook_template.build_template(
                    p["spec"], self.course_id, gradebook_template.schema_version(self.db_url)
                ),
                support_files=p["support"],
                config=p["config"],
                submission_timeout=self.timeout,
                fingerprint=p["fp"],
                setup_hook=self.setup_hook,
                probe_files=p["probe"],
                judge_files=p["judge"],
                secret=grading_secret(self.root),
            )
        return self.bundles[assignment]

    def folder(self, assignment: str, student: str, step: str = "submitted") -> Path:
        """The ``<step>/<student>/<assignment>`` folder of the course."""
        step_dir = getattr(self.coursedir, f"{step}_directory")
        return Path(self.coursedir.format_path(step_dir, student, assignment))

    def is_done(self, assignment: str, student: str, digest: str, in_gradebook: set) -> bool:
        """Tell whether a submission is recorded with these files and this assignment.

        True only when the state matches both hashes, the gradebook holds the submission
        and, for a graded one, its autograded notebooks exist (``make clean`` removes them).
        """
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
        stamp = submission_timestamp(self.coursedir, self.folder(a, s))
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
