"""Sandboxed grading kernel: a Jupyter kernelspec whose kernel sees only its folder and Python."""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from ds4023.files import atomic_write_json
from ds4023.sandbox.limits import (
    KERNEL_NAME,
    Limits,
    SandboxUnavailable,
    _bwrap,
    _cgroup_settings,
    _prlimit,
    _sandbox_cgroups,
    limits_in_force,
    log,
    unavailable_reason,
)
from ds4023.sandbox.seccomp import build_filter
from ds4023.settings import COURSE_ROOT

LAUNCHER = Path(__file__).with_name("launcher.py")
#: The folder holding this package: a course checkout when installed with ``pip install -e``.
PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]
#: System folders the kernel needs (programs, shared libraries, /etc); never course files.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
NETWORK_MODES = ("auto", "isolate", "host")
#: Most bytes of the kernel's own stdout/stderr (not cell output) relayed to the grader's log.
HOST_OUTPUT_BYTES = 2**20  # 1 MiB


def default_hidden_paths(scratch_root: Path) -> list[Path]:
    """The paths a grading kernel must never reach.

    Args:
        scratch_root: the scratch course folder the batch grader works in (gradebook included).

    Returns:
        The course, the specification folder beside it and ``scratch_root``; also the course
        checkout this package is installed from (``pip install -e``), when that is another.
    """
    hidden = [COURSE_ROOT, COURSE_ROOT.parent / "shared", Path(scratch_root)]
    if (PACKAGE_CHECKOUT / "nbgrader_config.py").is_file() and PACKAGE_CHECKOUT != COURSE_ROOT:
        hidden.append(PACKAGE_CHECKOUT)  # graded from elsewhere: this checkout's source/ too
    return hidden


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
    atomic_write_json(spec_dir / "sandbox.json", config)
    argv = [python, "-I", "-S", str(LAUNCHER), str(spec_dir / "sandbox.json")]
    spec = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": "Python 3 (DS4023 grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    atomic_write_json(spec_dir / "kernel.json", spec)
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
GRADING_HOOK = "ds4023.sandbox.kernelspec:grading_hook"


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
