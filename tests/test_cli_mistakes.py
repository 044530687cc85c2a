"""Tests for the ``ds4023`` command's first hour: each mistake is one line, help reads plainly.

Every case of issue 26 runs the installed command line in a subprocess against a small course
made in ``tmp_path`` and asserts the exit status and the one ``error:`` line (what to change).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from ds4023 import cli
from tests.helpers import COURSE_ROOT


def _course(tmp_path):
    """A course folder with two assignments in source/ and one student's submission."""
    course = tmp_path / "course"
    for name in ("backprop", "mlp_from_scratch"):
        (course / "source" / name).mkdir(parents=True)
        (course / "source" / name / f"{name}.ipynb").write_text("{}")
    (course / "release" / "backprop").mkdir(parents=True)
    (course / "release" / "backprop" / "backprop.ipynb").write_text("{}")
    (course / "submitted" / "correct" / "backprop").mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", course)
    (course / "roster.csv").write_text("id,first_name,last_name,email\ns01,Ada,Lovelace,a@x\n")
    with zipfile.ZipFile(course / "canvas.zip", "w") as zf:
        zf.writestr("lovelaceada_40117_1234_backprop.ipynb", "{}")
    return course


def _run(course, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DS4023_")}
    environ.update({"PYTHONPATH": str(COURSE_ROOT), "MPLBACKEND": "Agg", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "ds4023.cli", *args],
        capture_output=True,
        text=True,
        cwd=course,
        env=environ,
        timeout=120,
    )


#: (name, environment, arguments, what the one line must say, what it must not).
MISTAKES = [
    ("cell timeout", {"DS4023_CELL_TIMEOUT": "abc"}, ["grade"],
     "DS4023_CELL_TIMEOUT='abc' is not a whole number", "int"),
    ("cell timeout, settings", {"DS4023_CELL_TIMEOUT": "abc"}, ["settings"],
     "DS4023_CELL_TIMEOUT='abc' is not a whole number", None),
    ("late penalty", {"DS4023_LATE_PENALTY": "bogus"}, ["grade"],
     "DS4023_LATE_PENALTY='bogus' is not allowed: set it to none, zero, N%", "nbgrader_config"),
    ("max MB", {"DS4023_MAX_SUBMISSION_MB": "-5"}, ["grade"],
     "DS4023_MAX_SUBMISSION_MB='-5' is not allowed: set it to a number above 0", "--max"),
    ("engine", {"DS4023_GRADING_ENGINE": "spark"}, ["grade"],
     "DS4023_GRADING_ENGINE='spark' is not allowed: set it to one of dask, local", None),
    ("hook", {"DS4023_GRADING_HOOK": "nocolon"}, ["grade"],
     "DS4023_GRADING_HOOK='nocolon' is not allowed: set it to module:function", None),
    ("unknown assignment", {}, ["grade", "--assignment", "nosuch"],
     "no assignment 'nosuch' in this course: use --assignment backprop or mlp_from_scratch", None),
    ("unknown student", {}, ["grade", "--student", "nobody"], "no student 'nobody' in", None),
    ("path as student", {}, ["grade", "--student", "../correct"],
     "--student '../correct' is not a student id", None),
    ("student without that assignment", {},
     ["grade", "--student", "correct", "--assignment", "mlp_from_scratch"],
     "correct has submitted nothing for mlp_from_scratch", None),
    ("workers", {}, ["grade", "--workers", "0"], "--workers must be at least 1", None),
    ("timeout flag", {}, ["grade", "--submission-timeout", "-1"],
     "--submission-timeout must be a number of seconds above 0", None),
    ("unknown option", {}, ["grade", "--bogus"],
     "unrecognized arguments: --bogus: see `ds4023 grade --help`", "usage:"),
    ("report assignment", {}, ["report", "--assignment", "nosuch"], "no assignment 'nosuch'", None),
    ("feedback assignment", {}, ["feedback", "--assignment", "nosuch"],
     "no assignment 'nosuch'", None),
    ("export assignment", {}, ["export", "--lms", "canvas", "--assignment", "nosuch"],
     "no assignment 'nosuch'", None),
    ("export without --lms", {}, ["export", "--assignment", "backprop"],
     "the following arguments are required: --lms: see `ds4023 export --help`", "usage:"),
    ("missing zip", {}, ["collect", "--lms", "canvas", "--zip", "gone.zip", "--assignment",
     "backprop"], "no file gone.zip: pass the zip the LMS downloaded (--zip)", None),
    ("roster without lms_user_id", {}, ["collect", "--lms", "canvas", "--zip", "canvas.zip",
     "--assignment", "backprop"], "roster.csv gives no student an lms_user_id", "add the student"),
    ("release-feedback assignment", {}, ["exchange", "release-feedback", "nosuch"],
     "no assignment 'nosuch'", None),
    ("unknown subcommand", {}, ["grde"], "no command 'grde': use one of data, release", None),
]  # fmt: skip


@pytest.mark.parametrize(
    "env, args, says, not_says", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_is_one_line_naming_the_fix_and_a_failure(tmp_path, env, args, says, not_says):
    """Does the mistake exit 2 with one ``error:`` line that says what to change, no traceback,
    and nothing on stdout?"""
    done = _run(_course(tmp_path), *args, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert says in lines[0]
    assert not_says is None or not_says not in lines[0]
    assert done.stdout == ""


#: The subcommands and the usage line each must start with (exchange's own subcommands too).
HELPS = [[name] for name in cli.COMMANDS] + [["exchange", "init"], ["exchange", "release-feedback"]]


@pytest.mark.parametrize("command", HELPS, ids=[" ".join(c) for c in HELPS])
def test_help_names_the_subcommand_and_explains_every_option_in_plain_text(tmp_path, command):
    """Does ``ds4023 <command> --help`` print its usage as ``usage: ds4023 <command>``, help for
    every option, and no Sphinx markup?"""
    done = _run(_course(tmp_path), *command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: ds4023 {' '.join(command)} "), done.stdout[:80]
    assert ":class:" not in done.stdout and "``" not in done.stdout and ":func:" not in done.stdout
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^  -", line):  # an option: its help on the same line or the next one
            same = re.match(r"^  \S.*?\S  +\S", line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            assert same or nxt.startswith(" " * 8), f"no help for {line.strip()!r}"


def test_version_is_the_packages():
    """Does ``ds4023 --version`` print the installed package's version?"""
    done = _run(COURSE_ROOT, "--version")
    assert (
        done.returncode == 0 and done.stdout.strip() == f"ds4023, version {cli.package_version()}"
    )


def test_make_help_lists_every_target():
    """Does ``make help`` list every target the Makefile declares (but its internal check)?"""
    makefile = (COURSE_ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*?)(?<!\\)\n", makefile, re.M | re.S).group(1)
    targets = set(phony.replace("\\", " ").split()) - {"check-python"}
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(COURSE_ROOT), "help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    listed = set(re.findall(r"^  make (\S+)", done.stdout, re.M))
    assert done.returncode == 0 and listed == targets


def test_readme_lists_every_subcommand_and_how_long_the_two_commands_take():
    """Does the README name every subcommand, the time of make demo and make test, and where
    ../shared comes from?"""
    readme = (COURSE_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in cli.COMMANDS if f"| `ds4023 {name}` |" not in readme]
    assert not missing
    assert re.search(r"make demo   # about \d+ min", readme)
    assert re.search(r"make test   # about \d+ min", readme)
    assert "`../shared` is the course's" in readme


def test_roster_and_downloads_are_ignored_by_git(tmp_path):
    """Are roster.csv (names, emails) and an LMS download at the root ignored by git?"""
    done = subprocess.run(
        ["git", "-C", str(COURSE_ROOT), "check-ignore", "--no-index", "roster.csv", "x.zip"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["roster.csv", "x.zip"]
