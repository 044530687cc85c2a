"""`make bench`: measure the course's speed against its limits, into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
from scipy.io import loadmat
from scipy.optimize import minimize

from benchmarks import dask_grading as bench_dask
from benchmarks import grading as bench_grading
from benchmarks import hub_class as bench_hub_class
from benchmarks import models as bench_models
from benchmarks import peer as bench_peer
from benchmarks import report as bench_report
from ds4023.settings import COURSE_ROOT

PACKAGES = ("numpy", "scipy", "nbgrader", "jupyterlab", "scikit-learn", "dask", "distributed")
#: The sections of a run, in order; ``--skip`` leaves some out, ``--only`` runs just some.
SECTIONS = (
    "data_build",
    "setup_noop",
    "backprop",
    "notebooks",
    "grading",
    "peer",
    "dask",
    "hub_class",
)


def measure(fn: Callable[[], object], reps: int) -> dict:
    """Run ``fn`` ``reps`` times; return median, min and max seconds and the last result."""
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return {**bench_report.spread(times), "result": result}


def load_problem(course: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The transposed images, one-hot labels and the notebook's seeded starting params."""
    data = loadmat(course / "data" / "ex4data1.mat")
    X = data["X"].reshape(-1, 20, 20).transpose(0, 2, 1).reshape(-1, 400)
    Y = np.eye(10)[data["y"].ravel() - 1]
    params = np.random.default_rng(4023).uniform(-0.25, 0.25, size=10285)
    return X, Y, params


def bench_backprop(course: Path, reps: int, tnc_reps: int) -> dict:
    """Per-call, per-size, training and gradient-check figures of the three implementations."""
    X, Y, params = load_problem(course)
    notebook = bench_models.notebook_functions(course / "source" / "backprop" / "backprop.ipynb")
    impls = {
        "loop": notebook["backprop"],
        "naive": bench_models.naive_loop(),
        "vectorised": bench_models.vectorised(),
    }
    out: dict = {"per_call": {}, "per_size": {}, "training": {}}
    for name, fn in impls.items():
        print(f"  backprop per call: {name}", flush=True)
        out["per_call"][name] = measure(lambda fn=fn: fn(params, X, Y)[0], reps)
    for m in (500, 1000, 5000):
        for name in ("loop", "vectorised"):
            fn = impls[name]
            rows = slice(0, m)
            out["per_size"][f"{name}_{m}"] = measure(
                lambda fn=fn, r=rows: fn(params, X[r], Y[r])[0], reps
            )
    for name, fn in impls.items():
        print(f"  TNC training, 250 evaluations: {name}", flush=True)

        def train(fn=fn):
            res = minimize(fn, params, args=(X, Y), method="TNC", jac=True, options={"maxfun": 250})
            _, _, _, _, h = bench_models._forward(*bench_models._unroll(res.x, (400, 25, 10)), X)
            return float(np.mean(np.argmax(h, axis=1) == np.argmax(Y, axis=1)))

        out["training"][name] = measure(train, tnc_reps)
    print("  gradient checking", flush=True)
    out["gradcheck"] = bench_gradcheck(notebook, impls, X, Y, params, reps)
    return out


def bench_gradcheck(notebook, impls, X, Y, params, reps: int) -> dict:
    """Gradient check of the small grading network, and of the full one by extrapolation."""
    sp = np.sin(np.arange(1, 5 * 4 + 3 * 6 + 1)) / 10
    sx = np.sin(np.arange(1, 16)).reshape(5, 3) / 2
    sy = np.eye(3)[np.arange(5) % 3]
    notebook.update(input_size=3, hidden_size=5, num_labels=3)
    try:
        small_fig = measure(
            lambda: bench_models.relative_difference(
                notebook["backprop"], sp, sx, sy, range(sp.size)
            ),
            reps,
        )
    finally:
        notebook.update(input_size=400, hidden_size=25, num_labels=10)
    sample = np.random.default_rng(0).choice(params.size, 10, replace=False)
    full = {}
    for name in ("loop", "vectorised"):
        fig = measure(
            lambda n=name: bench_models.relative_difference(impls[n], params, X, Y, sample), 1
        )
        per_coord = fig["median"] / sample.size
        full[name] = {"per_coordinate": per_coord, "extrapolated": per_coord * params.size}
    return {"small_network": small_fig, "full_network": full}


def bench_notebooks(course: Path, reps: int) -> dict:
    """Execute each assignment's source notebook top to bottom in a scratch copy."""
    from ds4023 import release

    out = {}
    for name in release.assignments(course):
        print(f"  executing source/{name}/{name}.ipynb", flush=True)
        release.install_data(name, course)
        out[name] = measure(
            lambda n=name: execute_notebook(course / "source" / n / f"{n}.ipynb"), reps
        )
    return out


def execute_notebook(notebook: Path) -> None:
    """Run a notebook top to bottom in a scratch copy of its folder (errors raise)."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / notebook.parent.name
        shutil.copytree(notebook.parent, folder)
        nb = nbformat.read(folder / notebook.name, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3")
        client.execute(cwd=str(folder))


def bench_data_build(reps: int) -> dict:
    """Build the data from scratch into a temporary folder."""

    def build():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "ds4023.cli", "data", "--out", tmp, "--force"]
            subprocess.run(cmd, check=True, capture_output=True)

    return measure(build, reps)


def bench_setup_noop(reps: int) -> dict:
    """Time `make setup data` with everything already in place (the second run's set-up)."""

    def noop():
        subprocess.run(
            ["make", "--no-print-directory", "-s", "setup", "data"],
            cwd=COURSE_ROOT,
            check=True,
            capture_output=True,
        )

    return measure(noop, reps)


def scratch_course(root: Path) -> Path:
    """Copy the course's config, source, release and data into ``root`` (nothing else)."""
    root.mkdir(parents=True)
    for name in ("nbgrader_config.py", "source", "release", "data"):
        src = COURSE_ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    return root


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.run [--quick] [--out docs/benchmarks.md]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller runs")
    parser.add_argument("--out", type=Path, default=COURSE_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=COURSE_ROOT / "bench.json")
    parser.add_argument("--skip", nargs="*", default=[], help="sections to leave out")
    parser.add_argument(
        "--only",
        nargs="*",
        default=os.environ.get("BENCH_ONLY", "").split(),
        help="run just these sections (BENCH_ONLY); the others' figures are kept from --json",
    )
    parser.add_argument(
        "--note",
        default=os.environ.get("BENCH_NOTE", ""),
        help="a sentence on this run's circumstances, printed with the hub class (BENCH_NOTE)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only + args.skip) - set(SECTIONS))
    if unknown:
        parser.error(f"no section {', '.join(unknown)} (sections: {', '.join(SECTIONS)})")
    reps = 3 if args.quick else 5
    results: dict = {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "packages": {p: metadata.version(p) for p in PACKAGES},
    }
    if args.only:
        # the page's header (date, versions, the whole run's time) stays the full run's
        results = kept_results(args.json) or results
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ds4023-bench-") as tmp:
        course = scratch_course(Path(tmp) / "course")
        sections = {
            "data_build": lambda: bench_data_build(reps),
            "setup_noop": lambda: bench_setup_noop(reps),
            "backprop": lambda: bench_backprop(course, reps, 1 if args.quick else 3),
            "notebooks": lambda: bench_notebooks(course, 1 if args.quick else 2),
            "grading": lambda: bench_grading.bench_grading(course, args.quick),
            "peer": lambda: bench_peer.bench_peer(course, args.quick),
            "dask": lambda: bench_dask.bench_dask(course, args.quick),
            "hub_class": lambda: bench_hub_class.bench_hub_class(note=args.note),
        }
        assert tuple(sections) == SECTIONS
        for name, run in sections.items():
            if name in args.skip or (args.only and name not in args.only):
                continue
            print(f"== {name}", flush=True)
            results[name] = keep_if_skipped(run(), (kept_results(args.json) or {}).get(name))
            if args.only:  # the page says which sections are newer than its header
                rerun = {"date": date.today().isoformat(), "quick": args.quick}
                results.setdefault("reruns", {})[name] = rerun
            # written after every section, so a failure later loses only its own section
            if not args.only:
                results["seconds"] = time.perf_counter() - started
            bench_report.write(results, args.out, args.json)
    print(f"wrote {args.out} and {args.json} in {time.perf_counter() - started:.0f} s")
    return 0


def keep_if_skipped(figures: dict, kept: dict | None) -> dict:
    """A section this machine cannot run keeps its last measured figures, saying why."""
    if "skipped" in figures and kept and "skipped" not in kept:
        return {**kept, "kept": figures["skipped"]}
    return figures


def kept_results(json_path: Path) -> dict | None:
    """The figures of the last run (``--json``), for a run of some sections only; None if none."""
    try:
        kept = json.loads(json_path.read_text(), object_hook=_int_keys)
    except (OSError, ValueError):
        return None
    return kept if isinstance(kept, dict) and "packages" in kept else None


def _int_keys(d: dict) -> dict:
    """JSON made the sections' integer keys (workers, class sizes) strings: make them ints."""
    return {int(k) if k.isdigit() else k: v for k, v in d.items()}


if __name__ == "__main__":
    sys.exit(main())
