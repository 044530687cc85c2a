"""The one ``ds4023`` command: a subcommand per pipeline stage, each the stage's own ``main``.

Each subcommand hands its arguments, untouched, to the ``main(argv)`` of the module that
implements the stage, so ``ds4023 grade --help`` is that stage's own help (argparse, through
``ds4023/command_line.py``: usage ``ds4023 grade ...``, one-line errors). Modules are imported
only when their subcommand runs: ``ds4023 data`` does not load the grader. The group itself
(``ds4023 --help``, ``--version``) is click's. Before any stage runs, every ``DS4023_*``
setting is checked, so a bad value is one line naming the variable; Ctrl-C and SIGTERM stop a
stage with one line too (a stage that keeps partial work, like ``grade``, says what it kept).
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from ds4023 import command_line, settings

#: subcommand -> (module:function, one line of help). Stages in pipeline order.
COMMANDS = {
    "data": ("ds4023.data.build:main", "build data/ (ex4data1.mat from MNIST, ex4weights.mat)"),
    "release": ("ds4023.release:main", "generate release/ from source/ with nbgrader"),
    "exchange": (
        "ds4023.collect.exchange:main",
        "nbgrader's exchange: create its root (init), release feedback (release-feedback)",
    ),
    "sample-class": (
        "ds4023.sample_class.students:main",
        "write the made-up sample class into submitted/",
    ),
    "collect": ("ds4023.collect:main", "unpack a Canvas or Moodle download into submitted/"),
    "grade": (
        "ds4023.pipeline:main",
        "grade everything in submitted/, then feedback pages and reports",
    ),
    "feedback": ("ds4023.feedback.command:main", "(re)build the feedback pages in feedback/"),
    "report": ("ds4023.report.grades:main", "(re)write reports/: grades CSV, report, charts"),
    "export": ("ds4023.export:main", "grades (and feedback pages) out to Canvas or Moodle"),
    "hub": ("ds4023.hub.__main__:main", "the course on a JupyterHub: start, stop, exec (make hub)"),
    "settings": ("ds4023.settings:main", "print every DS4023_* setting and its value"),
}


def package_version() -> str:
    """The installed ds4023 package's version (``0+unknown`` when run from an uninstalled copy)."""
    try:
        return version("ds4023")
    except PackageNotFoundError:
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version(), "-V", "--version", prog_name="ds4023")
def cli() -> None:
    """DS4023 course package: data -> release -> grade -> feedback -> report.

    `ds4023 COMMAND --help` shows a command's options; `ds4023 settings` lists the DS4023_*
    environment variables every command reads.
    """


def _call(target: str, argv: list[str]) -> int:
    """Run ``module:function`` with ``argv``; its status (None counts as 0)."""
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)(argv) or 0


def _forwarding(name: str, target: str, summary: str) -> click.Command:
    """A subcommand that passes its arguments to ``target`` and exits with its status."""

    @click.pass_context
    def run(ctx: click.Context) -> None:
        ctx.exit(_call(target, list(ctx.args)))

    return click.Command(
        name,
        callback=run,
        help=f"{summary[0].upper()}{summary[1:]} (`ds4023 {name} --help` for its options).",
        short_help=summary,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


for _name, (_target, _summary) in COMMANDS.items():
    cli.add_command(_forwarding(_name, _target, _summary))


def main(argv: list[str] | None = None) -> int:
    """Run the ``ds4023`` command line.

    Args:
        argv: the arguments after ``ds4023`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status of the subcommand (0 on success).
    """
    args = list(argv if argv is not None else sys.argv[1:])
    try:
        if args and not args[0].startswith("-"):
            return _subcommand(args[0], args[1:])
        cli.main(args=args, prog_name="ds4023")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def _subcommand(name: str, args: list[str]) -> int:
    """Run one subcommand with its arguments exactly as typed (click would eat a "--")."""
    if name not in COMMANDS:
        print(
            f"error: no command {name!r}: use one of {', '.join(COMMANDS)} (`ds4023 --help`)",
            file=sys.stderr,
        )
        return 2
    try:
        command_line.stop_on_sigterm()
        settings.current()  # every DS4023_* setting checked before the stage starts
        return _call(COMMANDS[name][0], args)
    except settings.SettingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        return command_line.stopped(
            err,
            f"ds4023 {name}",
            "what it finished before the stop is kept",
            f"run `ds4023 {name}` again to finish",
        )


if __name__ == "__main__":
    sys.exit(main())
