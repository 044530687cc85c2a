"""Command line of the course's hub: ds4023 hub start|stop|exec (make hub)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ds4023 import command_line
from ds4023.hub import run
from ds4023.hub.accounts import AccountError
from ds4023.hub.plan import DEFAULT_PROXY, DEFAULT_STATE, load


def _state(args) -> Path:
    return Path(args.state or os.environ.get("DS4023_HUB_DIR") or DEFAULT_STATE).resolve()


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it; one line on error, a non-zero status."""
    parser = command_line.parser(
        "hub",
        "The course on a JupyterHub on this machine: start it (prints its address and the demo "
        "logins), stop it, or run a command as one of its logins (make hub, make hub-stop).",
    )
    parser.add_argument("--state", help=f"the hub's folder (DS4023_HUB_DIR; {DEFAULT_STATE})")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("start", help="start the hub, print its address and logins")
    up.add_argument("--port", type=int, default=8000, help="public port on 127.0.0.1")
    up.add_argument("--students", type=int, default=3, help="how many student logins")
    up.add_argument("--student-prefix", default="student", help="student logins: PREFIX1..N")
    up.add_argument("--instructor", default="instructor", help="the instructor's login")
    up.add_argument("--cull-timeout", type=int, default=3600, help="idle seconds before culling")
    up.add_argument("--proxy-bin", default=str(DEFAULT_PROXY), help="configurable-http-proxy's bin")
    up.add_argument(
        "--single-user", action="store_true", help="every server as this Unix user (no root)"
    )
    down = sub.add_parser("stop", help="stop the hub, its servers, services and proxy")
    down.add_argument("--remove-users", action="store_true", help="delete the Unix users made")
    ex = sub.add_parser("exec", help="run a command as a login (e.g. grade as the instructor)")
    ex.add_argument("user", help="the login")
    ex.add_argument("argv", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    state = _state(args)
    try:
        if args.command == "start":
            if args.students < 1:
                parser.error("--students must be 1 or more")
            plan = run.make_plan(state, args)
            run.start(plan)
            print(run.banner(plan))
            return 0
        plan = load(state)
        if plan is None:
            print(f"no hub was started from {state}: nothing to do", file=sys.stderr)
            return 0 if args.command == "stop" else 1
        if args.command == "stop":
            run.stop(plan, remove_users=args.remove_users)
            print(f"hub at {plan.url} stopped")
            return 0
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            parser.error("exec needs a command: ds4023 hub exec instructor -- ds4023 grade")
        cmd, env, cwd = run.exec_argv(plan, args.user, command)
        return subprocess.run(cmd, env=env, cwd=cwd).returncode
    except (run.HubError, AccountError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
