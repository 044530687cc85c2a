"""Whether the grading sandbox can run here, and the limits it sets (rlimits, cgroups)."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from ds4023 import settings
from ds4023.sandbox.launcher import IPC_BYTES, UID_BASE

MiB = 2**20
GiB = 2**30
#: Name of the kernelspec that write_kernelspec creates unless told otherwise.
KERNEL_NAME = "ds4023-sandbox"


class SandboxUnavailable(RuntimeError):
    """This machine cannot build the sandbox (not Linux, no bubblewrap, no user namespaces)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (each process of it, unless stated otherwise).

    Attributes:
        address_space_bytes: RLIMIT_AS per process; a larger allocation raises MemoryError.
        processes: RLIMIT_NPROC inside the sandbox's own user namespace, i.e. all its processes
            and threads (and ``pids.max`` of its cgroup when there is one).
        file_bytes: RLIMIT_FSIZE, the largest file the kernel may write.
        open_files: RLIMIT_NOFILE.
        cpu_seconds: RLIMIT_CPU per process, or None for no limit (cell timeouts still apply).
        tmp_bytes: size of /tmp and /dev/shm each, and the room the kernel may add to its folder.
        workdir_copy_bytes: most that the kernel's folder may hold when it is copied in.
        memory_bytes: ``memory.max`` of the sandbox's cgroup (all its processes together).
        cpu_cores: ``cpu.max`` of the sandbox's cgroup, in cores.
    """

    address_space_bytes: int = 3 * GiB
    processes: int = 256
    file_bytes: int = 200 * MiB
    open_files: int = 1024
    cpu_seconds: int | None = None
    tmp_bytes: int = 256 * MiB
    workdir_copy_bytes: int = 1 * GiB
    memory_bytes: int = 4 * GiB
    cpu_cores: float = 1.0


#: What to do when the sandbox cannot run, the end of the one line that says why.
TRUSTED_ONLY = "or pass --unsafe-no-sandbox for trusted submissions only"
WHAT_TO_DO = f"grade on Linux with bubblewrap (a Linux VM will do), {TRUSTED_ONLY}"
log = logging.getLogger("ds4023.sandbox")


@functools.cache
def _bwrap() -> tuple[str | None, str]:
    """Path of bubblewrap and its --help text (the options it knows), or (None, "")."""
    path = shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None
    )
    if path is None:
        return None, ""
    try:
        out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None, ""
    return path, out.stdout + out.stderr


def _prlimit() -> str | None:
    found = shutil.which("prlimit")
    return found or ("/usr/bin/prlimit" if os.path.exists("/usr/bin/prlimit") else None)


def _try_bwrap(bwrap: str) -> str | None:
    """Run ``true`` in a minimal sandbox built the way the kernel's will be."""
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if os.geteuid() != 0:  # as root the sandbox needs no user namespace
        args.append("--unshare-user")
    for p in ("/usr", "/bin", "/lib", "/lib64", "/etc"):
        args += ["--ro-bind-try", p, p]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", "65536", "--tmpfs", "/tmp", "true"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd="/")
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if out.returncode == 0:
        return None
    return (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]


@functools.cache
def unavailable_reason() -> str | None:
    """Say in one line why the sandbox cannot run here and what to do, or None when it can.

    Returns:
        None if bubblewrap can build a sandbox for whoever runs this (root or not); otherwise
        one sentence naming the cause and the fix.
    """
    if sys.platform != "linux":
        name = {"darwin": "macOS", "win32": "Windows"}.get(sys.platform, sys.platform)
        return f"the grading sandbox needs Linux (bubblewrap, namespaces); this is {name}: " + (
            WHAT_TO_DO
        )
    bwrap, usage = _bwrap()
    if bwrap is None:
        return (
            "bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: sudo apt-get install "
            f"bubblewrap; Fedora: sudo dnf install bubblewrap), {TRUSTED_ONLY}"
        )
    if "--size" not in usage or "--ro-bind-data" not in usage:
        return (
            f"{bwrap} is too old to size a tmpfs: install bubblewrap 0.6 or later, {TRUSTED_ONLY}"
        )
    if _prlimit() is None or not shutil.which("setpriv") and os.geteuid() == 0:
        return (
            f"prlimit or setpriv (util-linux) is not installed: install util-linux, {TRUSTED_ONLY}"
        )
    failure = _try_bwrap(bwrap)
    if failure:
        return (
            f"bubblewrap cannot create user namespaces here ({failure[:160]}): allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
            "user.max_user_namespaces > 0; Ubuntu 24.04: an AppArmor profile for bwrap), grade "
            f"in a Linux VM, {TRUSTED_ONLY}"
        )
    return None


def _cgroup2_root() -> str | None:
    """Mount point of the cgroup v2 hierarchy, or None."""
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    for fields in mounts:
        if len(fields) > 2 and fields[2] == "cgroup2":
            return fields[1]
    return None


CGROUP_CONTROLLERS = ("cpu", "memory", "pids")


def cgroup_parent(delegated: str | None = None, root: str | None = None) -> tuple[str | None, str]:
    """Where per-sandbox cgroups go, and a few words on why none can be made when None.

    The parent is ``delegated`` (``DS4023_CGROUP``: a cgroup v2 folder this user may write and
    no process lives in, e.g. made inside ``systemd-run -p Delegate=yes``) or, as root, a
    ``ds4023-sandboxes`` group at the top of the cgroup v2 hierarchy. It must offer the cpu,
    memory and pids controllers; they are enabled for its children here.
    """
    delegated = delegated if delegated is not None else settings.get("DS4023_CGROUP")
    if delegated:
        parent = delegated
    elif os.geteuid() != 0:
        return None, "not root and no delegated cgroup (DS4023_CGROUP)"
    else:
        root = root or _cgroup2_root()
        if root is None:
            return None, "no cgroup v2 hierarchy mounted"
        parent = os.path.join(root, "ds4023-sandboxes")
    try:
        with open(os.path.join(os.path.dirname(parent.rstrip("/")), "cgroup.subtree_control")) as f:
            offered = f.read().split()
        missing = [c for c in CGROUP_CONTROLLERS if c not in offered]
        if missing and not delegated:
            return None, f"cgroup v2 here does not offer {'/'.join(missing)} (a cgroup v1 host?)"
        os.makedirs(parent, exist_ok=True)
        with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
            f.write(" ".join(f"+{c}" for c in CGROUP_CONTROLLERS))
    except OSError as exc:
        return None, f"cannot set up cgroup {parent}: {exc.strerror or exc}"
    return parent, ""


def _cgroup_settings(limits: Limits) -> dict[str, str]:
    period = 100_000
    return {
        "cpu.max": f"{int(limits.cpu_cores * period)} {period}",
        "memory.max": str(limits.memory_bytes),
        "memory.swap.max": "0",
        "pids.max": str(limits.processes),
    }


@functools.cache
def _sandbox_cgroups() -> tuple[str | None, str]:
    return cgroup_parent()


def limits_in_force(limits: Limits | None = None) -> str:
    """One line for the run's log: how kernels are isolated here and which limits hold."""
    limits = limits or Limits()
    who = (
        f"a throw-away uid ({UID_BASE} + launcher PID)"
        if os.geteuid() == 0
        else f"the grader's uid {os.geteuid()} in a user namespace of its own"
    )
    parent, why = _sandbox_cgroups()
    per_sandbox = (
        f"cgroup v2 per sandbox: {limits.cpu_cores:g} CPU core, "
        f"memory {limits.memory_bytes // MiB} MiB, {limits.processes} processes"
        if parent
        else f"no per-sandbox CPU or memory cap ({why}): "
        "cap the whole run instead (docs/security.md, On a shared server)"
    )
    return (
        f"sandbox (bubblewrap): kernels run as {who}; per process "
        f"{limits.address_space_bytes // MiB} MiB address space, {limits.file_bytes // MiB} MiB "
        f"per file; {limits.processes} processes per sandbox (RLIMIT_NPROC in its user "
        "namespace); writable: its folder, /tmp, /dev/shm "
        f"{limits.tmp_bytes // MiB} MiB each, sockets {IPC_BYTES // MiB} MiB; {per_sandbox}"
    )
