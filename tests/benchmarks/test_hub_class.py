"""Tests for benchmarks.hub_class's pure parts and its section of make bench: figures from what
the students and the instructor saw, the Markdown they become, and a run of that section only."""

from __future__ import annotations

import json
from datetime import date

from benchmarks import hub_class
from benchmarks import report as bench_report
from benchmarks import run as bench
from tests.helpers import COURSE_ROOT

MB = 1024 * 1024
HUB_LOG = "\n".join(
    [
        "[I 2026-12-06 03:55:40.414 JupyterHub app:3767] Starting managed service ds4023",
        "[I 2026-12-06 03:56:02.100 JupyterHub base:1193] User s1 took 4.000 seconds to start",
        "[I 2026-12-06 03:56:03.100 JupyterHub base:1193] User s2 took 6.500 seconds to start",
        "[I 2026-12-06 03:56:04.100 JupyterHub base:1193] User s3 took 9.000 seconds to start",
        "[I 2026-12-06 03:56:05.100 JupyterHub base:1193] User other took 99.0 seconds to start",
    ]
)
TIMING = {
    "hub_start_s": 40.0,
    "formgrader_s": 48.0,
    "alone_spawn_s": 6.2,
    "release_s": 1.5,
    "collect_s": 2.0,
    "class_s": 70.0,
    "leftover_processes": 0,
    "users_removed": True,
}


#: The header of a bench run's figures (date, machine, versions), as bench.json holds it.
MACHINE = {
    "date": "2026-11-24",
    "cores": 2,
    "python": "3.11.7",
    "machine": "x86_64",
    "packages": {"numpy": "2.4.6"},
}


def _student(login: str, spawn: float, sha: str, dropped: int = 0) -> dict:
    return {
        "login": login,
        "spawn_s": spawn,
        "work_s": 2.0,
        "done_s": spawn + 2.0,
        "sha256": sha,
        "dropped": dropped,
    }


def _figures(collected: dict, records: list[dict] | None = None) -> dict:
    records = records or [
        _student("s1", 5.0, "a"),
        _student("s2", 7.0, "b"),
        _student("s3", 9.0, "c"),
    ]
    memory = {r["login"]: {"rss": 100 * MB, "pss": 60 * MB} for r in records if "error" not in r}
    figures = hub_class.class_figures(records, collected, memory, HUB_LOG, TIMING)
    return {**figures, "date": "2026-12-06"}


def test_hub_log_gives_each_users_spawn_time():
    """Are the hub's own 'took N seconds to start' lines read per user?"""
    assert hub_class.hub_spawn_seconds(HUB_LOG) == {"s1": 4.0, "s2": 6.5, "s3": 9.0, "other": 99.0}


def test_a_class_collected_whole_is_nothing_lost():
    """All collected byte-identical: counts, spreads and totals, 'Nothing lost: yes'."""
    figures = _figures({"s1": "a", "s2": "b", "s3": "c"})
    assert (figures["submitted"], figures["collected"], figures["identical"]) == (3, 3, 3)
    assert figures["distinct"] == 3 and figures["lost"] == [] and figures["altered"] == []
    assert figures["spawn_s"]["median"] == 7.0 and figures["spawn_s"]["max"] == 9.0
    assert figures["hub_spawn_s"]["median"] == 6.5  # another hub's user is not counted
    assert figures["hub_spawn_s"]["max"] == 9.0
    assert figures["last_submitted_s"] == 11.0
    assert figures["memory_mb"]["rss"]["median"] == 100.0
    assert figures["memory_mb"]["rss_total"] == 300.0 and figures["memory_mb"]["pss_total"] == 180.0
    text = "\n".join(hub_class.report_rows(figures))
    assert "Nothing lost: yes." in text
    assert "**all 3 collected, since the class's first login** | **70.0 s** |" in text
    assert (
        "| spawn, 3 at once: login click until the server answers through the proxy "
        "| 7.0 (max 9.0) s |" in text
    )
    assert "| memory of all 3 servers, RSS summed | 300 MB |" in text
    assert "(the instructor's, before the class), login click until it answers through the " in text
    assert "0 process(es) of the hub's users left, users removed: yes" in text


def test_lost_altered_and_failed_students_are_named():
    """A submission not collected, one collected changed and a student who failed are each named."""
    records = [
        _student("s1", 5.0, "a"),
        _student("s2", 7.0, "b"),
        {"login": "s3", "error": "RuntimeError: s3's server did not answer within 600 s"},
    ]
    figures = _figures({"s1": None, "s2": "changed", "s3": None}, records)
    assert figures["submitted"] == 2 and figures["identical"] == 0
    assert figures["lost"] == ["s1", "s3"] and figures["altered"] == ["s2"]
    assert figures["errors"] == {"s3": "RuntimeError: s3's server did not answer within 600 s"}
    assert figures["dropped"] == 0
    assert figures["memory_mb"]["servers"] == 2
    text = "\n".join(hub_class.report_rows(figures))
    assert "Nothing lost: NO." in text
    assert "- lost: s1, s3" in text and "- altered: s2" in text
    assert "- s3 failed: RuntimeError: s3's server did not answer" in text


def test_a_class_where_nobody_got_through_still_renders():
    """No student submitted: no spreads to show, the table says so with dashes."""
    records = [{"login": "s1", "error": "ConnectionError: refused"}]
    figures = _figures({"s1": None}, records)
    assert figures["spawn_s"] is None and figures["last_submitted_s"] is None
    text = "\n".join(hub_class.report_rows(figures))
    assert "| fetch, save and submit, per student | – s |" in text
    assert "Nothing lost: NO." in text


def test_a_skipped_section_says_why_in_one_line():
    """Without root the section is one line, and keeps the last figures measured, saying so."""
    skipped = {"skipped": "needs root (useradd, setpriv)"}
    rows = hub_class.report_rows(skipped)
    assert rows[-1] == "Not measured in this run: needs root (useradd, setpriv)."
    assert bench.keep_if_skipped(skipped, None) == skipped
    measured = _figures({"s1": "a", "s2": "b", "s3": "c"})
    kept = bench.keep_if_skipped(skipped, measured)
    assert kept["class_s"] == 70.0
    text = "\n".join(hub_class.report_rows(kept))
    assert "Not measured in this run (needs root (useradd, setpriv)); the figures are from " in text
    assert "Nothing lost: yes." in text
    assert bench.keep_if_skipped(measured, skipped) == measured


def test_cannot_run_names_what_is_missing(monkeypatch, tmp_path):
    """One line: root first, then the proxy."""
    monkeypatch.setattr(hub_class.os, "geteuid", lambda: 1000)
    assert hub_class.cannot_run().startswith("needs root")
    monkeypatch.setattr(hub_class.os, "geteuid", lambda: 0)
    monkeypatch.setattr(hub_class.shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(hub_class, "DEFAULT_PROXY", tmp_path)
    assert "make hub-proxy" in hub_class.cannot_run()


def test_only_one_section_keeps_the_others_figures(monkeypatch, tmp_path):
    """``--only hub_class`` reruns that section alone: the page keeps the full run's header and
    figures, and gains the class's section."""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    previous = {
        **MACHINE,
        "seconds": 2304.0,
        "data_build": {"median": 3.8, "min": 3.1, "max": 3.9, "reps": 5},
    }
    js.write_text(json.dumps(previous))
    measured = _figures({"s1": "a", "s2": "b", "s3": "c"})
    monkeypatch.setattr(bench.bench_hub_class, "bench_hub_class", lambda note: measured)
    monkeypatch.setattr(bench, "scratch_course", lambda root: root)
    assert bench.main(["--only", "hub_class", "--out", str(md), "--json", str(js)]) == 0
    text = md.read_text()
    assert "Measured by `make bench` on 2026-11-24" in text and "took 38.4 min" in text
    assert "Data build from scratch: 3.800 (3.100 – 3.900) s." in text
    assert "## A class at once on the JupyterHub" in text and "Nothing lost: yes." in text
    today = date.today().isoformat()
    assert (
        f"Run again alone since (`make bench BENCH_ARGS=--only ...`): hub_class on {today}." in text
    )
    loaded = json.loads(js.read_text())
    assert loaded["seconds"] == 2304.0 and loaded["hub_class"]["identical"] == 3


def test_report_leaves_the_section_out_when_not_run(tmp_path):
    """A run without the section has no such heading (older bench.json files render as before)."""
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    results = {
        **MACHINE,
        "seconds": 60.0,
    }
    bench_report.write(results, md, js)
    assert "JupyterHub" not in md.read_text()


def test_the_committed_figures_render_again_unchanged(tmp_path):
    """Does bench.json, read back as ``--only`` reads it, render (integer keys such as the
    workers included) and give the same JSON, and the same page when read back once more?"""
    kept = bench.kept_results(COURSE_ROOT / "bench.json")
    assert kept is not None
    first, again = tmp_path / "first", tmp_path / "again"
    bench_report.write(kept, first / "bench.md", first / "bench.json")
    assert (first / "bench.json").read_text() == (COURSE_ROOT / "bench.json").read_text()
    bench_report.write(
        bench.kept_results(first / "bench.json"), again / "bench.md", again / "bench.json"
    )
    assert (again / "bench.md").read_text() == (first / "bench.md").read_text()


def test_other_work_on_the_machine_is_the_busy_cpu_not_ours(monkeypatch):
    """Is the rest of the machine's CPU the busy time minus ours, never below 0, and said?"""
    monkeypatch.setattr(hub_class.os, "cpu_count", lambda: 2)
    got = hub_class.other_cpu((1000.0, 1150.0), (10.0, 150.0), 100.0)
    assert got == {"other_cpu_s": 10.0, "ours_cpu_s": 140.0, "available_cpu_s": 200.0}
    assert hub_class.other_cpu((0.0, 100.0), (0.0, 101.0), 60.0)["other_cpu_s"] == 0.0
    figures = {**_figures({"s1": "a", "s2": "b", "s3": "c"}), **got}
    figures.update(cores=2, memory_gb=23.5, note="Other jobs waited for the machine.")
    text = "\n".join(hub_class.report_rows(figures))
    assert (
        "Machine: 2 cores, 24 GB of memory. During the class the hub, its servers, the proxy and "
        "this benchmark used 140 s of CPU and everything else 10 s, of 200 s the cores had. "
        "Other jobs waited for the machine." in text
    )


def test_cpu_of_a_process_tree_counts_this_process_once():
    """Does the tree's CPU include this very process (it has run the tests so far), once even
    when named twice or inside another tree named?"""
    me = hub_class.os.getpid()
    assert hub_class._tree_cpu_s([me]) > 0
    parent = hub_class.os.getppid()
    assert hub_class._tree_cpu_s([parent, me]) < hub_class._tree_cpu_s([parent]) + 0.5
    assert hub_class._tree_cpu_s([me, me]) < 1.5 * hub_class._tree_cpu_s([me])
    assert hub_class._busy_cpu_s() > hub_class._tree_cpu_s([hub_class.os.getpid()])
    assert hub_class._tree_cpu_s([2**22 + 12345]) == 0.0  # no such process


def test_connections_dropped_while_waiting_are_counted_and_said():
    """A connection dropped while a student waited for the server is polled again and said."""
    records = [_student("s1", 5.0, "a", dropped=2), _student("s2", 7.0, "b", dropped=1)]
    figures = _figures({"s1": "a", "s2": "b"}, records)
    assert figures["dropped"] == 3 and figures["identical"] == 2
    text = "\n".join(hub_class.report_rows(figures))
    assert "Nothing lost: yes. Connections dropped while students waited for their servers" in text
    assert "spawn-pending page does: 3." in text
