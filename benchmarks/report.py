"""Write the benchmark's figures as docs/benchmarks.md (targets met or not) and bench.json."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

#: The limits the course promises; each row of the targets table is judged against one.
TARGETS = {
    "loop_vs_vectorised": ("reference loop / vectorised, per call", "<=", 10.0, "x"),
    "backprop_notebook": ("reference backprop notebook, end to end", "<=", 45.0, "s"),
    "mlp_notebook": ("mlp_from_scratch notebook, end to end", "<=", 90.0, "s"),
    "speedup": ("grading speed-up, all workers vs 1", ">=", 1.9, "x"),
    "overhead": ("overhead per submission beyond its cells", "<=", 1.0, "s"),
    "cells_slowdown": ("time in cells, all workers / 1 worker", "<=", 1.05, "x"),
    "peer": ("plain nbgrader autograde / ds4023 grade, same class", ">=", 1.8, "x"),
    "data_build": ("data build from scratch", "<=", 20.0, "s"),
    "dask_overhead": ("Dask overhead per task over the local pool", "<=", 0.5, "s"),
}


def spread(values: list[float]) -> dict:
    """Median, min and max of repeated figures (the benchmark's usual shape)."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "reps": len(values),
    }


def _fig(m: dict) -> str:
    return f"{m['median']:.3f} ({m['min']:.3f} – {m['max']:.3f})"


def _targets(r: dict) -> dict[str, float]:
    got = {}
    if "backprop" in r:
        calls = r["backprop"]["per_call"]
        got["loop_vs_vectorised"] = calls["loop"]["median"] / calls["vectorised"]["median"]
    if "notebooks" in r:
        for key, name in (("backprop_notebook", "backprop"), ("mlp_notebook", "mlp_from_scratch")):
            if name in r["notebooks"]:
                got[key] = r["notebooks"][name]["median"]
    if "grading" in r:
        got["speedup"] = r["grading"]["speedup"]["median"]
        got["overhead"] = r["grading"]["overhead_per_submission"]["median"]
        workers = r["grading"]["workers"]
        cells = [workers[w]["cells_total"]["median"] for w in (min(workers), max(workers))]
        got["cells_slowdown"] = cells[1] / cells[0]
    if "peer" in r:
        got["peer"] = r["peer"]["ratio"]["median"]
    if "data_build" in r:
        got["data_build"] = r["data_build"]["median"]
    if "dask" in r:
        got["dask_overhead"] = r["dask"]["overhead_per_task"]
    return got


def _target_rows(r: dict) -> list[str]:
    rows = ["| target | measured | limit | met |", "| --- | --- | --- | --- |"]
    for key, value in _targets(r).items():
        label, op, limit, unit = TARGETS[key]
        met = value <= limit if op == "<=" else value >= limit
        rows.append(
            f"| {label} | {value:.2f} {unit} | {op} {limit:g} {unit} | {'yes' if met else 'NO'} |"
        )
    return rows


def _backprop_rows(b: dict) -> list[str]:
    calls, train = b["per_call"], b["training"]
    rows = [
        "## Backprop (5000 examples)",
        "",
        "Seconds: median (min – max).",
        "",
        "| implementation | one call | TNC training, 250 evaluations | training accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for name in ("loop", "naive", "vectorised"):
        acc = train[name]["result"]
        rows.append(f"| {name} | {_fig(calls[name])} | {_fig(train[name])} | {acc:.2%} |")
    loop, naive, vec = (calls[n]["median"] for n in ("loop", "naive", "vectorised"))
    rows += [
        "",
        f"Ratios per call: loop / vectorised = {loop / vec:.1f}, "
        f"naive / loop = {naive / loop:.1f}.",
        "",
        "`loop` is the reference solution of `source/backprop/backprop.ipynb` as it stands;",
        "`naive` is the per-example loop in the style the exercise first showed (kept as the",
        "baseline); `vectorised` is the instructor's all-examples-at-once reference.",
        "",
        "### Per-call time against the number of examples",
        "",
        "| examples | loop | vectorised |",
        "| --- | --- | --- |",
    ]
    for m in (500, 1000, 5000):
        loop_m, vec_m = b["per_size"][f"loop_{m}"], b["per_size"][f"vectorised_{m}"]
        rows.append(f"| {m} | {_fig(loop_m)} | {_fig(vec_m)} |")
    g = b["gradcheck"]
    rows += [
        "",
        "### Gradient checking",
        "",
        f"- small grading network (3-5-3, m = 5, 38 weights): {_fig(g['small_network'])} s, "
        f"relative difference {g['small_network']['result']:.1e}",
    ]
    for name, f in g["full_network"].items():
        rows.append(
            f"- full network (10285 weights) with the {name} backprop: "
            f"{f['per_coordinate']:.3f} s per weight, so about {f['extrapolated'] / 60:.0f} min "
            "for all of them (extrapolated from 10 weights)"
        )
    return rows


def _grading_rows(g: dict) -> list[str]:
    runs = next(iter(g["workers"].values()))["wall"]["reps"]
    rows = [
        "## Autograding the sample class (backprop)",
        "",
        "As `make autograde` grades: an embedded Dask cluster (its start-up is in the wall time), "
        f"student kernels {'in the sandbox' if g.get('sandboxed') else 'NOT sandboxed'}. "
        f"{runs} run(s) of each; seconds, median (min – max).",
        "",
        "| workers | submissions | wall time | cells run | task minus cells, median |",
        "| --- | --- | --- | --- | --- |",
    ]
    for workers, f in g["workers"].items():
        rows.append(
            f"| {workers} | {f['submissions']} | {_fig(f['wall'])} | {_fig(f['cells_total'])} "
            f"| {_fig(f['task_minus_cells_median'])} |"
        )
    rows += [
        "",
        f"Speed-up with all workers: {_fig(g['speedup'])}x (per pair of runs); grades identical "
        f"in every run: {'yes' if g['identical_grades'] else 'NO'}. Overhead per submission "
        "(serial wall time minus time in cells, per submission): "
        f"{_fig(g['overhead_per_submission'])} s.",
        "",
        "### Grading time against class size (copies of the correct student, all workers)",
        "",
        "| submissions | wall time (s) | per submission (s) |",
        "| --- | --- | --- |",
    ]
    walls = {int(size): f["wall"] for size, f in g["scaling"].items()}
    for size, wall in sorted(walls.items()):
        rows.append(f"| {size} | {_fig(wall)} | {wall['median'] / size:.1f} |")
    sizes = sorted(walls)
    if len(sizes) >= 2:
        a, b = walls[sizes[-2]]["median"], walls[sizes[-1]]["median"]
        per = (b - a) / (sizes[-1] - sizes[-2])
        rows += [
            "",
            f"Each further submission adds about {per:.1f} s of wall time here, so a",
            f"class of 500 takes about {per * 500 / 60:.0f} min (docs/scaling.md: more cores).",
        ]
    return rows


def _rerun_lines(reruns: dict) -> list[str]:
    """One line naming the sections run again alone since the whole run (``--only``)."""
    if not reruns:
        return []
    done = [
        f"{name} on {r['date']}{' (--quick: one run of each)' if r.get('quick') else ''}"
        for name, r in reruns.items()
    ]
    return [f"Run again alone since (`make bench BENCH_ARGS=--only ...`): {'; '.join(done)}."]


def _peer_rows(p: dict) -> list[str]:
    sandbox = "in the sandbox" if p["sandboxed"] else "NOT sandboxed"
    return [
        "## Against plain nbgrader (the same submissions)",
        "",
        f"{p['submissions']} submissions of the sample class, {p['plain']['reps']} run(s) of each, "
        "alternating; seconds, median (min – max). Plain `nbgrader autograde`: nbgrader's own "
        "configuration (only the cell time limit raised to the course's), serial, no sandbox "
        f"(benchmarks/peer.py). `ds4023 grade`: {p['workers']} workers, kernels {sandbox}, "
        "the judge outside the kernel.",
        "",
        "| grader | wall time |",
        "| --- | --- |",
        f"| plain nbgrader autograde | {_fig(p['plain'])} |",
        f"| ds4023 grade | {_fig(p['ours'])} |",
        "",
        f"Plain / ds4023: {_fig(p['ratio'])}x (per pair of runs).",
    ]


def write(results: dict, md_path: Path, json_path: Path) -> None:
    """Write the Markdown report and the JSON figures, each through a temporary file.

    Args:
        results: the figures gathered by ``benchmarks.run``.
        md_path: where the Markdown goes (docs/benchmarks.md).
        json_path: where the JSON goes (bench.json).
    """
    versions = ", ".join(f"{k} {v}" for k, v in results["packages"].items())
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {results['date']}: {results['cores']} cores, "
        f"Python {results['python']} ({results['machine']}); {versions}.",
        f"The whole run took {results['seconds'] / 60:.1f} min. Regenerate with `make bench`.",
        *_rerun_lines(results.get("reruns", {})),
        "",
        "## Targets",
        "",
        *_target_rows(results),
        "",
    ]
    if "data_build" in results:
        lines += [f"Data build from scratch: {_fig(results['data_build'])} s.", ""]
    if "setup_noop" in results:
        lines += [
            f"Set-up of a second `make test` / `make demo` with nothing changed (`make setup "
            f"data`): {_fig(results['setup_noop'])} s.",
            "",
        ]
    if "notebooks" in results:
        lines += [
            "## Source notebooks, top to bottom",
            "",
            "| notebook | seconds |",
            "| --- | --- |",
        ]
        lines += [f"| {n} | {_fig(m)} |" for n, m in results["notebooks"].items()]
        lines.append("")
    if "backprop" in results:
        lines += [*_backprop_rows(results["backprop"]), ""]
    if "grading" in results:
        lines += [*_grading_rows(results["grading"]), ""]
    if "dask" in results:
        from benchmarks.dask_grading import report_rows

        lines += [*report_rows(results["dask"], results.get("grading")), ""]
    if "peer" in results:
        lines += [*_peer_rows(results["peer"]), ""]
    if "hub_class" in results:
        from benchmarks.hub_class import report_rows as hub_rows

        lines += [*hub_rows(results["hub_class"]), ""]
    for path, text in ((md_path, "\n".join(lines)), (json_path, json.dumps(results, indent=2))):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text + "\n")
        os.replace(partial, path)
