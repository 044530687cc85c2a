"""Kernel launcher of the sandbox kernelspec: runs ipykernel in bubblewrap, only its folder visible.

bubblewrap (``bwrap``) builds the sandbox: new user, mount, PID, IPC, UTS, cgroup and (with the
``ipc`` transport) network namespaces, a root file system assembled from an allow-list, no
capabilities, ``no_new_privs``, a new session, and the seccomp program of
ds4023.sandbox.seccomp. This launcher does what bwrap does not: it picks what the kernel may see,
copies the kernel's own files in (never notebooks or symlinks), sizes every writable place,
switches to a throw-away uid and a cgroup of its own when it runs as root, sets resource limits,
relays interrupts, caps the kernel's raw output and kills the sandbox when its parent goes away.
"""

from __future__ import annotations

import contextlib
import ctypes
import fnmatch
import json
import os
import select
import signal
import stat
import sys

PR_SET_PDEATHSIG = 1
#: Exit status of the launcher when the sandbox could not be built (nothing of the kernel ran).
EXIT_SETUP = 111
#: As root, the sandbox runs as this uid plus the launcher's PID: unique among running
#: sandboxes, so RLIMIT_NPROC counts exactly one sandbox and sandboxes cannot signal each other.
UID_BASE = 1_500_000_000
NEVER_EXPOSE = ("*.ipynb", ".ipynb_checkpoints")
ENV_PASS = ("LANG", "LANGUAGE", "TZ", "MPLBACKEND", "NBGRADER_EXECUTION", "PYTHONHASHSEED")
ENV_PASS_PREFIX = ("LC_", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")
#: Where the kernel finds its connection file (in the sandbox's own, size-limited /tmp).
CONNECTION_FILE = "/tmp/.kernel-connection.json"
#: Size of the folder holding the kernel's sockets inside the sandbox.
IPC_BYTES = 1 << 20
#: Most levels of subfolders copied into the kernel's folder.
MAX_DEPTH = 8


class SetupError(Exception):
    """The sandbox could not be built; the message says why."""


def _exposed(rel: str, patterns: list[str]) -> bool:
    name = os.path.basename(rel)
    if any(fnmatch.fnmatch(name, p) for p in NEVER_EXPOSE):
        return False
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


class Plan:
    """The bwrap command line being built, and the descriptors it reads (passed to bwrap)."""

    def __init__(self, bwrap: str) -> None:
        self.args: list[str] = [bwrap]
        self.fds: list[int] = []
        self.mounts: list[str] = []
        self.made = {"/tmp", "/dev", "/proc"}

    def add(self, *args: object) -> None:
        self.args += [str(a) for a in args]

    def fd(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def data(self, payload: bytes, name: str) -> int:
        """A descriptor bwrap reads ``payload`` from (a memfd, so any size works)."""
        fd = os.memfd_create(name)
        os.write(fd, payload)
        os.lseek(fd, 0, os.SEEK_SET)
        return self.fd(fd)

    def parents(self, path: str) -> None:
        """Create the folders above ``path`` world-traversable (bwrap would copy the host's
        modes, and a 0700 ``/root`` above a pyenv interpreter would lock the kernel out)."""
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:i])
            inside = any(folder == m or folder.startswith(m + "/") for m in self.mounts)
            if folder not in self.made and not inside:
                self.add("--perms", "755", "--dir", folder)
                self.made.add(folder)

    def mount(self, *args: object) -> None:
        """A mount whose target is the last argument (its parent folders made first)."""
        target = str(args[-1])
        self.parents(target)
        self.add(*args)
        self.mounts.append(target)

    def tmpfs(self, path: str, size: int, mode: int) -> None:
        self.add("--size", size, "--perms", f"{mode:o}", "--tmpfs", path)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def _copy_tree(plan: Plan, src_fd: int, dest: str, rel: str, patterns: list[str], protect: bool):
    """Add the exposed regular files of a host folder (never following symlinks) to the plan.

    With ``protect`` every copy is a read-only bind of its own (it cannot be written, deleted or
    renamed) and every subfolder a read-only file system (nothing can be added there); the
    kernel may still add files next to the top-level copies. Without it the copies are plain
    files of the kernel's folder. Returns the bytes copied and the folders to make read-only.
    """
    copied, readonly = 0, []
    for entry in sorted(os.scandir(src_fd), key=lambda e: e.name):
        sub = os.path.join(rel, entry.name) if rel else entry.name
        st = os.stat(entry.name, dir_fd=src_fd, follow_symlinks=False)
        target = os.path.join(dest, entry.name)
        deep = sub.count("/") >= MAX_DEPTH
        if stat.S_ISDIR(st.st_mode) and entry.name not in NEVER_EXPOSE and not deep:
            fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_fd)
            try:
                if protect:
                    plan.tmpfs(target, 1 << 20, 0o755)
                    readonly.append(target)
                else:
                    plan.add("--perms", "755", "--dir", target)
                n, ro = _copy_tree(plan, fd, target, sub, patterns, protect)
                copied, readonly = copied + n, readonly + ro
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode) and _exposed(sub, patterns):
            fd = plan.fd(os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd))
            if protect:
                plan.add("--perms", f"{st.st_mode & 0o555 | 0o444:o}", "--ro-bind-data", fd, target)
            else:
                plan.add("--perms", f"{st.st_mode & 0o755 | 0o600:o}", "--file", fd, target)
            copied += st.st_size
    return copied, readonly


def _check_hidden(hidden: list[str], visible: list[str]) -> None:
    """Refuse a plan that would show a hidden path (or one that contains it)."""
    for v in visible:
        for h in hidden:
            if h == v or h.startswith(v.rstrip("/") + "/"):
                raise SetupError(f"hidden path {h} would be visible through {v}")


def _plan(cfg: dict, conn: dict, workdir: str, net: bool, ipc_dir: str | None) -> Plan:
    """The bwrap command that builds this kernel's sandbox."""
    limits = cfg["limits"]
    visible = [p for p in cfg["readonly_paths"] if not os.path.islink(p)] + [workdir]
    _check_hidden(cfg["hidden_paths"], visible)
    plan = Plan(cfg["bwrap"])
    plan.add("--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try")
    plan.add(*(["--unshare-net"] if net else []), "--die-with-parent", "--new-session")
    plan.add("--cap-drop", "ALL", "--hostname", "sandbox")
    if os.geteuid() == 0:  # no user namespace: setpriv switches to the throw-away uid inside
        plan.add("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP")
    else:  # the grader's uid, in a user namespace of its own
        plan.add("--unshare-user")
        if cfg.get("bwrap_disable_userns"):
            plan.add("--disable-userns")
    # /tmp first: folders shown read-only may lie below it (a venv in /tmp, say)
    plan.tmpfs("/tmp", limits["tmp_bytes"], 0o1777)
    plan.add("--dev", "/dev")
    plan.tmpfs("/dev/shm", limits["tmp_bytes"], 0o1777)
    plan.add("--proc", "/proc")
    for path in cfg["readonly_paths"]:
        if os.path.islink(path):
            plan.parents(path)
            plan.add("--symlink", os.readlink(path), path)
        else:
            plan.mount("--ro-bind", path, path)
    for path in cfg["masked_paths"]:  # e.g. the base interpreter's own site-packages
        if os.path.isdir(path):
            plan.tmpfs(path, 4096, 0o755)
            plan.add("--remount-ro", path)
    protect = cfg.get("protect_files", False)
    at = len(plan.args)  # the kernel's folder goes here once its size is known
    wd_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        copied, readonly = _copy_tree(plan, wd_fd, workdir, "", cfg["expose"], protect)
    finally:
        os.close(wd_fd)
    if copied > limits["workdir_copy_bytes"]:
        raise SetupError(f"the kernel's folder would hold {copied} bytes, more than allowed")
    room = limits["tmp_bytes"] + (0 if protect else copied)  # unprotected copies are inside
    mode = "1777" if protect else "755"
    head = Plan(cfg["bwrap"])
    head.mounts, head.made = plan.mounts, plan.made
    head.mount("--size", room, "--perms", mode, "--tmpfs", workdir)
    plan.args[at:at] = head.args[1:]
    for path in readonly:
        plan.add("--remount-ro", path)
    if ipc_dir:  # the kernel's sockets: a small private folder the host reaches by symlinks
        plan.parents(ipc_dir)
        plan.tmpfs(ipc_dir, IPC_BYTES, 0o1777)
    conn_fd = plan.data(json.dumps(conn).encode(), "conn")  # unchanged, so ipykernel only reads it
    plan.add("--perms", "444", "--ro-bind-data", conn_fd, CONNECTION_FILE)
    if cfg.get("seccomp"):
        plan.add("--seccomp", plan.data(bytes.fromhex(cfg["seccomp"]), "seccomp"))
    plan.add("--remount-ro", "/", "--chdir", os.getcwd())
    return plan


def _kernel_command(cfg: dict, extra: list[str]) -> list[str]:
    """``prlimit`` (inside the sandbox, so RLIMIT_NPROC counts its processes only), then python."""
    limits = cfg["limits"]
    pairs = [
        ("as", limits["address_space_bytes"]),
        ("nproc", limits["processes"]),
        ("fsize", limits["file_bytes"]),
        ("nofile", limits["open_files"]),
        ("core", 0),
        ("cpu", limits["cpu_seconds"]),
    ]
    rlimits = [f"--{name}={value}" for name, value in pairs if value is not None]
    kernel = [cfg["python"], "-m", "ipykernel_launcher", "-f", CONNECTION_FILE, *extra]
    command = [cfg["prlimit"], *rlimits, "--", *kernel]
    if os.geteuid() == 0:
        uid = UID_BASE + os.getpid()
        drop = ["--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all"]
        command = [cfg["setpriv"], *map(str, drop), "--bounding-set=-all", "--", *command]
    return command


def _kernel_env(cfg: dict) -> dict[str, str]:
    venv = cfg["venv"]
    env = {
        "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "VIRTUAL_ENV": venv,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "JPY_PARENT_PID": "1",  # no parent poller (the launcher watches the host) and no banner
    }
    keep = set(ENV_PASS) | set(cfg.get("env_keep", []))
    for key, value in os.environ.items():
        if key in keep or key.startswith(ENV_PASS_PREFIX):
            env[key] = value
    return env


def _cgroup(cfg: dict) -> str | None:
    """Create this sandbox's cgroup v2 group (CPU, memory, processes), or None when not allowed."""
    group = cfg.get("cgroup")
    if not group:
        return None
    path = os.path.join(group["parent"], f"sandbox-{os.getpid()}")
    try:
        os.mkdir(path)
        for name, value in group["settings"].items():
            with open(os.path.join(path, name), "w") as f:
                f.write(str(value))
    except OSError as exc:
        print(f"ds4023 sandbox: no cgroup of its own ({exc})", file=sys.stderr, flush=True)
        _remove_cgroup(path)
        return None
    return path


def _remove_cgroup(path: str | None) -> None:
    if not path or not os.path.isdir(path):
        return
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")  # whatever is left of the sandbox, at once
    except OSError:
        pass
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except OSError:
            select.select([], [], [], 0.02)


def _start_bwrap(plan: Plan, cfg: dict, env: dict, out_w: int, info_w: int, cgroup: str | None):
    """Fork and exec bwrap: its own process group, dies with us, memory pressure hits it first."""
    supervisor = os.getpid()
    for fd in [*plan.fds, info_w]:
        os.set_inheritable(fd, True)
    child = os.fork()
    if child != 0:
        return child
    try:
        os.setpgid(0, 0)  # jupyter_client's SIGINT to our group must not reach bwrap itself
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != supervisor:
            os._exit(EXIT_SETUP)
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # under memory pressure the sandbox dies first, never the grader
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write("0")
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        args = [*plan.args, "--info-fd", str(info_w), "--", *cfg["kernel_command"]]
        os.execve(cfg["bwrap"], args, env)
    except BaseException as exc:  # noqa: BLE001 - nothing may escape a forked child
        os.write(2, f"ds4023 sandbox: cannot start bwrap: {exc}\n".encode())
    os._exit(EXIT_SETUP)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N -> 128 + N, like a shell


class Sockets:
    """The host's socket paths, linked to the kernel's sockets once it has bound them.

    Each host path becomes a symlink to ``/proc/<launcher>/fd/N``, a descriptor this launcher
    opened on the socket itself (``O_PATH | O_NOFOLLOW``, checked to be a socket): should the
    kernel later put a symlink where its socket was, the grader still connects to the socket it
    bound, never to a path of the kernel's choosing on the host.
    """

    PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

    def __init__(self, conn: dict, ipc_dir: str) -> None:
        self.paths = {f"{conn['ip']}-{conn[k]}" for k in self.PORTS}
        self.ipc_dir, self.fds, self.links = ipc_dir, [], []
        self.pending = set(self.paths)

    def link(self, sandbox_pid: int) -> None:
        for path in sorted(self.pending):
            inside = f"/proc/{sandbox_pid}/root{self.ipc_dir}/{os.path.basename(path)}"
            try:
                fd = os.open(inside, os.O_PATH | os.O_NOFOLLOW)
            except OSError:
                continue  # not bound yet
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
                continue
            if os.path.lexists(path):
                os.unlink(path)  # left behind by a killed launcher
            os.symlink(f"/proc/{os.getpid()}/fd/{fd}", path)
            self.fds.append(fd)
            self.links.append(path)
            self.pending.discard(path)

    def close(self) -> None:
        for path in self.links:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for fd in self.fds:
            os.close(fd)


def _supervise(child: int, cfg: dict, conn: dict, ipc_dir: str | None, output: int, info: int):
    """Host side: relay output (capped), interrupts and the end of the sandbox.

    Kills the sandbox when told to (SIGTERM, SIGHUP, SIGQUIT) or when our parent goes away;
    SIGINT (nbclient's cell timeout) goes to the kernel's process group in the sandbox.
    """
    parent, cap = os.getppid(), cfg["output_bytes"]
    sandbox: dict = {"pid": None, "pidfd": None, "info": b""}

    def interrupt(*_):
        if sandbox["pid"] and not sandbox.get("ended"):
            try:  # PID 1 of the sandbox leads the session and process group of the kernel
                os.killpg(sandbox["pid"], signal.SIGINT)
            except OSError:
                pass

    signal.signal(signal.SIGINT, interrupt)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda *_: os.kill(child, signal.SIGKILL))
    sockets = Sockets(conn, ipc_dir) if ipc_dir else None
    try:
        pidfd = os.pidfd_open(child)  # Linux 5.3+; otherwise poll
    except OSError:
        pidfd = None
    relayed, watch = 0, [output, info] + ([pidfd] if pidfd is not None else [])
    try:
        while True:
            try:
                waiting = sockets is not None and sockets.pending and sandbox["pid"]
                timeout = 0.02 if waiting else 0.2 if pidfd is None else 1.0
                ready = select.select(watch, [], [], timeout)[0]
            except InterruptedError:
                continue
            if info in ready:
                data = os.read(info, 4096)
                sandbox["info"] += data
                if not data:  # bwrap wrote all it knows about the sandbox and closed the pipe
                    watch.remove(info)
                    pid = json.loads(sandbox["info"] or b"{}").get("child-pid")
                    if pid:
                        sandbox["pid"] = pid
                        sandbox["pidfd"] = _pidfd(pid)
            if sockets is not None and sockets.pending and sandbox["pid"]:
                sockets.link(sandbox["pid"])
            if output in ready:
                data = os.read(output, 65536)
                if not data:
                    watch.remove(output)
                elif relayed < cap:
                    os.write(2, data[: cap - relayed])
                    relayed += len(data)
                    if relayed >= cap:
                        os.write(2, b"\nds4023 sandbox: further kernel output dropped\n")
            if pidfd is None or pidfd in ready:
                pid, status = os.waitpid(child, os.WNOHANG)
                if pid:
                    sandbox["ended"] = True
                    return _exit_code(status)
            if os.getppid() != parent:
                os.kill(child, signal.SIGKILL)
    finally:
        if sandbox["pidfd"] is not None:  # bwrap has ended: nothing of the sandbox may linger
            try:
                signal.pidfd_send_signal(sandbox["pidfd"], signal.SIGKILL)
            except OSError:
                pass
        if sockets is not None:
            sockets.close()


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def main(argv: list[str]) -> int:
    """Start the sandboxed kernel and wait for it (standard library only; run as ``python -I -S``).

    This process (the *supervisor*) stays on the host; bwrap builds the sandbox and runs the
    kernel (``prlimit ... python -m ipykernel_launcher``) as its second process, after bwrap's
    own init.

    Args:
        argv: ``[CONFIG, "-f", CONNECTION_FILE, *kernel_args]``; CONFIG is the sandbox.json
            written by ds4023.sandbox.write_kernelspec.

    Returns:
        The kernel's exit status (128 + N when killed by signal N), or EXIT_SETUP when the
        sandbox could not be built.
    """
    if len(argv) < 3 or argv[1] != "-f":
        print("usage: sandbox_launcher.py CONFIG -f CONNECTION_FILE [args]", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        cfg = json.load(f)
    with open(argv[2]) as f:
        conn = json.load(f)
    workdir = os.path.realpath(os.getcwd())
    root = cfg["workdir"]
    if workdir != root and not workdir.startswith(root + "/"):
        print(f"ds4023 sandbox: refusing to start in {workdir}: not inside {root}", file=sys.stderr)
        return EXIT_SETUP
    ipc = conn.get("transport") == "ipc"
    net = ipc and cfg["network"] != "host"
    if cfg["network"] == "isolate" and not net:
        print("ds4023 sandbox: network isolation needs transport 'ipc'", file=sys.stderr)
        return EXIT_SETUP
    ipc_dir = os.path.dirname(conn["ip"]) if ipc else None
    if ipc and (not os.path.isabs(conn["ip"]) or not os.path.isdir(ipc_dir)):
        print(
            f"ds4023 sandbox: ipc socket prefix {conn['ip']!r} must be an absolute path in an "
            "existing folder (set KernelManager.ip, e.g. <scratch>/ipc/kernel)",
            file=sys.stderr,
        )
        return EXIT_SETUP
    cfg["kernel_command"] = _kernel_command(cfg, argv[3:])
    try:
        plan = _plan(cfg, conn, workdir, net, ipc_dir)
    except (OSError, SetupError) as exc:
        print(f"ds4023 sandbox: cannot build the sandbox: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    cgroup = _cgroup(cfg)
    out_r, out_w = os.pipe()  # the sandbox never gets the grader's own stdout/stderr files
    info_r, info_w = os.pipe()
    try:
        child = _start_bwrap(plan, cfg, _kernel_env(cfg), out_w, info_w, cgroup)
    finally:
        plan.close()
        os.close(out_w)
        os.close(info_w)
    try:
        return _supervise(child, cfg, conn, ipc_dir, out_r, info_r)
    finally:
        _remove_cgroup(cgroup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
