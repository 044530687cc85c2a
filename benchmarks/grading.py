"""Grading figures of the benchmark: 1 worker against all, overhead, and class-size scaling."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.report import spread
from ds4023 import release
from ds4023.grading.runners.dask import run_dask
from ds4023.pipeline import grade_course
from ds4023.sample_class import students as sample_class
from ds4023.sandbox import kernelspec, limits


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


def _summary(runs: list[dict]) -> dict:
    """The repetitions of one grading run, each figure as a spread."""
    first = runs[0]
    return {
        "submissions": first["submissions"],
        "failed": first["failed"],
        "scores": first["scores"],
        **{k: spread([r[k] for r in runs]) for k in ("wall", "cells_total")},
        "task_minus_cells_median": spread([r["task_minus_cells_median"] for r in runs]),
    }


def bench_grading(course: Path, quick: bool) -> dict:
    """Grade the sample class with 1 worker and with every core, then classes of growing size.

    Each run is repeated (3 times, quick: once), serial and parallel runs alternating so that
    a change of machine load hits both alike; every figure is a median with min and max.

    Grading goes the way of `make autograde`: an embedded Dask cluster, and the sandbox when
    this machine can run it (the figures say which).

    Args:
        course: a scratch course (config, source, release, data) to copy from.
        quick: one repetition and smaller class sizes.

    Returns:
        The figures: wall times, speed-up, overhead per submission, and the scaling runs.
    """
    cores = os.cpu_count() or 1
    reps = 1 if quick else 3
    work = course.parent / "grading"
    # the sandbox when this machine can run it, as `make autograde` would
    hook = None if limits.unavailable_reason() else kernelspec.GRADING_HOOK
    runs: dict[int, list[dict]] = {w: [] for w in sorted({1, cores})}
    for rep in range(reps):
        for workers in runs:
            print(f"  sample class, {workers} worker(s), run {rep + 1} of {reps}", flush=True)
            target = _course_with_class(course, work / f"class-{workers}-{rep}", "backprop", None)
            runs[workers].append(_grade(target, workers, hook))
            shutil.rmtree(target)
    scaling: dict[int, list[float]] = {}
    for size in (2, 4) if quick else (3, 6, 12):
        for rep in range(max(1, reps - 1)):
            print(f"  class of {size}, {cores} workers, run {rep + 1}", flush=True)
            target = _course_with_class(course, work / f"size-{size}-{rep}", "backprop", size)
            scaling.setdefault(size, []).append(_grade(target, cores, hook)["wall"])
            shutil.rmtree(target)
    return {"engine": "dask", "sandboxed": hook is not None, **grading_figures(runs, scaling)}


def grading_figures(runs: dict[int, list[dict]], scaling: dict[int, list[float]]) -> dict:
    """Turn repeated grading runs into the benchmark's figures.

    Args:
        runs: workers -> the runs of the sample class (as returned by ``_grade``), with the
            same number of runs for 1 worker and for the most workers, in the order they ran.
        scaling: class size -> wall times of its runs.

    Returns:
        Per worker count the figures as spreads; the speed-up of the most workers over 1
        (per pair of runs); the overhead per submission beyond its cells (serial runs); whether
        every run gave the same grades; and the wall time per class size.
    """
    one, many = runs[1], runs[max(runs)]
    return {
        "workers": {w: _summary(r) for w, r in runs.items()},
        # paired by repetition (each pair ran back to back)
        "speedup": spread([a["wall"] / b["wall"] for a, b in zip(one, many, strict=True)]),
        # what a submission costs beyond running its cells, seen from the serial wall times
        "overhead_per_submission": spread(
            [(r["wall"] - r["cells_total"]) / r["submissions"] for r in one]
        ),
        "identical_grades": all(
            r["scores"] == one[0]["scores"] for rs in runs.values() for r in rs
        ),
        "scaling": {size: {"wall": spread(walls)} for size, walls in scaling.items()},
    }
