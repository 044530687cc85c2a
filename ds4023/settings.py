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
    """

    name: str
    type: type
    default: object
    help: str


class SettingError(ValueError):
    """A variable is set to a value its type cannot hold."""


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
    Setting("DS4023_CELL_TIMEOUT", int, 180, "seconds one notebook cell may run during grading"),
    Setting(
        "DS4023_SUBMISSION_TIMEOUT",
        float,
        900.0,
        "seconds one whole submission may run before its kernel is killed",
    ),
    Setting(
        "DS4023_MAX_SUBMISSION_MB",
        float,
        50.0,
        "a submission whose notebooks and extra "
        "files add up to more is refused unread (--max-submission-mb)",
    ),
    Setting(
        "DS4023_SHARED_DATA",
        Path,
        None,
        "where ex4weights.mat is copied from (default: ../shared/data beside the course)",
    ),
    Setting("DS4023_GRADING_ENGINE", str, "dask", "where grading tasks run: dask or local"),
    Setting(
        "DS4023_GRADING_HOOK",
        str,
        None,
        "module:function that prepares each grading kernel (default: the bubblewrap sandbox)",
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
    ),
    Setting(
        "DS4023_DASK_WORKER_WAIT", float, 120.0, "seconds to wait for the first Dask worker to join"
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
    try:
        return setting.type(raw)
    except ValueError:
        raise SettingError(
            f"{name}={raw!r} is not a {setting.type.__name__}: set it to one, or unset it "
            f"for the default ({setting.default})"
        ) from None


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
    del argv
    for s in SETTINGS:
        print(f"{s.name}={get(s.name)!s:<12}  {s.help}")
    return 0
