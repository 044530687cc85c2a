"""A class at once on the course's JupyterHub: 30 students log in, fetch and submit together.

The hub is the one ``make hub`` starts (``ds4023.hub.run``: real Unix users, LocalProcessSpawner,
configurable-http-proxy, the formgrader service, nbgrader's exchange), in a scratch state folder
on a free port. The instructor releases ``backprop`` in the formgrader's API; then every student
at once, each in an HTTP session of their own and only through the proxy, does what a browser
does: logs in (which spawns the server), waits until the server answers, lists and fetches the
assignment in nbgrader's Assignments tab handlers, opens the notebook and saves their own work
(a sample-class student generated from ``source/`` plus a marker of their login), and clicks
Submit. The instructor then collects in the formgrader, and every collected notebook is compared
byte for byte with the file that student's server held when they submitted.

Measured: spawn time per user (from the login click until the server answers through the
proxy, and the hub's own figure from its log), memory of each single-user server's process
tree, and the time from the class's first login until all submissions are collected. The hub
is stopped and its Unix users removed afterwards; processes left behind are counted.
Needs root (one Unix user per login), as ``make hub`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import psutil
import requests

from benchmarks.report import spread
from ds4023.hub import run as hub_run
from ds4023.hub.plan import COURSE_ID, DEFAULT_PROXY, Plan, free_port
from ds4023.sample_class import students as sample_class
from ds4023.settings import COURSE_ROOT

STUDENTS = 30
ASSIGNMENT = "backprop"
#: How long one student may wait for their server (the hub's own start_timeout is 180 s).
SPAWN_DEADLINE_S = 600
#: One HTTP request's limit (a submit or a collect of the whole class is one request).
REQUEST_TIMEOUT_S = 600
#: The hub's log line for a server that became ready (jupyterhub/handlers/base.py).
HUB_SPAWN_LINE = re.compile(r"User (\S+) took ([\d.]+) seconds to start")
MB = 1024 * 1024


def cannot_run() -> str | None:
    """Why this machine cannot run the class (one line), or None when it can."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        return "needs root (useradd, setpriv): every student is a real Unix user; run as root"
    if not (DEFAULT_PROXY / "configurable-http-proxy").exists():
        return "configurable-http-proxy is missing: run make hub-proxy"
    return None


# --- the pure parts: figures from what was recorded, and their Markdown -----------------------


def hub_spawn_seconds(hub_log: str) -> dict[str, float]:
    """Each user's server start time as the hub logged it ("User x took 1.2 seconds to start")."""
    return {m.group(1): float(m.group(2)) for m in HUB_SPAWN_LINE.finditer(hub_log)}


def class_figures(
    records: list[dict],
    collected: dict[str, str | None],
    memory: dict[str, dict],
    hub_log: str,
    timing: dict,
) -> dict:
    """The section's figures from what each student and the instructor saw.

    Args:
        records: one per student: ``login``, ``spawn_s`` (login click until the server answered
            through the proxy), ``work_s`` (fetch, save, submit), ``done_s`` (since the class
            started), ``sha256`` of the file their server held when they submitted, ``marker``;
            ``error`` instead of the figures when that student failed.
        collected: login -> sha256 of the notebook the instructor collected (None: not found).
        memory: login -> ``rss`` and ``pss`` bytes of that user's server process tree.
        hub_log: the hub's log (its own spawn figures).
        timing: ``hub_start_s``, ``release_s``, ``collect_s``, ``class_s`` (the class's first
            login until all submissions were collected), ``leftover_processes``,
            ``users_removed``.

    Returns:
        Spreads (median, min, max) and totals, the lost and altered submissions by login.
    """
    ok = [r for r in records if "error" not in r]
    lost = sorted(r["login"] for r in records if collected.get(r["login"]) is None)
    altered = sorted(
        r["login"]
        for r in ok
        if collected.get(r["login"]) is not None and collected[r["login"]] != r["sha256"]
    )
    identical = [r for r in ok if collected.get(r["login"]) == r["sha256"]]
    hub_spawn = hub_spawn_seconds(hub_log)
    logins = {r["login"] for r in records}
    rss = [m["rss"] / MB for m in memory.values()]
    pss = [m["pss"] / MB for m in memory.values()]

    def fig(values: list[float]) -> dict | None:
        return spread(values) if values else None

    return {
        "students": len(records),
        "submitted": len(ok),
        "collected": sum(1 for r in records if collected.get(r["login"]) is not None),
        "identical": len(identical),
        "distinct": len({r["sha256"] for r in ok}),
        "lost": lost,
        "altered": altered,
        "errors": {r["login"]: r["error"] for r in records if "error" in r},
        "dropped": sum(r.get("dropped", 0) for r in records),
        "spawn_s": fig([r["spawn_s"] for r in ok]),
        "hub_spawn_s": fig([s for login, s in hub_spawn.items() if login in logins]),
        "work_s": fig([r["work_s"] for r in ok]),
        "last_submitted_s": max((r["done_s"] for r in ok), default=None),
        "memory_mb": {
            "servers": len(memory),
            "rss": fig(rss),
            "rss_total": sum(rss),
            "pss": fig(pss),
            "pss_total": sum(pss),
        },
        **timing,
    }


def _s(f: dict | None) -> str:
    return "–" if f is None else f"{f['median']:.1f} (max {f['max']:.1f})"


def _machine_rows(h: dict) -> list[str]:
    """Where it ran and what else the machine did meanwhile (older figures lack these)."""
    if "cores" not in h:
        return []
    line = f"Machine: {h['cores']} cores, {h['memory_gb']:.0f} GB of memory."
    if "other_cpu_s" in h:
        line += (
            f" During the class the hub, its servers, the proxy and this benchmark used "
            f"{h['ours_cpu_s']:.0f} s of CPU and everything else {h['other_cpu_s']:.0f} s, of "
            f"{h['available_cpu_s']:.0f} s the cores had."
        )
    if h.get("note"):
        line += f" {h['note']}"
    return [line, ""]


def report_rows(h: dict) -> list[str]:
    """The Markdown section of docs/benchmarks.md for these figures."""
    title = "## A class at once on the JupyterHub"
    if "skipped" in h:
        return [title, "", f"Not measured in this run: {h['skipped']}."]
    mem = h["memory_mb"]
    n = h["students"]
    nothing_lost = h["identical"] == n and not h["lost"] and not h["altered"]
    rows = [title, ""]
    if "kept" in h:
        rows += [f"Not measured in this run ({h['kept']}); the figures are from {h['date']}.", ""]
    rows += [
        f"{n} students log in and submit `{ASSIGNMENT}` at the same time on the course's hub "
        "(`ds4023 hub start`: real Unix users, LocalProcessSpawner, configurable-http-proxy, "
        "the formgrader service), each in their own HTTP session and only through the proxy, "
        "as their browser would: log in (the hub spawns the server), fetch in nbgrader's "
        "Assignments handlers, save their notebook through the Jupyter contents API, submit; "
        "then the instructor collects in the formgrader. "
        f"Measured on {h['date']} by `benchmarks/hub_class.py` "
        '(`make bench BENCH_ARGS="--only hub_class"`, as root).',
        "",
        "| figure | measured |",
        "| --- | --- |",
        f"| hub start (users, course copy, proxy, hub), until its API and the formgrader answer | "
        f"{h['hub_start_s']:.1f} s |",
        f"| until the formgrader answers through the proxy | {h['formgrader_s']:.1f} s |",
        *(
            [
                "| spawn of one server alone (the instructor's, before the class), login click "
                f"until it answers through the proxy | {h['alone_spawn_s']:.1f} s |"
            ]
            if "alone_spawn_s" in h
            else []
        ),
        f"| spawn, {n} at once: login click until the server answers through the proxy | "
        f"{_s(h['spawn_s'])} s |",
        f"| spawn, as the hub logs it (server started until it answers) | "
        f"{_s(h['hub_spawn_s'])} s |",
        f"| fetch, save and submit, per student | {_s(h['work_s'])} s |",
        f"| last submission, since the class's first login | {h['last_submitted_s']:.1f} s |"
        if h["last_submitted_s"] is not None
        else "| last submission, since the class's first login | – |",
        f"| collect in the formgrader | {h['collect_s']:.1f} s |",
        f"| **all {n} collected, since the class's first login** | **{h['class_s']:.1f} s** |",
        f"| memory per user server, RSS of its process tree | {_s(mem['rss'])} MB |",
        f"| memory of all {mem['servers']} servers, RSS summed | {mem['rss_total']:.0f} MB |",
        f"| memory of all {mem['servers']} servers, PSS summed (shared pages counted once) | "
        f"{mem['pss_total']:.0f} MB |",
        "",
        *_machine_rows(h),
        f"Submitted {h['submitted']} of {n}, {h['distinct']} distinct notebooks; collected "
        f"{h['collected']}, byte-identical to what each student's server held when they "
        f"submitted: {h['identical']} of {n}. Nothing lost: "
        f"{'yes' if nothing_lost else 'NO'}.",
    ]
    if h.get("dropped"):
        rows[-1] += (
            f" Connections dropped while students waited for their servers, polled again as the "
            f"spawn-pending page does: {h['dropped']}."
        )
    problems = [f"lost: {', '.join(h['lost'])}"] if h["lost"] else []
    problems += [f"altered: {', '.join(h['altered'])}"] if h["altered"] else []
    problems += [f"{login} failed: {why}" for login, why in sorted(h["errors"].items())]
    if problems:
        rows += ["", *(f"- {p}" for p in problems)]
    rows += [
        "",
        f"Afterwards `hub stop --remove-users`: {h['leftover_processes']} process(es) of the "
        f"hub's users left, users removed: {'yes' if h['users_removed'] else 'NO'}.",
    ]
    return rows


# --- the class, through the proxy ------------------------------------------------------------


def _xsrf(session: requests.Session, path: str) -> str:
    """The ``_xsrf`` cookie a browser would send to ``path`` (the longest matching cookie path)."""
    found = [c for c in session.cookies if c.name == "_xsrf" and path.startswith(c.path or "/")]
    if not found:
        raise RuntimeError(f"no _xsrf cookie for {path}")
    return max(found, key=lambda c: len(c.path or "")).value


def log_in(session: requests.Session, url: str, user: str, password: str, next_url: str = ""):
    """Post the hub's login form as a browser does; follows the redirects (spawn included)."""
    session.get(f"{url}hub/login", timeout=REQUEST_TIMEOUT_S).raise_for_status()
    form = {"username": user, "password": password, "_xsrf": _xsrf(session, "/hub/login")}
    query = {"next": next_url} if next_url else {}
    reply = session.post(f"{url}hub/login", params=query, data=form, timeout=REQUEST_TIMEOUT_S)
    reply.raise_for_status()
    if urlsplit(reply.url).path.startswith("/hub/login"):
        raise RuntimeError(f"{user} could not log in")
    return reply


def wait_for_server(session: requests.Session, url: str, user: str, dropped: list) -> None:
    """Open the user's JupyterLab until it answers from their server (not the hub's page);
    ``dropped[0]`` counts connections dropped meanwhile (polled again, as a browser would)."""
    lab = f"{url}user/{user}/lab"
    deadline = time.monotonic() + SPAWN_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            reply = session.get(lab, timeout=REQUEST_TIMEOUT_S)
        except requests.ConnectionError:
            # the spawn-pending page's event stream reconnects when a connection drops
            dropped[0] += 1
            continue
        if reply.status_code == 200 and urlsplit(reply.url).path.startswith(f"/user/{user}/"):
            return
        time.sleep(0.5)  # the hub's spawn-pending page: the server is still starting
    raise RuntimeError(f"{user}'s server did not answer within {SPAWN_DEADLINE_S} s")


def _call(session, method: str, url: str, **kwargs) -> requests.Response:
    path = urlsplit(url).path
    headers = {"X-XSRFToken": _xsrf(session, path), **kwargs.pop("headers", {})}
    reply = session.request(method, url, headers=headers, timeout=REQUEST_TIMEOUT_S, **kwargs)
    reply.raise_for_status()
    return reply


def _status(listing: dict) -> set[str]:
    if not listing.get("success"):
        raise RuntimeError(f"nbgrader: {str(listing.get('value'))[-500:]}")
    return {a["status"] for a in listing["value"] if a["assignment_id"] == ASSIGNMENT}


def student_notebook(fetched: dict, index: int, login: str) -> nbformat.NotebookNode:
    """The student's work: sample-class student ``index`` (cycled) over the fetched notebook,
    with the login and a random marker in its metadata (so no two students hand in the same)."""
    table = sample_class.load_table(ASSIGNMENT)
    who = table.STUDENTS[index % len(table.STUDENTS)]
    source = nbformat.read(COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    nb = sample_class.student_notebook(source, nbformat.from_dict(fetched), who)
    marker = {"login": login, "sample_student": who.name, "nonce": secrets.token_hex(8)}
    nb.metadata["ds4023_hub_bench"] = marker
    return nb


def one_student(
    url: str, login: str, password: str, index: int, start: threading.Barrier, t0: list
) -> dict:
    """One student's afternoon, in their own session; figures, or the error that stopped it."""
    session = requests.Session()
    record: dict = {"login": login}
    dropped = [0]
    step = "log in"
    try:
        start.wait()
        clicked = time.perf_counter()
        log_in(session, url, login, password)
        step = "wait for the server"
        wait_for_server(session, url, login, dropped)
        ready = time.perf_counter()
        step = "list, fetch, save, submit"
        base = f"{url}user/{login}/"
        query = {"course_id": COURSE_ID}
        listed = session.get(f"{base}assignments", params=query, timeout=REQUEST_TIMEOUT_S)
        if "released" not in _status(listed.json()):
            raise RuntimeError(f"{ASSIGNMENT} not released to {login}: {listed.text[:300]}")
        body = {"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}
        if "fetched" not in _status(
            _call(session, "POST", f"{base}assignments/fetch", json=body).json()
        ):
            raise RuntimeError(f"{ASSIGNMENT} not fetched by {login}")
        path = f"{COURSE_ID}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        model = _call(session, "GET", f"{base}api/contents/{path}", params={"content": 1}).json()
        nb = student_notebook(model["content"], index, login)
        save = {"type": "notebook", "format": "json", "content": nb}
        _call(session, "PUT", f"{base}api/contents/{path}", json=save)
        held = _call(session, "GET", f"{base}files/{path}").content
        submitted = _call(session, "POST", f"{base}assignments/submit", json=body).json()
        if "submitted" not in _status(submitted):
            raise RuntimeError(f"{ASSIGNMENT} not submitted by {login}")
        done = time.perf_counter()
        record.update(
            spawn_s=ready - clicked,
            work_s=done - ready,
            done_s=done - t0[0],
            sha256=hashlib.sha256(held).hexdigest(),
            marker=nb.metadata["ds4023_hub_bench"]["nonce"],
        )
    except Exception as err:  # noqa: BLE001 - one student's failure is a figure, not the end
        record["error"] = f"{step}: {type(err).__name__}: {str(err)[:300]}"
    finally:
        session.close()
    record["dropped"] = dropped[0]
    return record


def server_memory(plan: Plan) -> dict[str, dict]:
    """RSS and PSS of each student's server process tree (every process of that Unix user)."""
    out = {}
    for login in plan.students:
        uid = pwd.getpwnam(login).pw_uid
        rss = pss = 0
        for proc in psutil.process_iter(["uids"]):
            try:
                if proc.info["uids"] and proc.info["uids"].real == uid:
                    info = proc.memory_full_info()
                    rss, pss = rss + info.rss, pss + info.pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if rss:
            out[login] = {"rss": rss, "pss": pss}
    return out


def wait_for_formgrader(plan: Plan) -> None:
    """Wait until the proxy routes the formgrader service (``hub start`` waits for it too)."""
    deadline = time.monotonic() + SPAWN_DEADLINE_S
    while not hub_run.formgrader_routed(plan):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the formgrader was not routed within {SPAWN_DEADLINE_S} s")
        time.sleep(0.5)


def instructor_session(plan: Plan) -> tuple[requests.Session, str, float]:
    """The instructor logs in (their server spawns alone, before the class: the baseline) and
    opens the formgrader; the session, the assignment's formgrader API and the spawn time."""
    session = requests.Session()
    clicked = time.perf_counter()
    log_in(session, plan.url, plan.instructor, plan.password)
    wait_for_server(session, plan.url, plan.instructor, [0])
    alone = time.perf_counter() - clicked
    formgrader = f"{plan.url}services/{COURSE_ID}/formgrader"
    session.get(f"{formgrader}/manage_assignments", timeout=60).raise_for_status()
    return session, f"{formgrader}/api/assignment/{ASSIGNMENT}", alone


def _formgrader(session: requests.Session, api: str, action: str) -> dict:
    reply = _call(session, "POST", f"{api}/{action}").json()
    if not reply.get("success"):
        raise RuntimeError(f"formgrader {action}: {str(reply)[-800:]}")
    return reply


def collected_sha256(plan: Plan) -> dict[str, str | None]:
    """Each student's collected notebook in the instructor's course, as a sha256 (None: none)."""
    out: dict[str, str | None] = {}
    for login in plan.students:
        nb = plan.course / "submitted" / login / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        out[login] = hashlib.sha256(nb.read_bytes()).hexdigest() if nb.is_file() else None
    return out


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core)."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


def _tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds of these processes and everything below them (their reaped children too)."""
    procs: dict[int, psutil.Process] = {}
    for pid in pids:  # the trees may nest (the hub and proxy are this process's children)
        try:
            top = psutil.Process(pid)
            procs.update((p.pid, p) for p in [top, *top.children(recursive=True)])
        except psutil.NoSuchProcess:
            continue
    total = 0.0
    for proc in procs.values():
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _ours_cpu_s(plan: Plan) -> float:
    """CPU seconds of the hub's processes (servers and services included), the proxy's and
    this benchmark's."""
    pids = [os.getpid()]
    for name in ("hub.pid", "proxy.pid"):
        try:
            pids.append(int(plan.path(name).read_text()))
        except (OSError, ValueError):
            continue
    return _tree_cpu_s(pids)


def other_cpu(busy: tuple[float, float], ours: tuple[float, float], seconds: float) -> dict:
    """CPU the rest of the machine used during the class: busy minus ours, and what was there.

    Args:
        busy: the machine's busy CPU seconds at the class's start and end.
        ours: the hub's, proxy's and benchmark's CPU seconds at the same two moments.
        seconds: the class's wall time.
    """
    other = max(0.0, (busy[1] - busy[0]) - (ours[1] - ours[0]))
    return {
        "other_cpu_s": other,
        "ours_cpu_s": ours[1] - ours[0],
        "available_cpu_s": seconds * (os.cpu_count() or 1),
    }


def _running_as(uids: set[int]) -> int:
    """How many live (not zombie) processes run as one of ``uids``."""
    count = 0
    for proc in psutil.process_iter(["uids", "status"]):
        if proc.info["uids"] and proc.info["uids"].real in uids:
            count += proc.info["status"] != psutil.STATUS_ZOMBIE
    return count


def bench_hub_class(students: int = STUDENTS, port: int | None = None, note: str = "") -> dict:
    """Start the hub, run the class, collect, verify, stop: the section's figures.

    Args:
        students: how many students log in at once.
        port: the hub's public port (a free one when None, so a hub already running on 8000
            is left alone).
        note: what the page should say about the circumstances of this run (other work...).
    """
    reason = cannot_run()
    if reason:
        print(f"  hub_class skipped: {reason}", flush=True)
        return {"skipped": reason}
    state = Path(tempfile.mkdtemp(prefix="ds4023-hub-bench-"))
    state.chmod(0o711)
    tag = secrets.token_hex(2)
    args = argparse.Namespace(
        port=port or free_port(),
        students=students,
        student_prefix=f"hb{tag}s",
        instructor=f"hb{tag}i",
        cull_timeout=3600,
        proxy_bin=str(DEFAULT_PROXY),
        single_user=False,
    )
    plan = hub_run.make_plan(state, args)
    timing: dict = {}
    records: list[dict] = []
    memory: dict = {}
    collected: dict = {}
    hub_log = ""
    uids: set[int] = set()
    began = time.perf_counter()
    try:
        print(f"  starting the hub with {students} students at {plan.url}", flush=True)
        hub_run.start(plan)
        uids = hub_run.login_uids(plan)
        timing["hub_start_s"] = time.perf_counter() - began
        wait_for_formgrader(plan)
        timing["formgrader_s"] = time.perf_counter() - began
        teacher, api, timing["alone_spawn_s"] = instructor_session(plan)
        tic = time.perf_counter()
        _formgrader(teacher, api, "release")
        timing["release_s"] = time.perf_counter() - tic
        print(f"  {students} students log in, fetch and submit at once", flush=True)
        barrier = threading.Barrier(students + 1)
        t0 = [0.0]
        with ThreadPoolExecutor(max_workers=students) as pool:
            futures = [
                pool.submit(one_student, plan.url, login, plan.password, i, barrier, t0)
                for i, login in enumerate(plan.students)
            ]
            busy, ours = [_busy_cpu_s()], [_ours_cpu_s(plan)]
            t0[0] = time.perf_counter()
            barrier.wait()
            records = [f.result() for f in futures]
        failed = [r["login"] for r in records if "error" in r]
        print(f"  submitted: {students - len(failed)} of {students}", flush=True)
        memory = server_memory(plan)
        tic = time.perf_counter()
        _formgrader(teacher, api, "collect")
        timing["collect_s"] = time.perf_counter() - tic
        timing["class_s"] = time.perf_counter() - t0[0]
        busy.append(_busy_cpu_s())
        ours.append(_ours_cpu_s(plan))
        timing.update(other_cpu((busy[0], busy[1]), (ours[0], ours[1]), timing["class_s"]))
        teacher.close()
        collected = collected_sha256(plan)
    finally:
        uids = uids or hub_run.login_uids(plan)
        hub_run.stop(plan, remove_users=True)
        log = plan.path("logs/hub.log")
        hub_log = log.read_text(errors="replace") if log.is_file() else ""
        timing["leftover_processes"] = _running_as(uids)
        timing["users_removed"] = all(_absent(login) for login in plan.logins)
        shutil.rmtree(state, ignore_errors=True)
    figures = class_figures(records, collected, memory, hub_log, timing)
    figures["date"] = date.today().isoformat()
    figures["cores"] = os.cpu_count()
    figures["memory_gb"] = psutil.virtual_memory().total / 1024**3
    figures["note"] = note
    figures["seconds"] = time.perf_counter() - began
    figures["records"] = records
    print(f"  {json.dumps({k: figures[k] for k in ('identical', 'class_s', 'lost')})}", flush=True)
    return figures


def _absent(login: str) -> bool:
    try:
        pwd.getpwnam(login)
    except KeyError:
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.hub_class [--students N]``: the figures as JSON, nothing written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=STUDENTS)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--note", default="", help="a sentence on this run's circumstances")
    args = parser.parse_args(argv)
    figures = bench_hub_class(args.students, args.port, args.note)
    print(json.dumps(figures, indent=1))
    return 0 if figures.get("identical") == args.students else 1


if __name__ == "__main__":
    raise SystemExit(main())
