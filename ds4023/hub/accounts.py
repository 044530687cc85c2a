"""The hub's logins on this machine: Unix users (as root) or folders (single-user mode), and the
instructor's copy of the course."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from ds4023.hub.plan import CHECKOUT, Plan

#: What the instructor's course directory is made of (as tests/helpers copies it), and the
#: README whose tables give the grade's terms on feedback pages.
COURSE_FILES = ("nbgrader_config.py", "source", "release", "README.md")


class AccountError(Exception):
    """A login cannot be set up; the message says why and what to do."""


def _uid(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def ensure_user(name: str, home: Path) -> bool:
    """Create the Unix user ``name`` with its home at ``home``, unless it exists with that home.

    Returns:
        True when the user was created now.

    Raises:
        AccountError: a user of that name exists with another home, or useradd failed.
    """
    entry = _uid(name)
    if entry is not None:
        if Path(entry.pw_dir) != home:
            raise AccountError(
                f"Unix user {name} exists with home {entry.pw_dir}, not {home}: choose other "
                "logins (--instructor, --student-prefix) or remove that user"
            )
        created = False
    else:
        argv = ["useradd", "--no-create-home", "--home-dir", str(home)]
        argv += ["--shell", "/usr/sbin/nologin", "--user-group", "--no-log-init", name]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AccountError(f"useradd {name} failed: {proc.stderr.strip()}")
        entry = pwd.getpwnam(name)
        created = True
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return created


def remove_user(name: str) -> None:
    """Delete a Unix user ``start`` created (its home goes with the state folder)."""
    if _uid(name) is not None:
        subprocess.run(["userdel", "--force", name], capture_output=True, check=False)


def chown_tree(top: Path, name: str) -> None:
    """Give ``top`` and everything below it to the Unix user ``name``."""
    entry = pwd.getpwnam(name)
    for path in [top, *top.rglob("*")]:
        os.lchown(path, entry.pw_uid, entry.pw_gid)


def copy_course(dest: Path) -> Path:
    """The instructor's course directory: this checkout's config, source, release and data."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        src = CHECKOUT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    (dest / "data").mkdir(exist_ok=True)
    for mat in (CHECKOUT / "data").glob("*.mat"):
        shutil.copy2(mat, dest / "data" / mat.name)
    return dest


def set_up(plan: Plan) -> list[str]:
    """Homes for every login (Unix users in ``users`` mode) and the instructor's course.

    Returns:
        The Unix users created now.
    """
    (plan.root / "homes").mkdir(parents=True, exist_ok=True)
    (plan.root / "homes").chmod(0o711)
    created = []
    for name in plan.logins:
        home = plan.home(name)
        if plan.mode == "users":
            if ensure_user(name, home):
                created.append(name)
        else:
            home.mkdir(parents=True, exist_ok=True)
    if not (plan.course / "nbgrader_config.py").is_file():
        copy_course(plan.course)
        # the gradebook's assignments (the formgrader lists and releases these)
        release = [plan.python, "-m", "ds4023.cli", "release", "--course", str(plan.course)]
        proc = subprocess.run(release, cwd=plan.course, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AccountError(f"ds4023 release in {plan.course} failed: {proc.stderr.strip()}")
        if plan.mode == "users":
            chown_tree(plan.course, plan.instructor)
    return created
