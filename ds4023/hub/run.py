"""Start, stop and enter the course's JupyterHub: ``ds4023 hub start|stop|exec`` (``make hub``).

The hub runs as root only when it must switch users (LocalProcessSpawner, real Unix users);
configurable-http-proxy runs as ``nobody``, the formgrader as the instructor, the idle culler as
``nobody``, every user's server as that user. Without root, every server runs as the user who
started the hub (``single`` mode: a demo, no isolation between logins).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ds4023.collect.exchange import ensure_root
from ds4023.hub import accounts, config, namespace
from ds4023.hub.plan import COURSE_ID, Plan, load, new_password

START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 60
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


class HubError(Exception):
    """The hub cannot start or stop; the message says why and what to do."""


def _alive(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process still runs ``marker`` (not a reused pid)."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def _spawn(argv: list[str], log: Path, env: dict, cwd: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def make_plan(state: Path, args) -> Plan:
    """This start's plan; a previous plan's password and created users are kept."""
    old = load(state)
    mode = "single" if args.single_user or os.geteuid() != 0 else "users"
    students = [f"{args.student_prefix}{i}" for i in range(1, args.students + 1)]
    proxy_bin = Path(args.proxy_bin)
    if not os.access(proxy_bin / "configurable-http-proxy", os.X_OK):
        raise HubError(
            f"configurable-http-proxy is not installed in {proxy_bin}: run make hub "
            "(it runs npm ci in .hub/proxy), or pass --proxy-bin"
        )
    plan = Plan(
        state=str(state),
        port=args.port,
        students=students,
        instructor=args.instructor,
        password=old.password if old else new_password(),
        mode=mode,
        python=sys.executable,
        proxy_bin=str(proxy_bin),
        created_users=old.created_users if old else [],
        cull_timeout=args.cull_timeout,
    )
    return plan


def start(plan: Plan) -> None:
    """Set up logins, course, exchange and config; start the proxy and the hub; wait for it."""
    if _alive(plan.path("jupyterhub.pid"), "jupyterhub"):
        raise HubError(f"a hub is already running from {plan.root}: make hub-stop first")
    plan.root.mkdir(parents=True, exist_ok=True)
    plan.root.chmod(0o711)
    plan.created_users = sorted(set(plan.created_users) | set(accounts.set_up(plan)))
    ensure_root(plan.exchange)
    plan.save()
    config.write_all(plan)
    token = secrets.token_hex(32)
    env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": token}
    env.pop("JUPYTERHUB_API_TOKEN", None)
    reach = [Path(plan.state), Path(plan.proxy_bin).parent, Path(__file__).parents[2]]
    chp = [
        "node",
        str(Path(plan.proxy_bin) / "configurable-http-proxy"),
        "--ip=127.0.0.1",
        f"--port={plan.port}",
        "--api-ip=127.0.0.1",
        f"--api-port={plan.proxy_api_port}",
        f"--default-target=http://127.0.0.1:{plan.hub_port}",
        f"--error-target=http://127.0.0.1:{plan.hub_port}/hub/error",
    ]
    if plan.mode == "users":
        chp = namespace.wrap([*NOBODY, *chp], reach)
    proxy = _spawn(chp, plan.path("logs/proxy.log"), env, Path("/"))
    plan.path("proxy.pid").write_text(str(proxy.pid))
    hub = [sys.executable, "-m", "jupyterhub", "-f", str(plan.path("jupyterhub_config.py"))]
    if plan.mode == "users":
        hub = namespace.wrap(hub, reach)
    proc = _spawn(hub, plan.path("logs/hub.log"), env, plan.root)
    plan.path("hub.pid").write_text(str(proc.pid))
    _wait_for(plan, proc)


def _wait_for(plan: Plan, proc: subprocess.Popen) -> None:
    """Wait until the hub's API answers and the proxy routes the formgrader (the banner's
    link works when it is printed; the route comes some seconds after the API)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = plan.path("logs/hub.log").read_text(errors="replace").splitlines()[-5:]
            stop(plan)
            raise HubError(f"the hub exited with {proc.returncode}: {' | '.join(tail)}")
        if _answers(f"{plan.url}hub/api/") and formgrader_routed(plan):
            return
        time.sleep(0.5)  # polling through the proxy
    stop(plan)
    raise HubError(f"the hub did not answer within {START_TIMEOUT_S} s: see {plan.root}/logs")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


def formgrader_routed(plan: Plan) -> bool:
    """Whether the proxy sends the formgrader's URL to the service yet.

    Until it does, the hub answers in its place with a redirect to its own page of the service.
    """
    url = f"{plan.url}services/{COURSE_ID}/formgrader/"
    try:
        urllib.request.build_opener(_NoRedirect).open(url, timeout=2).close()
        return True
    except urllib.error.HTTPError as reply:
        target = urllib.parse.urlsplit(reply.headers.get("location") or "").path
        return 300 <= reply.code < 400 and not target.startswith("/hub/services/")
    except OSError:
        return False


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            try:
                os.waitpid(pid, os.WNOHANG)  # our own child, already exited
            except ChildProcessError:
                pass  # another's child: its parent reaps it
            return
        time.sleep(0.2)  # waiting for the process to finish its shutdown
    os.kill(pid, signal.SIGKILL)


def login_uids(plan: Plan) -> set[int]:
    """The uids of the hub's logins that exist as Unix users (``users`` mode)."""
    import pwd

    uids = set()
    for name in plan.logins:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    return uids


def leftovers(plan: Plan) -> list[int]:
    """Processes still running as one of the hub's Unix users (``users`` mode)."""
    uids = login_uids(plan)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def stop(plan: Plan, remove_users: bool = False) -> None:
    """Stop the hub (it stops every server and service first), then the proxy."""
    for name, marker in (("hub.pid", "jupyterhub"), ("proxy.pid", "configurable-http-proxy")):
        pid = _alive(plan.path(name), marker)
        if pid:
            _terminate(pid)
        plan.path(name).unlink(missing_ok=True)
    if plan.mode == "users":
        for pid in leftovers(plan):  # a server the hub lost track of: started by this hub
            _terminate(pid)
    if remove_users:
        for name in plan.created_users:
            accounts.remove_user(name)
        plan.created_users = []
        plan.save()


def exec_argv(plan: Plan, user: str, argv: list[str]) -> tuple[list[str], dict, Path]:
    """``argv`` as login ``user`` (its uid in ``users`` mode), in the hub's mount namespace.

    Returns:
        The command, its environment and its working folder (the course for the instructor).
    """
    if user not in plan.logins:
        raise HubError(f"no login {user!r} on this hub (logins: {', '.join(plan.logins)})")
    home = plan.home(user)
    env = {
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "PATH": f"{Path(plan.python).parent}:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "DS4023_EXCHANGE": str(plan.exchange),
        "MPLBACKEND": "Agg",
        "JUPYTER_CONFIG_PATH": config.jupyter_config_path(plan, user),
    }
    cwd = plan.course if user == plan.instructor else home
    if plan.mode == "users":
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *argv]
        pid = _alive(plan.path("hub.pid"), "jupyterhub")
        if pid:
            argv = namespace.enter(pid, argv, cwd)
    return argv, env, cwd


def banner(plan: Plan) -> str:
    """The one line ``make hub`` prints: where, who, which password, where the formgrader is."""
    students = plan.students[0] + (f"..{plan.students[-1]}" if len(plan.students) > 1 else "")
    return (
        f"JupyterHub at {plan.url} ({plan.mode} mode): log in as {plan.instructor} (instructor, "
        f"formgrader at {plan.url}services/{COURSE_ID}/formgrader) or {students} (students), "
        f"password {plan.password}; make hub-stop stops it"
    )
