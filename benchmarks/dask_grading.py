"""Benchmark of the Dask engine: start-up, per-task overhead over the local pool, throughput."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import nbformat

from ds4023.grading.runners.dask import run_dask
from ds4023.grading.runners.dask_cluster import check_workers, start_embedded
from ds4023.grading.runners.local import run_local
from ds4023.pipeline import grade_course
from ds4023.release import run_nbgrader
from ds4023.settings import COURSE_ROOT

#: A light assignment (3 functions, ~0.2 s of cells): its grading time is almost all overhead.
TOY = COURSE_ROOT / "tests" / "fixtures" / "toy"
WORKERS = (1, 2, 4)

_COLD_START = """
import json, time
t0 = time.perf_counter()
import ds4023.pipeline, ds4023.grading.runners.dask
from ds4023.grading.runners.dask_cluster import check_workers, start_embedded
t1 = time.perf_counter()
client, stop = start_embedded({workers})
check_workers(client, {{}})
t2 = time.perf_counter()
stop()
print(json.dumps({{"import": t1 - t0, "start": t2 - t1, "stop": time.perf_counter() - t2}}))
"""


def toy_course(dest: Path) -> Path:
    """A course with the toy assignment released into its own SQLite gradebook."""
    dest.mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(TOY, dest / "source" / "toy")
    saved = os.environ.pop("DS4023_DB_URL", None)  # never benchmark into a shared gradebook
    try:
        run_nbgrader(["generate_assignment", "toy", "--force"], dest)
    finally:
        if saved is not None:
            os.environ["DS4023_DB_URL"] = saved
    return dest


def add_correct_students(course: Path, count: int) -> None:
    """Submit ``count`` copies of a correct toy notebook (the release with the solutions in)."""
    source = nbformat.read(course / "source" / "toy" / "toy.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(course / "release" / "toy" / "toy.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = answers.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    text = nbformat.writes(nb)
    for i in range(count):
        folder = course / "submitted" / f"student{i:03d}" / "toy"
        folder.mkdir(parents=True)
        (folder / "toy.ipynb").write_text(text)
        shutil.copy2(course / "release" / "toy" / "toy_data.csv", folder / "toy_data.csv")


def _fit(points: list[tuple[int, float]]) -> dict:
    """Least-squares line wall = fixed + per_submission * n."""
    ns, walls = [p[0] for p in points], [p[1] for p in points]
    mean_n, mean_w = statistics.fmean(ns), statistics.fmean(walls)
    var = sum((n - mean_n) ** 2 for n in ns)
    slope = sum((n - mean_n) * (w - mean_w) for n, w in points) / var if var else 0.0
    return {"per_submission": slope, "fixed": mean_w - slope * mean_n}


def cold_start(workers: int) -> dict:
    """Start and stop an embedded cluster in a fresh interpreter, as `make autograde` does."""
    code = _COLD_START.format(workers=workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_dask(course: Path, quick: bool) -> dict:
    """Grade classes of copies of a correct toy submission with both engines and 1, 2, 4 workers.

    Args:
        course: a scratch course; the toy classes are built beside it.
        quick: smaller classes.

    Returns:
        Start-up times (in a fresh interpreter and in this warm one), every run's wall time,
        a straight-line fit of wall time against class size per engine and worker count,
        the recording time per submission and the Dask overhead per task over the local pool.
    """
    work = course.parent / "dask-bench"
    template = toy_course(work / "template")
    sizes = (4, 8) if quick else (4, 8, 16)
    out: dict = {"sizes": list(sizes), "cold_start": {}, "warm_start": {}, "runs": [], "fits": {}}
    records: list[float] = []
    start_embedded(1)[1]()  # the fork server exists from here on: "warm" starts are warm
    for workers in WORKERS:
        print(f"  embedded cluster start-up, {workers} worker(s)", flush=True)
        out["cold_start"][workers] = cold_start(workers)
        t0 = time.perf_counter()
        client, stop = start_embedded(workers)
        check_workers(client, {})
        t1 = time.perf_counter()
        stop()
        out["warm_start"][workers] = {"start": t1 - t0, "stop": time.perf_counter() - t1}
        for n in sizes:  # engines alternate, so a change of machine load hits both alike
            for engine in RUNNERS:
                print(f"  {engine}, {workers} worker(s), {n} submissions", flush=True)
                out["runs"].append(_run(template, work, engine, workers, n, records))
        for engine in RUNNERS:
            points = [
                (r["submissions"], r["wall"])
                for r in out["runs"]
                if r["engine"] == engine and r["workers"] == workers
            ]
            out["fits"][f"{engine}/{workers}"] = _fit(points)
    out["record_median"] = statistics.median(records) if records else 0.0
    serial = {
        e: [r for r in out["runs"] if r["engine"] == e and r["workers"] == 1] for e in RUNNERS
    }
    out["idle_per_task"] = {e: statistics.median(r["idle"] for r in serial[e]) for e in RUNNERS}
    out["task_median"] = {
        e: statistics.median(r["task_median"] for r in serial[e]) for e in RUNNERS
    }
    # paired by class size (each pair ran back to back), median over the pairs
    pairs = zip(serial["local"], serial["dask"], strict=True)
    out["overhead_per_task"] = statistics.median(
        (d["idle"] + d["task_median"]) - (loc["idle"] + loc["task_median"]) for loc, d in pairs
    )
    return out


def _run(template: Path, work: Path, engine: str, workers: int, n: int, records: list) -> dict:
    """Grade a fresh copy of the template with ``n`` correct students; return the figures."""
    target = work / f"{engine}-{workers}-{n}"
    shutil.copytree(template, target)
    add_correct_students(target, n)
    seen: list[tuple[float, float]] = []
    logs = str(target / ".grading" / "logs")
    runner = partial(timed_runner, partial(RUNNERS[engine], log_dir=logs), seen)
    start = time.perf_counter()
    summary = grade_course(target, workers=workers, progress=False, runner=runner)
    wall = time.perf_counter() - start
    state = json.loads((target / ".grading" / "state.json").read_text())["entries"]
    records += [e["timings"].get("record", 0.0) for e in state.values()]
    shutil.rmtree(target)
    return {
        "engine": engine,
        "workers": workers,
        "submissions": n,
        "wall": wall,
        "failed": len(summary.failed),
        "idle": idle_per_task(seen),
        "task_median": statistics.median(task for _, task in seen),
    }


#: The engines compared, as runners for grade_course.
RUNNERS = {"local": run_local, "dask": run_dask}


def timed_runner(runner, seen: list, bundles, jobs, workers):
    """Wrap a runner: note when each result arrives and how long its task ran."""
    for result in runner(bundles, jobs, workers):
        seen.append((time.perf_counter(), result.timings.get("task", 0.0)))
        yield result


def idle_per_task(seen: list[tuple[float, float]]) -> float:
    """Seconds per task that one worker spent not grading, between the first and last result.

    With one worker the tasks run back to back, so the time from the first result to the last
    minus the tasks' own durations is what the engine adds per task (sending the submission,
    scheduling, returning the result); start-up and the first task are left out.
    """
    if len(seen) < 2:
        return 0.0
    span = seen[-1][0] - seen[0][0]
    return (span - sum(task for _, task in seen[1:])) / (len(seen) - 1)


def projection(d: dict, per_submission: float, submissions: int = 600) -> dict[int, float]:
    """Projected wall seconds for a class on 16 and 64 one-thread workers.

    ``start + ceil(N / cores) * (t + dask)``, but never less than ``N * record`` (the one
    writer records results one after another): ``t`` is the measured serial time of one real
    submission, ``dask`` the measured Dask overhead per task, ``start`` the cold start-up.
    """
    dask = max(0.0, d["overhead_per_task"])
    start = max(v["start"] for v in d["cold_start"].values())
    return {
        cores: max(
            start + math.ceil(submissions / cores) * (per_submission + dask),
            submissions * d["record_median"],
        )
        for cores in (16, 64)
    }


def report_rows(d: dict, grading: dict | None = None) -> list[str]:
    """The Markdown section of docs/benchmarks.md for these figures."""
    rows = [
        "## Dask engine (toy assignment: 3 functions, ~0.2 s of cells per submission)",
        "",
        "Embedded LocalCluster start-up, seconds (fresh interpreter: import + start; warm: "
        "start in a process that already started one):",
        "",
        "| workers | import | cold start | warm start | stop |",
        "| --- | --- | --- | --- | --- |",
    ]
    for w in WORKERS:
        c, h = d["cold_start"][w], d["warm_start"][w]
        rows.append(
            f"| {w} | {c['import']:.2f} | {c['start']:.2f} | {h['start']:.2f} | {c['stop']:.2f} |"
        )
    rows += [
        "",
        "Throughput, submissions per second (wall time of the whole `grade_course`, start-up "
        "and recording included):",
        "",
        "| engine | workers | " + " | ".join(f"{n} subs" for n in d["sizes"]) + " | s per "
        "extra submission | fixed s |",
        "| --- | --- | " + " | ".join("---" for _ in d["sizes"]) + " | --- | --- |",
    ]
    for key, fit in d["fits"].items():
        engine, w = key.split("/")
        runs = {
            r["submissions"]: r["wall"]
            for r in d["runs"]
            if r["engine"] == engine and str(r["workers"]) == w
        }
        rates = " | ".join(f"{n / runs[n]:.2f}" for n in d["sizes"])
        rows.append(
            f"| {engine} | {w} | {rates} | {fit['per_submission']:.2f} | {fit['fixed']:.1f} |"
        )
    idle, task = d["idle_per_task"], d["task_median"]
    rows += [
        "",
        "What one submission costs a worker (1 worker; idle = time from the first result to "
        "the last not spent in tasks, per task): local pool "
        f"{task['local']:.3f} s task + {idle['local']:.3f} s idle, Dask {task['dask']:.3f} s "
        f"+ {idle['dask']:.3f} s; **Dask overhead per task {d['overhead_per_task']:+.3f} s** "
        f"(target <= 0.5 s). Recording in the parent: {d['record_median']:.2f} s per "
        "submission (median), done while the workers grade the next ones.",
    ]
    if grading and 1 in grading.get("workers", {}):
        one = grading["workers"][1]
        t = one["wall"]["median"] / one["submissions"]
        proj = projection(d, t)
        rows += [
            "",
            f"Projection for 600 backprop submissions ({t:.1f} s each, the serial sample-class "
            f"run above): {proj[16] / 60:.0f} min on 16 cores, {proj[64] / 60:.0f} min on 64 "
            "cores (docs/scaling.md).",
        ]
    return rows
