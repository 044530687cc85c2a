"""The peer comparison: plain ``nbgrader autograde`` against ``ds4023 grade`` on one class.

Both grade the same submissions of ``backprop`` (the sample class, generated from source/):

- **plain nbgrader** as an instructor without this package has it: ``nbgrader autograde``
  with nbgrader's own configuration (course id and gradebook only), serial, each notebook's
  kernel unsandboxed on the instructor's machine. Its cell time limit is raised to the
  course's (``DS4023_CELL_TIMEOUT``): with nbgrader's 30 s the training cell would be cut
  short and plain nbgrader would do less work than the course's grader, not the same work.
  The hidden tests run as the release has them (probe calls whose records nobody judges),
  so its scores are not grades; only its time is compared.
- **ds4023 grade** as ``make autograde`` runs it: every core, the sandbox when this machine
  has it, the judge outside the kernel.

nbgrader has no benchmark of its own to call, so the comparison is written here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import spread
from ds4023 import release
from ds4023.pipeline import grade_course
from ds4023.sample_class import students as sample_class
from ds4023.sandbox import kernelspec, limits
from ds4023.settings import read

ASSIGNMENT = "backprop"

#: Plain nbgrader's configuration: nothing of this package, the cell limit aside (docstring).
PLAIN_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "ds4023"
c.Execute.timeout = {timeout}
"""


def class_course(template: Path, dest: Path, students: int) -> Path:
    """A scratch course with ``backprop`` released and the first ``students`` of the class."""
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("gradebook.db", "submitted"))
    release.generate_release(ASSIGNMENT, dest)
    submitted = dest / "submitted"
    sample_class.generate(submitted, dest, [ASSIGNMENT])
    for extra in sorted(p.name for p in submitted.iterdir())[students:]:
        shutil.rmtree(submitted / extra)
    return dest


def plain_course(course: Path, dest: Path) -> Path:
    """``course`` (released, class submitted) as plain nbgrader sees it.

    Its gradebook (made by the release) is kept; its configuration is nbgrader's own; every
    submission folder holds what the student fetched (the release's files) beside the notebook.
    """
    shutil.copytree(course, dest)
    timeout = read("DS4023_CELL_TIMEOUT")
    (dest / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(timeout=timeout))
    shipped = [p for p in (dest / "release" / ASSIGNMENT).iterdir() if p.suffix != ".ipynb"]
    for folder in (dest / "submitted").glob(f"*/{ASSIGNMENT}"):
        for file in shipped:
            if not (folder / file.name).exists():
                shutil.copy2(file, folder / file.name)
    return dest


def grade_plain(course: Path) -> float:
    """Seconds of ``nbgrader autograde backprop --force`` in ``course`` (serial, as nbgrader is)."""
    env = release.nbgrader_env()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def grade_ours(course: Path, workers: int) -> float:
    """Seconds of ``ds4023 grade`` (as ``make autograde``: embedded Dask, sandbox) in ``course``."""
    hook = None if limits.unavailable_reason() else kernelspec.GRADING_HOOK
    start = time.perf_counter()
    summary = grade_course(course, workers=workers, force=True, progress=True, setup_hook=hook)
    if summary.failed:
        raise RuntimeError(f"ds4023 grade failed for {summary.failed}")
    return time.perf_counter() - start


def bench_peer(template: Path, quick: bool) -> dict:
    """Grade the same class with plain nbgrader and with ``ds4023 grade``, runs alternating.

    Args:
        template: a scratch course (config, source, release, data) to copy from.
        quick: one run of each instead of two.

    Returns:
        Wall times of each (spreads), the class size, workers, sandboxing, and the ratio
        plain / ds4023 per pair of runs.
    """
    students = 6
    workers = os.cpu_count() or 1
    reps = 1 if quick else 2
    work = template.parent / "peer"
    plain, ours = [], []
    for rep in range(reps):
        print(f"  {students} submissions: plain nbgrader, then ds4023 grade, run {rep + 1}")
        course = class_course(template, work / f"ours-{rep}", students)
        bare = plain_course(course, work / f"plain-{rep}")
        plain.append(grade_plain(bare))
        ours.append(grade_ours(course, workers))
        shutil.rmtree(work)
    return peer_figures(plain, ours, students, workers, not limits.unavailable_reason())


def peer_figures(plain: list[float], ours: list[float], students, workers, sandboxed) -> dict:
    """The comparison's figures from the paired wall times (plain first in each pair)."""
    return {
        "submissions": students,
        "workers": workers,
        "sandboxed": sandboxed,
        "plain": spread(plain),
        "ours": spread(ours),
        "ratio": spread([p / o for p, o in zip(plain, ours, strict=True)]),
    }
