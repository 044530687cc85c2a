"""Every setting of the course package, declared once: name, type, default and help.

The environment is read once, on first use (``current()``); the values are frozen after that,
so a long grading run cannot change its mind half-way. nbgrader reads ``nbgrader_config.py``
afresh for each command, and that file reads its two settings through ``read``.

The course directory is found from the working directory (the nearest folder, upwards, that
holds ``nbgrader_config.py``) or from ``DS4023_COURSE``; never from where this package is
installed, so one installed package serves any course copy.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"


@dataclass(frozen=True)
class Setting:
    """One environment variable the package reads.

    Attributes:
        name: the variable, ``DS4023_...``.
        type: ``str``, ``int``, ``float`` or ``Path``; the raw text is converted with it.
        default: the value when the variable is unset or empty (None: no value).
        help: one line for the README's settings table and ``ds4023 settings``.
        check: what a converted value must be, or None: returns None when the value will do,
            else what to set instead (e.g. ``"a number above 0"``).
    """

    name: str
    type: type
    default: object
    help: str
    check: Callable[[object], str | None] | None = None


class SettingError(ValueError):
    """A variable is set to a value its type cannot hold."""


#: How a value of each type is described in an error (``is not a whole number``).
TYPE_WORDS = {int: "a whole number", float: "a number", str: "text", Path: "a path"}

#: The late-penalty values (``ds4023.grading.late`` applies them; checked here, lightly).
LATE_PENALTY_HELP = "none, zero, N% (N percent off once) or N%/h (N percent off per started hour)"
LATE_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%(/h)?$")


def _above_zero(value) -> str | None:
    return None if value > 0 else "a number above 0"


def _one_of(*choices: str) -> Callable[[object], str | None]:
    def check(value) -> str | None:
        return None if value in choices else f"one of {', '.join(choices)}"

    return check


def _late_penalty(value) -> str | None:
    text = str(value).strip().lower()
    match = LATE_PERCENT.match(text)
    if text in ("none", "zero") or (match and float(match.group(1)) <= 100):
        return None
    return LATE_PENALTY_HELP


def _module_function(value) -> str | None:
    ok = re.fullmatch(r"[\w.]+:\w+", str(value))
    return None if ok else "module:function, e.g. ds4023.sandbox.kernelspec:prepare"


SETTINGS = (
    Setting(
        "DS4023_COURSE",
        Path,
        None,
        "the course directory (default: the nearest folder "
        "upwards from the working directory that holds nbgrader_config.py)",
    ),
    Setting(
        "DS4023_DB_URL",
        str,
        None,
        "the gradebook (default sqlite:///<course>/gradebook.db); "
        "a postgresql:// URL when several graders share it",
    ),
    Setting(
        "DS4023_CELL_TIMEOUT",
        int,
        180,
        "seconds one notebook cell may run during grading",
        _above_zero,
    ),
    Setting(
        "DS4023_SUBMISSION_TIMEOUT",
        float,
        900.0,
        "seconds one whole submission may run before its kernel is killed",
        _above_zero,
    ),
    Setting(
        "DS4023_MAX_SUBMISSION_MB",
        float,
        50.0,
        "a submission whose notebooks and extra "
        "files add up to more is refused unread (ds4023 grade --max-submission-mb)",
        _above_zero,
    ),
    Setting(
        "DS4023_SHARED_DATA",
        Path,
        None,
        "where ex4weights.mat is copied from (default: ../shared/data beside the course)",
    ),
    Setting(
        "DS4023_GRADING_ENGINE",
        str,
        "dask",
        "where grading tasks run: dask or local",
        _one_of("dask", "local"),
    ),
    Setting(
        "DS4023_GRADING_HOOK",
        str,
        None,
        "module:function that prepares each grading kernel (default: the bubblewrap sandbox)",
        _module_function,
    ),
    Setting(
        "DS4023_DASK_SCHEDULER",
        str,
        None,
        "address of a running Dask scheduler to grade "
        "on (default: an embedded cluster on this machine)",
    ),
    Setting(
        "DS4023_DASK_CONNECT_TIMEOUT",
        float,
        20.0,
        "seconds to wait for the Dask scheduler to answer",
        _above_zero,
    ),
    Setting(
        "DS4023_DASK_WORKER_WAIT",
        float,
        120.0,
        "seconds to wait for the first Dask worker to join",
        _above_zero,
    ),
    Setting(
        "DS4023_EXCHANGE",
        str,
        None,
        "nbgrader's exchange root, mode 0777 (`ds4023 exchange init`); "
        "default: nbgrader's /usr/local/share/nbgrader/exchange",
    ),
    Setting(
        "DS4023_LATE_PENALTY",
        str,
        "none",
        "what a late notebook loses: none, zero (nbgrader's LateSubmissionPlugin), "
        "N% (once) or N%/h (per started hour)",
        _late_penalty,
    ),
    Setting(
        "DS4023_CGROUP",
        str,
        None,
        "a cgroup v2 folder this user may write, delegated for "
        "per-sandbox memory and CPU limits (root uses its own)",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def read(name: str, environ: dict | None = None):
    """The typed value of one setting, read now from ``environ`` (``os.environ`` when None).

    Args:
        name: a name from SETTINGS.

    Returns:
        The converted value, or the setting's default when unset or empty.

    Raises:
        KeyError: when ``name`` is not declared in SETTINGS.
        SettingError: when the value cannot be converted, with the fix in the message.
    """
    setting = BY_NAME[name]
    raw = (os.environ if environ is None else environ).get(name, "")
    if raw == "":
        return setting.default
    default = "no value" if setting.default is None else setting.default
    try:
        value = setting.type(raw)
    except ValueError:
        raise SettingError(
            f"{name}={raw!r} is not {TYPE_WORDS[setting.type]} ({setting.help.split(' (')[0]}): "
            f"set it to one, or unset it for the default ({default})"
        ) from None
    wanted = setting.check(value) if setting.check else None
    if wanted is not None:
        raise SettingError(
            f"{name}={raw!r} is not allowed: set it to {wanted}, or unset it for the default "
            f"({default})"
        )
    return value


@functools.cache
def current() -> dict:
    """Every setting's value, read from the environment once (the first call)."""
    return {s.name: read(s.name) for s in SETTINGS}


def get(name: str):
    """The value of setting ``name`` as read by ``current()``."""
    return current()[name]


def find_course_root(start: Path | None = None) -> Path:
    """The course directory: ``DS4023_COURSE``, else the nearest ``nbgrader_config.py`` upwards.

    Args:
        start: where to start looking (default: the working directory).

    Returns:
        The folder; the working directory itself when no course is found (commands that need
        one then say so, see ``require_course``).
    """
    named = read("DS4023_COURSE")
    if named:
        return Path(named).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return here


def require_course(root: Path) -> Path:
    """Return ``root`` if it is a course directory; raise a one-line error otherwise.

    Raises:
        SettingError: when ``root`` holds no nbgrader_config.py.
    """
    if not (Path(root) / CONFIG_FILE).is_file():
        raise SettingError(
            f"{root} is not a course directory (no {CONFIG_FILE}): run this from the course "
            "folder or set DS4023_COURSE to it"
        )
    return Path(root)


#: The course directory this process works in (found once, at import).
COURSE_ROOT = find_course_root()


def table() -> str:
    """The settings as a Markdown table (the README's ``Settings`` section is this table)."""
    rows = ["| variable | default | what for |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = "—" if s.default is None else f"`{s.default}`"
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """``ds4023 settings``: print every setting, its current value and what it is for."""
    from ds4023 import command_line

    command_line.parser(
        "settings",
        "Print every DS4023_* environment variable the course package reads, its value now "
        "(or its default) and what it is for. Set them in the shell, e.g. "
        "`DS4023_CELL_TIMEOUT=300 ds4023 grade`.",
    ).parse_args(argv)
    for s in SETTINGS:
        print(f"{s.name}={get(s.name)!s:<12}  {s.help}")
    return 0
