"""Sandboxed grading kernel: a Jupyter kernelspec whose kernel sees only its folder and Python."""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ds4023 import COURSE_ROOT
from ds4023.sandbox_launcher import IPC_BYTES, UID_BASE
from ds4023.sandbox_seccomp import build_filter

MiB = 2**20
GiB = 2**30
#: Name of the kernelspec that write_kernelspec creates unless told otherwise.
KERNEL_NAME = "ds4023-sandbox"
LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
#: System folders the kernel needs (programs, shared libraries, /etc); never course files.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
NETWORK_MODES = ("auto", "isolate", "host")
#: Most bytes of the kernel's own stdout/stderr (not cell output) relayed to the grader's log.
HOST_OUTPUT_BYTES = 1 * MiB


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
    delegated = delegated if delegated is not None else os.environ.get("DS4023_CGROUP")
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


def default_hidden_paths(scratch_root: Path) -> list[Path]:
    """The paths a grading kernel must never reach.

    Args:
        scratch_root: the scratch course folder the batch grader works in (gradebook included).

    Returns:
        The repository, the specification folder beside it and ``scratch_root``.
    """
    return [COURSE_ROOT, COURSE_ROOT.parent / "shared", Path(scratch_root)]


_DESCRIBE = """
import json, site, sys, sysconfig
base = {"base": sys.base_prefix, "platbase": sys.base_prefix}
dirs = {sysconfig.get_path(k, vars=base) for k in ("purelib", "platlib")}
dirs |= set(site.getsitepackages([sys.base_prefix]))  # Debian: /usr/lib/python3/dist-packages
print(json.dumps([sys.prefix, sys.base_prefix, sorted(dirs)]))
"""


@functools.cache
def _describe(python: str) -> tuple[str, str, list[str]]:
    out = subprocess.run(
        [python, "-I", "-c", _DESCRIBE], capture_output=True, text=True, check=True
    )
    prefix, base, base_site = json.loads(out.stdout)
    return prefix, base, base_site


def _readonly_paths(python: str, extra: tuple[str, ...]) -> tuple[list[str], list[str], str]:
    """What the kernel may read (system folders, the venv, its base interpreter), what to mask.

    The base interpreter's own site-packages is masked unless the venv includes it.
    """
    prefix, base, base_site = _describe(python)
    venv = os.path.realpath(prefix)
    cfg = Path(venv, "pyvenv.cfg")
    shares_site = cfg.is_file() and "include-system-site-packages = true" in cfg.read_text()
    masked = [] if venv == os.path.realpath(base) or shares_site else base_site
    paths: set[str] = set()
    for p in (*SYSTEM_PATHS, venv, os.path.realpath(base), *extra):
        if os.path.lexists(p):
            paths.add(os.path.abspath(p))
            if os.path.islink(p):
                paths.add(os.path.realpath(p))  # a symlink is recreated; its target is bound
    return sorted(paths), [os.path.realpath(m) for m in masked], venv


def _check_exposure(visible: list[str], hidden: list[str]) -> None:
    for v in visible:
        for h in hidden:
            if h == v or h.startswith(v.rstrip("/") + "/"):
                raise ValueError(
                    f"the sandbox would expose hidden path {h} through {v}: "
                    "move the venv or the scratch folder so they do not contain hidden paths"
                )


def _write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def write_kernelspec(
    jupyter_dir: Path,
    workdir: Path,
    hidden_paths: list[Path],
    limits: Limits | None = None,
    *,
    expose: tuple[str, ...] = ("*",),
    network: str = "auto",
    name: str = KERNEL_NAME,
    python: str | None = None,
    extra_readonly: tuple[str, ...] = (),
    protect_files: bool = True,
) -> str:
    """Write a kernelspec that runs ipykernel in the sandbox; nothing is started yet.

    The kernel must be started with its working directory at ``workdir`` or below it (nbclient
    starts it in the notebook's folder). It then sees a private copy of that one folder (regular
    files matching ``expose``, never notebooks or symlinks; read-only unless ``protect_files``
    is False, new files allowed), read-only system folders, the venv
    and its base interpreter, an empty /tmp and its own /proc; nothing else.

    Args:
        jupyter_dir: folder to put on JUPYTER_PATH; the spec goes to ``kernels/<name>/``.
        workdir: folder whose subfolders kernels may start in, e.g. the scratch ``autograded/``.
        hidden_paths: paths that must stay unreachable (see default_hidden_paths); checked
            here and again by the launcher before the kernel runs.
        limits: resource limits; ``Limits()`` when None.
        expose: glob patterns of the files copied into the kernel's folder (name or path).
        network: "isolate" (own empty network namespace; needs ``KernelManager.transport =
            "ipc"``), "host" (share the network), or "auto" (isolate when transport is ipc).
        name: kernelspec name to pass as ``Execute.kernel_name``.
        python: interpreter of the kernel (the venv's); defaults to this interpreter.
        extra_readonly: more folders to show read-only, e.g. a conda prefix.
        protect_files: keep the copied files root's and read-only, in a sticky folder: the
            kernel may add files but cannot change, delete or replace the data a test reads.

    Returns:
        The kernel name.

    Raises:
        SandboxUnavailable: when the sandbox cannot run here (see unavailable_reason).
        ValueError: when a visible path would contain a hidden one, or network is unknown.
    """
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailable(reason)
    if network not in NETWORK_MODES:
        raise ValueError(f"network must be one of {NETWORK_MODES}, not {network!r}")
    python = os.path.abspath(python or sys.executable)
    readonly, masked, venv = _readonly_paths(python, extra_readonly)
    work = os.path.realpath(workdir)
    hidden = [os.path.realpath(h) for h in hidden_paths]
    _check_exposure([p for p in readonly if not os.path.islink(p)] + [work], hidden)
    spec_dir = Path(jupyter_dir) / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "python": os.path.join(venv, "bin", os.path.basename(python)),
        "venv": venv,
        "workdir": work,
        "expose": list(expose),
        "readonly_paths": readonly,
        "masked_paths": masked,
        "hidden_paths": hidden,
        "network": network,
        "output_bytes": HOST_OUTPUT_BYTES,
        "protect_files": protect_files,
        "seccomp": seccomp.hex() if (seccomp := build_filter(platform.machine())) else None,
        "limits": asdict(limits or Limits()),
    }
    bwrap, usage = _bwrap()
    parent, _ = _sandbox_cgroups()
    config.update(
        bwrap=bwrap,
        bwrap_disable_userns="--disable-userns" in usage,
        prlimit=_prlimit(),
        setpriv=shutil.which("setpriv") or "/usr/bin/setpriv",
        cgroup={"parent": parent, "settings": _cgroup_settings(limits or Limits())}
        if parent
        else None,
    )
    _write_atomic(spec_dir / "sandbox.json", config)
    argv = [python, "-I", "-S", str(LAUNCHER), str(spec_dir / "sandbox.json")]
    spec = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": "Python 3 (DS4023 grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    _write_atomic(spec_dir / "kernel.json", spec)
    return name


def configure(
    config,
    scratch: Path,
    jupyter_dir: Path,
    limits: Limits | None = None,
    expose: tuple[str, ...] = ("*",),
) -> str:
    """Make nbgrader's autograder in the scratch course ``scratch`` run the sandboxed kernel.

    Writes the kernelspec ``ds4023-sandbox-<scratch folder name>`` into ``jupyter_dir`` (and
    puts that folder on JUPYTER_PATH in ``os.environ`` if it is not there yet), creates
    ``<scratch>/ipc`` for the kernel's sockets, and sets ``Execute.kernel_name``,
    ``KernelManager.transport = "ipc"`` and ``KernelManager.ip`` in ``config``, so the kernel
    runs without network. Remove the kernelspec afterwards with remove_kernelspec.

    Args:
        config: the traitlets Config given to nbgrader's Autograde (changed in place).
        scratch: the scratch course root (its gradebook and other folders stay hidden).
        jupyter_dir: folder for kernelspecs, outside ``scratch`` so one entry serves all tasks.
        limits: resource limits; ``Limits()`` when None.
        expose: glob patterns of the files in the notebook's folder the kernel may see, e.g.
            the assignment's data files, so extra student files (``numpy.py``) stay out.

    Returns:
        The kernel name.

    Raises:
        SandboxUnavailable: when the sandbox cannot run here.
    """
    scratch = Path(scratch)
    name = write_kernelspec(
        jupyter_dir,
        scratch / "autograded",
        default_hidden_paths(scratch),
        limits,
        expose=expose,
        network="isolate",
        name=f"{KERNEL_NAME}-{re.sub(r'[^a-z0-9._-]', '-', scratch.name.lower())}",
    )
    (scratch / "ipc").mkdir(exist_ok=True)
    config.Execute.kernel_name = name
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(scratch / "ipc" / "kernel")
    paths = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
    if str(jupyter_dir) not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(jupyter_dir), *filter(None, paths)])
    return name


def remove_kernelspec(jupyter_dir: Path, name: str) -> None:
    """Delete a kernelspec that write_kernelspec or configure wrote (no error if it is gone)."""
    shutil.rmtree(Path(jupyter_dir) / "kernels" / name, ignore_errors=True)


_UID = os.getuid() if hasattr(os, "getuid") else 0  # importable on Windows, to say why not

#: Where grading hooks put their kernelspecs: one private folder per user of this machine (a
#: kernelspec names the program to run: nobody else may write there).
KERNELS_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / f"ds4023-kernelspecs-{_UID}"


def _private_folder(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check that it is ours alone; refuse anything else."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SandboxUnavailable(
            f"{path} is not a private folder of this user: remove it, or set TMPDIR elsewhere"
        )
    return path


#: The ``--setup-hook`` value that makes the batch grader run every kernel in the sandbox.
GRADING_HOOK = "ds4023.sandbox:grading_hook"


@functools.cache
def _log_limits_once() -> None:
    log.warning("%s", limits_in_force())


def grading_hook(config, scratch: Path):
    """Setup hook of the batch grader: grade this scratch course with a sandboxed kernel.

    The kernel sees the assignment's support files (data, checking module) next to the
    student's notebook and nothing else of the course; extra files the student handed in
    (a ``numpy.py`` that would shadow numpy, say) stay out of its folder.

    Args:
        config: the nbgrader Config of the scratch course (changed in place).
        scratch: the scratch course folder.

    Returns:
        A function that removes the kernelspec again, for the grader to call afterwards.

    Raises:
        SandboxUnavailable: when the sandbox cannot run here.
    """
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailable(reason)
    assignment = config.CourseDirectory.assignment_id
    support = Path(scratch) / "source" / assignment
    files = support.iterdir() if support.is_dir() else ()  # no folder: no support files
    expose = tuple(sorted(p.name for p in files if p.is_file() and p.suffix != ".ipynb"))
    if not expose:
        expose = ("-",)  # nothing to show: a pattern no support file can match
    _log_limits_once()
    name = configure(config, Path(scratch), _private_folder(KERNELS_DIR), expose=expose)
    return functools.partial(remove_kernelspec, KERNELS_DIR, name)
