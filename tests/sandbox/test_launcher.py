"""Tests for the sandbox launcher's own logic: what the kernel may see, its command and env.

Nothing here starts bubblewrap: the bwrap command line is built (``_plan``) and read back, and
``main`` is run only as far as its checks of the configuration and the connection file.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from ds4023.sandbox import launcher
from ds4023.sandbox.launcher import (
    CONNECTION_FILE,
    EXIT_SETUP,
    UID_BASE,
    Plan,
    SetupError,
    _check_hidden,
    _exposed,
    _kernel_command,
    _kernel_env,
    _plan,
)

LIMITS = {
    "address_space_bytes": 3 << 30,
    "processes": 256,
    "file_bytes": 200 << 20,
    "open_files": 1024,
    "cpu_seconds": None,
    "tmp_bytes": 1 << 20,
    "workdir_copy_bytes": 1 << 20,
    "memory_bytes": 4 << 30,
    "cpu_cores": 1.0,
}
CONN = {"ip": "127.0.0.1", "transport": "tcp", "shell_port": 1, "iopub_port": 2}


def config(workdir, **extra) -> dict:
    """A sandbox.json as write_kernelspec writes it (paths made up, nothing is run)."""
    cfg = {
        "python": "/venv/bin/python",
        "venv": "/venv",
        "workdir": str(workdir),
        "expose": ["*"],
        "readonly_paths": ["/usr"],
        "masked_paths": [],
        "hidden_paths": ["/srv/course"],
        "network": "auto",
        "output_bytes": 1000,
        "protect_files": True,
        "seccomp": None,
        "limits": dict(LIMITS),
        "bwrap": "/usr/bin/bwrap",
        "bwrap_disable_userns": False,
        "prlimit": "/usr/bin/prlimit",
        "setpriv": "/usr/bin/setpriv",
        "cgroup": None,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def as_user(monkeypatch):
    """Run the launcher's logic as an unprivileged user (uid 1000)."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)


@pytest.fixture
def workdir(tmp_path):
    """A kernel folder: data, a notebook, checkpoints, a symlink out, a nested folder."""
    work = tmp_path / "autograded" / "s1" / "a1"
    (work / "sub").mkdir(parents=True)
    (work / ".ipynb_checkpoints").mkdir()
    (work / "data.csv").write_text("1,2\n")
    (work / "a1.ipynb").write_text("{}")
    (work / ".ipynb_checkpoints" / "a1-checkpoint.ipynb").write_text("{}")
    (work / "sub" / "more.txt").write_text("x")
    (work / "escape").symlink_to("/etc/passwd")
    return work


def _targets(plan: Plan, flag: str) -> list[str]:
    """The target paths that follow ``flag`` in the bwrap arguments (last argument of each)."""
    width = {"--file": 2, "--ro-bind-data": 2, "--ro-bind": 2, "--tmpfs": 1, "--dir": 1}[flag]
    return [plan.args[i + width] for i, a in enumerate(plan.args) if a == flag]


@pytest.mark.parametrize(
    "rel, patterns, shown",
    [
        ("data.csv", ["*"], True),
        ("sub/data.csv", ["*.csv"], True),
        ("sub/data.csv", ["sub/*"], True),
        ("a1.ipynb", ["*"], False),
        ("sub/x.ipynb", ["*.ipynb"], False),
        ("notes.txt", ["*.csv"], False),
        (".ipynb_checkpoints", ["*"], False),
    ],
)
def test_only_matching_files_and_never_notebooks_are_exposed(rel, patterns, shown):
    """Is a file shown only when it matches a pattern, and a notebook never?"""
    assert _exposed(rel, patterns) is shown


@pytest.mark.parametrize(
    "hidden, visible",
    [(["/srv/course"], ["/srv"]), (["/srv/course"], ["/srv/course"]), (["/a/b"], ["/a/"])],
)
def test_a_hidden_path_under_a_visible_one_is_refused(hidden, visible):
    """Is a plan that would show a hidden path (itself or a parent of it) refused?"""
    with pytest.raises(SetupError, match="would be visible"):
        _check_hidden(hidden, visible)


def test_siblings_of_hidden_paths_may_be_shown():
    """Is ``/srv/course-data`` allowed while ``/srv/course`` is hidden (no prefix confusion)?"""
    _check_hidden(["/srv/course"], ["/srv/course-data", "/usr", "/srv/cours"])


def test_plan_copies_data_but_no_notebook_or_symlink(workdir, as_user):
    """Does the kernel's folder get the data files only: no notebook, checkpoint or symlink?"""
    plan = _plan(config(workdir), CONN, str(workdir), net=False, ipc_dir=None)
    try:
        copied = _targets(plan, "--ro-bind-data")
        assert str(workdir / "data.csv") in copied
        assert str(workdir / "sub" / "more.txt") in copied
        assert CONNECTION_FILE in copied
        text = " ".join(plan.args)
        assert "a1.ipynb" not in text and "checkpoint" not in text and "escape" not in text
        assert plan.args[0] == "/usr/bin/bwrap"
        assert "--unshare-user" in plan.args and "--cap-drop" in plan.args
        assert "--unshare-net" not in plan.args
        assert plan.args[-4:] == ["--remount-ro", "/", "--chdir", os.getcwd()]
        assert str(workdir / "sub") in _targets(plan, "--tmpfs")  # protected: read-only
        assert plan.args.index("/tmp") < plan.args.index("/usr")  # /tmp before what lies below
    finally:
        plan.close()
    assert plan.fds == []


def test_unprotected_copies_are_plain_writable_files(workdir, as_user):
    """Without protect_files, are copies --file entries in plain folders (kernel may edit)?"""
    plan = _plan(config(workdir, protect_files=False), CONN, str(workdir), False, None)
    try:
        assert str(workdir / "data.csv") in _targets(plan, "--file")
        assert str(workdir / "sub") in _targets(plan, "--dir")
    finally:
        plan.close()


def test_a_folder_too_large_to_copy_is_refused(workdir, as_user):
    """Does a kernel folder larger than workdir_copy_bytes stop the sandbox before it starts?"""
    (workdir / "big.bin").write_bytes(b"\0" * 2048)
    cfg = config(workdir)
    cfg["limits"]["workdir_copy_bytes"] = 1024
    with pytest.raises(SetupError, match="more than allowed"):
        _plan(cfg, CONN, str(workdir), False, None)


def test_plan_refuses_hidden_paths_again(workdir, as_user):
    """Does the launcher recheck hidden paths itself (the config file could be stale)?"""
    cfg = config(workdir, hidden_paths=["/usr/lib"])
    with pytest.raises(SetupError, match="would be visible"):
        _plan(cfg, CONN, str(workdir), False, None)


def test_network_isolation_and_seccomp_reach_bwrap(workdir, as_user):
    """With net, is --unshare-net passed, and the seccomp program given as a descriptor?"""
    cfg = config(workdir, seccomp=b"\x06\x00\x00\x00\x00\x00\xff\x7f".hex())
    plan = _plan(cfg, CONN, str(workdir), net=True, ipc_dir=None)
    try:
        assert "--unshare-net" in plan.args
        fd = int(plan.args[plan.args.index("--seccomp") + 1])
        assert os.pread(fd, 64, 0) == bytes.fromhex(cfg["seccomp"])
    finally:
        plan.close()


def test_root_keeps_only_the_capabilities_setpriv_needs(workdir, as_root):
    """As root (no user namespace), are only setuid/setgid/setpcap kept for the uid switch?"""
    plan = _plan(config(workdir), CONN, str(workdir), False, None)
    try:
        kept = [plan.args[i + 1] for i, a in enumerate(plan.args) if a == "--cap-add"]
        assert sorted(kept) == ["CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID"]
        assert "--unshare-user" not in plan.args
    finally:
        plan.close()


def test_parents_are_made_world_traversable_once():
    """Are missing parent folders created 0755 once each, and none inside a mount?"""
    plan = Plan("bwrap")
    plan.mount("--ro-bind", "/opt/venv", "/opt/venv")
    plan.parents("/opt/venv/lib/x")  # inside the mount: nothing to make
    plan.parents("/root/.pyenv/bin/python")
    dirs = [plan.args[i + 3] for i, a in enumerate(plan.args) if a == "--perms"]
    assert dirs == ["/opt", "/root", "/root/.pyenv", "/root/.pyenv/bin"]
    assert plan.args.count("755") == 4


def test_kernel_command_sets_every_limit_inside_the_sandbox(as_user):
    """Is the kernel started under prlimit with each limit, and no core files?"""
    cfg = config("/w")
    cfg["limits"]["cpu_seconds"] = 60
    command = _kernel_command(cfg, ["--extra"])
    assert command[0] == "/usr/bin/prlimit"
    assert f"--as={LIMITS['address_space_bytes']}" in command
    assert "--nproc=256" in command and "--core=0" in command and "--cpu=60" in command
    assert command[command.index("--") + 1 :] == [
        "/venv/bin/python",
        "-m",
        "ipykernel_launcher",
        "-f",
        CONNECTION_FILE,
        "--extra",
    ]


def test_no_cpu_limit_leaves_out_the_option(as_user):
    """Is an unset cpu_seconds left out rather than passed as 'None'?"""
    command = _kernel_command(config("/w"), [])
    assert not any(a.startswith("--cpu") for a in command) and "None" not in " ".join(command)


def test_root_switches_to_a_throw_away_uid(as_root):
    """As root, does setpriv drop to UID_BASE + pid with no groups or capabilities?"""
    command = _kernel_command(config("/w"), [])
    uid = str(UID_BASE + os.getpid())
    assert command[0] == "/usr/bin/setpriv"
    assert command[1:5] == ["--reuid", uid, "--regid", uid]
    assert "--clear-groups" in command and "--bounding-set=-all" in command
    assert command.index("/usr/bin/prlimit") > command.index("--bounding-set=-all")


def test_kernel_env_keeps_only_the_allowed_variables(monkeypatch):
    """Does the kernel get locale, thread counts and MPLBACKEND, but no secret or DS4023_*?"""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("DS4023_DB_URL", "postgresql://grader:pw@db/x")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("KEEP_ME", "yes")
    env = _kernel_env(config("/w", env_keep=["KEEP_ME"]))
    assert "AWS_SECRET_ACCESS_KEY" not in env and "DS4023_DB_URL" not in env
    assert env["OMP_NUM_THREADS"] == "1" and env["LC_ALL"] == "C.UTF-8"
    assert env["MPLBACKEND"] == "Agg" and env["KEEP_ME"] == "yes"
    assert env["HOME"] == "/tmp" and env["PATH"].startswith("/venv/bin:")
    assert env["PYTHONNOUSERSITE"] == "1" and env["USER"] == "student"


def test_data_descriptors_hold_the_payload_and_are_closed(tmp_path):
    """Does Plan.data give bwrap a readable descriptor, closed by Plan.close?"""
    plan = Plan("bwrap")
    fd = plan.data(b"x" * 100_000, "big")
    assert os.pread(fd, 200_000, 0) == b"x" * 100_000
    plan.close()
    with pytest.raises(OSError):
        os.fstat(fd)


def _write(tmp_path, cfg: dict, conn: dict) -> list[str]:
    (tmp_path / "sandbox.json").write_text(json.dumps(cfg))
    (tmp_path / "conn.json").write_text(json.dumps(conn))
    return [str(tmp_path / "sandbox.json"), "-f", str(tmp_path / "conn.json")]


def test_main_usage_error(capsys):
    """Does a wrong command line print the usage and return 2?"""
    assert launcher.main(["only-config"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_main_refuses_to_start_outside_its_folder(tmp_path, workdir, monkeypatch, capsys):
    """Does the launcher refuse a kernel whose working directory is outside ``workdir``?"""
    argv = _write(tmp_path, config(workdir), CONN)
    monkeypatch.chdir(tmp_path)
    assert launcher.main(argv) == EXIT_SETUP
    assert "not inside" in capsys.readouterr().err


def test_main_refuses_a_sibling_folder_with_the_same_prefix(tmp_path, workdir, monkeypatch):
    """Is ``<workdir>-other`` refused (a prefix match is not being inside)?"""
    other = workdir.with_name(workdir.name + "-other")
    other.mkdir()
    monkeypatch.chdir(other)
    assert launcher.main(_write(tmp_path, config(workdir), CONN)) == EXIT_SETUP


def test_main_isolated_network_needs_ipc(tmp_path, workdir, monkeypatch, capsys):
    """Does network 'isolate' with a tcp connection stop before anything starts?"""
    monkeypatch.chdir(workdir)
    assert launcher.main(_write(tmp_path, config(workdir, network="isolate"), CONN)) == EXIT_SETUP
    assert "needs transport 'ipc'" in capsys.readouterr().err


def test_main_ipc_prefix_must_be_an_absolute_existing_folder(
    tmp_path, workdir, monkeypatch, capsys
):
    """Is a relative or missing ipc socket folder one clear error?"""
    monkeypatch.chdir(workdir)
    conn = {**CONN, "transport": "ipc", "ip": "kernel"}
    assert launcher.main(_write(tmp_path, config(workdir), conn)) == EXIT_SETUP
    assert "must be an absolute path" in capsys.readouterr().err


def test_main_reports_a_plan_it_cannot_build(tmp_path, workdir, monkeypatch, capsys, as_user):
    """Does a hidden path in view stop the launcher with EXIT_SETUP and the reason, no bwrap?"""
    monkeypatch.chdir(workdir)
    cfg = config(workdir, hidden_paths=[str(workdir / "data.csv")], bwrap="/nonexistent/bwrap")
    assert launcher.main(_write(tmp_path, cfg, CONN)) == EXIT_SETUP
    assert "cannot build the sandbox" in capsys.readouterr().err


@pytest.mark.parametrize("status, code", [(0, 0), (3 << 8, 3), (9, 128 + 9), (15, 128 + 15)])
def test_exit_code_is_a_shells(status, code):
    """Is a kernel killed by signal N reported as 128 + N, like a shell does?"""
    assert launcher._exit_code(status) == code


def test_copied_files_keep_their_execute_bits_but_not_write(workdir, as_user):
    """Is a protected copy read-only (0444, 0555 if executable) whatever its host mode?"""
    script = workdir / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o775)
    plan = _plan(config(workdir), CONN, str(workdir), False, None)
    try:
        i = plan.args.index(str(script))
        assert plan.args[i - 4 : i - 2] == ["--perms", "555"]
        j = plan.args.index(str(workdir / "data.csv"))
        mode = stat.S_IMODE((workdir / "data.csv").stat().st_mode)
        assert plan.args[j - 4 : j - 2] == ["--perms", f"{mode & 0o555 | 0o444:o}"]
    finally:
        plan.close()
