"""Tests for benchmarks.report and benchmarks.run.measure: figures in, judged tables out."""

from __future__ import annotations

import json

from benchmarks import grading as bench_grading
from benchmarks import peer as bench_peer
from benchmarks import report as bench_report
from benchmarks import run as bench


def _fig(median: float, result: object = None) -> dict:
    return {"median": median, "min": median * 0.9, "max": median * 1.1, "reps": 3, "result": result}


def _run(wall: float, scores: dict | None = None) -> dict:
    """One grading run of 10 submissions, 90 % of its wall time spent in cells."""
    return {
        "submissions": 10,
        "failed": 0,
        "wall": wall,
        "cells_total": 0.9 * wall,
        "task_minus_cells_median": 1.0,
        "scores": scores or {"a": 1.0},
    }


def _results(data_build: float, one_worker: float, two_workers: float) -> dict:
    """Figures of a run, from three pairs of grading runs around the chosen walls."""
    runs = {
        1: [_run(one_worker * k) for k in (1.0, 1.1, 0.9)],
        2: [_run(two_workers * k) for k in (1.0, 1.1, 0.9)],
    }
    grading = bench_grading.grading_figures(runs, {3: [30.0, 31.0], 6: [50.0], 12: [90.0]})
    grading.update(engine="dask", sandboxed=True)
    return {
        "date": "2026-11-24",
        "cores": 2,
        "python": "3.11.7",
        "machine": "x86_64",
        "packages": {"numpy": "2.4.6"},
        "seconds": 600.0,
        "data_build": _fig(data_build),
        "grading": grading,
    }


def _target_line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {label} |"))


def test_targets_are_judged_against_their_limits(tmp_path):
    """Is a figure within its limit marked 'yes' and one beyond it 'NO'?"""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    bench_report.write(_results(data_build=3.0, one_worker=100.0, two_workers=80.0), md, js)
    text = md.read_text()
    assert _target_line(text, "data build from scratch").endswith("| yes |")
    assert _target_line(text, "grading speed-up, all workers vs 1").endswith("| NO |")  # 1.25x
    bench_report.write(_results(data_build=25.0, one_worker=100.0, two_workers=50.0), md, js)
    text = md.read_text()
    assert _target_line(text, "data build from scratch").endswith("| NO |")
    assert _target_line(text, "grading speed-up, all workers vs 1").endswith("| yes |")  # 2.0x


def test_report_states_machine_and_growth(tmp_path):
    """Does the page name the machine and predict a larger class from the scaling runs?"""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    bench_report.write(_results(3.0, 100.0, 55.0), md, js)
    text = md.read_text()
    assert "2 cores" in text and "numpy 2.4.6" in text and "2026-11-24" in text
    assert "in the sandbox" in text
    assert "about 6.7 s of wall time" in text  # (90 - 50) / (12 - 6)
    assert "class of 500 takes about 56 min" in text


def test_json_holds_the_same_figures_and_no_partial_files(tmp_path):
    """Is bench.json the figures as given, with no temporary file left beside it?"""
    md, js = tmp_path / "out" / "bench.md", tmp_path / "out" / "bench.json"
    results = _results(3.0, 100.0, 55.0)
    bench_report.write(results, md, js)
    loaded = json.loads(js.read_text())
    assert loaded["data_build"]["median"] == 3.0
    assert loaded["grading"]["speedup"]["median"] == results["grading"]["speedup"]["median"]
    assert sorted(p.name for p in md.parent.iterdir()) == ["bench.json", "bench.md"]


def test_measure_reports_median_min_max():
    """Does measure run the function the given number of times and order its figures?"""
    calls = []
    fig = bench.measure(lambda: calls.append(1) or len(calls), reps=5)
    assert len(calls) == 5 and fig["reps"] == 5 and fig["result"] == 5
    assert fig["min"] <= fig["median"] <= fig["max"]


def test_grading_figures_pair_runs_and_compare_grades():
    """Is the speed-up the median of paired runs, and is a grade that changed between runs seen?"""
    runs = {1: [_run(100.0), _run(120.0), _run(90.0)], 2: [_run(50.0), _run(80.0), _run(60.0)]}
    figures = bench_grading.grading_figures(runs, {})
    assert figures["speedup"]["median"] == 1.5  # pairs: 2.0, 1.5, 1.5
    assert figures["speedup"]["min"] == 1.5 and figures["speedup"]["max"] == 2.0
    assert figures["workers"][1]["wall"]["median"] == 100.0
    assert abs(figures["overhead_per_submission"]["median"] - 1.0) < 1e-12  # 10 % of 100 s / 10
    assert figures["identical_grades"]
    runs[2][1] = _run(80.0, scores={"a": 0.5})
    assert not bench_grading.grading_figures(runs, {})["identical_grades"]


def test_cells_slowdown_is_judged_from_the_time_in_cells(tmp_path):
    """Are cells run 10 % slower beside another worker than alone a missed target?"""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    results = _results(3.0, 100.0, 55.0)
    results["grading"]["workers"][2]["cells_total"]["median"] = 99.0  # 90 alone
    bench_report.write(results, md, js)
    line = _target_line(md.read_text(), "time in cells, all workers / 1 worker")
    assert line == "| time in cells, all workers / 1 worker | 1.10 x | <= 1.05 x | NO |"


def test_peer_section_states_both_graders_and_their_ratio(tmp_path):
    """Does the page give plain nbgrader's and ds4023's times, and judge their paired ratio?"""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    results = _results(3.0, 100.0, 55.0)
    results["peer"] = bench_peer.peer_figures([130.0, 140.0], [70.0, 70.0], 6, 2, True)
    bench_report.write(results, md, js)
    text = md.read_text()
    assert "| plain nbgrader autograde | 135.000 (130.000 – 140.000) |" in text
    assert "| ds4023 grade | 70.000 (70.000 – 70.000) |" in text
    assert "Plain / ds4023: 1.929 (1.857 – 2.000)x (per pair of runs)." in text
    line = _target_line(text, "plain nbgrader autograde / ds4023 grade, same class")
    assert line.endswith("| 1.93 x | >= 1.8 x | yes |")
    results["peer"] = bench_peer.peer_figures([100.0], [70.0], 6, 2, False)
    bench_report.write(results, md, js)
    text = md.read_text()
    assert "kernels NOT sandboxed" in text
    assert _target_line(text, "plain nbgrader autograde / ds4023 grade, same class").endswith(
        "| NO |"
    )


def test_sections_run_again_alone_are_named_under_the_header(tmp_path):
    """Does a page whose grading section was rerun with --only say so, with date and --quick?"""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    results = _results(3.0, 100.0, 55.0)
    results["reruns"] = {"grading": {"date": "2026-12-06", "quick": True}}
    bench_report.write(results, md, js)
    lines = md.read_text().splitlines()
    assert lines[4] == (
        "Run again alone since (`make bench BENCH_ARGS=--only ...`): grading on 2026-12-06 "
        "(--quick: one run of each)."
    )
