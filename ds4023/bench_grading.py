"""Grading figures of the benchmark: 1 worker against all, overhead, and class-size scaling."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from ds4023 import release, sample_class, sandbox
from ds4023.batch_grade import grade_course
from ds4023.grading_dask import run_dask


def _course_with_class(template: Path, dest: Path, assignment: str, copies: int | None) -> Path:
    """A scratch course with a released assignment and a class in ``submitted/``.

    With ``copies`` None the sample class is generated from the source notebook; otherwise
    the class is ``copies`` identical copies of the sample class's correct student, so that
    class-size runs differ in size only.
    """
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("gradebook.db", "submitted"))
    release.generate_release(assignment, dest)
    submitted = dest / "submitted"
    sample_class.generate(submitted, dest, [assignment])
    if copies is not None:
        correct = submitted / "correct" / assignment
        keep = dest / ".correct"
        shutil.move(correct, keep)
        shutil.rmtree(submitted)
        for i in range(copies):
            shutil.copytree(keep, submitted / f"student{i:03d}" / assignment)
        shutil.rmtree(keep)
    return dest


def _grade(course: Path, workers: int, hook: str | None) -> dict:
    """Grade a whole course once as `make autograde` does (embedded Dask cluster, ``hook``).

    Returns the wall time (cluster start-up included) and the per-submission timings.
    """
    results = []
    logs = str(course / ".grading" / "logs")

    def runner(bundles, jobs, count):
        for result in run_dask(bundles, jobs, count, log_dir=logs):
            results.append(result)
            yield result

    start = time.perf_counter()
    summary = grade_course(
        course, workers=workers, force=True, progress=True, runner=runner, setup_hook=hook
    )
    wall = time.perf_counter() - start
    cells = [r.timings.get("cells", 0.0) for r in results]
    tasks = [r.timings.get("task", 0.0) for r in results]
    return {
        "submissions": len(results),
        "failed": len(summary.failed),
        "wall": wall,
        "cells_total": sum(cells),
        "task_minus_cells_median": statistics.median(
            t - c for t, c in zip(tasks, cells, strict=True)
        )
        if results
        else 0.0,
        "scores": {row.student: row.score for row in summary.rows},
    }


def bench_grading(course: Path, quick: bool) -> dict:
    """Grade the sample class with 1 worker and with every core, then classes of growing size.

    Args:
        course: a scratch course (config, source, release, data) to copy from.
        quick: smaller class sizes.

    Grading goes the way of `make autograde`: an embedded Dask cluster, and the sandbox when
    this machine can run it (the figures say which).

    Returns:
        The figures: wall times, speed-up, overhead per submission, and the scaling runs.
    """
    cores = os.cpu_count() or 1
    work = course.parent / "grading"
    # the sandbox when this machine can run it, as `make autograde` would
    hook = None if sandbox.unavailable_reason() else sandbox.GRADING_HOOK
    out: dict = {"workers": {}, "scaling": {}, "engine": "dask", "sandboxed": hook is not None}
    for workers in sorted({1, cores}):
        print(f"  sample class, {workers} worker(s)", flush=True)
        target = _course_with_class(course, work / f"class-{workers}", "backprop", None)
        out["workers"][workers] = _grade(target, workers, hook)
    one, many = out["workers"][1], out["workers"][cores]
    out["speedup"] = one["wall"] / many["wall"]
    # what a submission costs beyond running its cells, seen from the serial run's wall time
    out["overhead_per_submission"] = (one["wall"] - one["cells_total"]) / one["submissions"]
    out["identical_grades"] = one["scores"] == many["scores"]
    for size in (2, 4) if quick else (3, 6, 12):
        print(f"  class of {size}, {cores} workers", flush=True)
        target = _course_with_class(course, work / f"size-{size}", "backprop", size)
        out["scaling"][size] = _grade(target, cores, hook)
    return out
