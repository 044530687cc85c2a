"""Tests for the one ``ds4023`` command: every stage a subcommand, arguments passed through."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ds4023 import cli
from ds4023.settings import SETTINGS
from tests.helpers import COURSE_ROOT


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(COURSE_ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "ds4023.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_help_lists_every_stage_in_pipeline_order(capsys):
    """Does ``ds4023 --help`` name every subcommand with its one-line summary?"""
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"\n  {name} " in out, name
    assert set(cli.COMMANDS) >= {"data", "release", "sample-class", "grade", "feedback", "report"}
    assert set(cli.cli.commands) == set(cli.COMMANDS)


def test_every_subcommand_names_an_existing_main():
    """Does each subcommand's target resolve to a callable ``main`` (no typo waits for a user)?"""
    import importlib

    for name, (target, _summary) in cli.COMMANDS.items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def test_settings_subcommand_runs(capsys):
    """Does ``ds4023 settings`` print every setting and exit 0?"""
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    assert all(f"{s.name}=" in out for s in SETTINGS)


def test_arguments_reach_the_stage_untouched(monkeypatch):
    """Are the arguments after the subcommand handed to the stage's main as they were given?"""
    seen = []

    def fake_main(argv):
        seen.append(argv)
        return 3

    monkeypatch.setattr("ds4023.settings.main", fake_main)
    args = ["--help", "-x", "--course", "/some where", "a1", "--", "--weird=1"]
    assert cli.main(["settings", *args]) == 3  # the stage's exit status comes back too
    assert seen == [args]


def test_release_help_is_releases_own_help():
    """Does ``ds4023 release --help`` show release's own options, not the group's?"""
    done = _run("release", "--help")
    assert done.returncode == 0, done.stderr
    assert "--data-only" in done.stdout and "--course" in done.stdout
    assert "Commands:" not in done.stdout


def test_an_unknown_subcommand_is_one_line_and_a_failure():
    """Does a mistyped subcommand exit non-zero with one line naming it, and nothing else?"""
    done = _run("relase")
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "relase" in lines[0], done.stderr


@pytest.mark.parametrize("argv", [["relase"], ["grade-all", "--help"]])
def test_main_returns_the_failure_status_for_unknown_commands(argv, capsys):
    """Does main() return a non-zero status (not raise) for an unknown subcommand?"""
    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert argv[0] in err and "release" in err  # the name typed, and the ones that exist
