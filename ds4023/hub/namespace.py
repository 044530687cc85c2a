"""Let other Unix users run this venv when its interpreter sits in a private folder.

pyenv keeps interpreters below root's home (0700), which no student's server could run. When a
folder above the interpreter, the checkout or the hub's state is closed to others, the hub and
the proxy start in a private mount namespace (``unshare``) where that folder is an empty tmpfs
with only those paths mounted back at their own places: nothing else of it becomes visible.
``ds4023 hub exec`` enters the same namespace (``nsenter``). No maintained tool does this; it is
the same few mount calls as ``tests/sandbox/test_unprivileged.py``.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path


def closed_ancestor(path: str | Path) -> Path | None:
    """The highest folder above ``path`` that others cannot enter, or None."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        folder = Path(*parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def mount_lines(needed: list[Path]) -> list[str]:
    """Shell lines that make each of ``needed`` reachable by others (none when all are)."""
    needed = [Path(os.path.realpath(p)) for p in needed]
    outer = [p for p in needed if not any(q != p and q in p.parents for q in needed)]
    by_folder: dict[Path, list[Path]] = {}
    for path in sorted(set(outer)):
        closed = closed_ancestor(path)
        if closed is not None:
            by_folder.setdefault(closed, []).append(path)
    q = shlex.quote
    lines = []
    for n, (closed, paths) in enumerate(sorted(by_folder.items())):
        lines.append(f'keep{n}="$(mktemp -d)"')
        for i, path in enumerate(paths):
            lines += [f'mkdir "$keep{n}/{i}"', f'mount --bind {q(str(path))} "$keep{n}/{i}"']
        lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {q(str(closed))}")
        for i, path in enumerate(paths):
            lines += [f"mkdir -p {q(str(path))}", f'mount --move "$keep{n}/{i}" {q(str(path))}']
    return lines


def needed_paths(extra: list[Path]) -> list[Path]:
    """What users' processes must reach: the interpreter's installation and ``extra``."""
    return [Path(sys.base_prefix), Path(sys.prefix), *extra]


def wrap(argv: list[str], extra: list[Path]) -> list[str]:
    """``argv`` started in a private mount namespace if some needed path is closed to others."""
    lines = mount_lines(needed_paths(extra))
    if not lines:
        return argv
    script = "\n".join(["set -e", *lines, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def enter(pid: int, argv: list[str], cwd: Path) -> list[str]:
    """``argv`` run in ``cwd`` in the mount namespace of process ``pid`` (the hub's).

    The folder is entered after joining the namespace (a working folder opened before would
    stay one of the old namespace, which ``getcwd`` cannot name).
    """
    if os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
        return argv
    inside = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", str(cwd), *argv]
    return ["nsenter", f"--target={pid}", "--mount", "--", *inside]
