"""Kernel launcher of the sandbox kernelspec: runs ipykernel where only its folder is visible."""

from __future__ import annotations

import ctypes
import fcntl
import fnmatch
import json
import os
import platform
import resource
import select
import signal
import socket
import stat
import struct
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
#: Exit status of the launcher when the sandbox could not be built (nothing of the kernel ran).
EXIT_SETUP = 111
#: The sandbox user id is this plus the supervisor's host PID: unique among running sandboxes,
#: so RLIMIT_NPROC counts exactly one sandbox and sandboxes cannot signal or trace each other.
UID_BASE = 1_500_000_000
NEVER_EXPOSE = ("*.ipynb", ".ipynb_checkpoints")
DEVICES = ("null", "zero", "full", "random", "urandom")
ENV_PASS = ("LANG", "LANGUAGE", "TZ", "MPLBACKEND", "NBGRADER_EXECUTION", "PYTHONHASHSEED")
ENV_PASS_PREFIX = ("LC_", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """The sandbox could not be built; the message says why."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    _check(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _bind(src_fd: int, target: str, flags: int = MS_RDONLY | MS_NODEV) -> None:
    _mount(f"/proc/self/fd/{src_fd}", target, None, MS_BIND)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_NOSUID | flags)


def _tmpfs(target: str, size: int, mode: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    os.makedirs(target, mode=0o755, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", flags, f"size={size},mode={mode}")


def _in_root(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _exposed(rel: str, patterns: list[str]) -> bool:
    name = os.path.basename(rel)
    if any(fnmatch.fnmatch(name, p) for p in NEVER_EXPOSE):
        return False
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _copy_tree(
    src_fd: int, dest: str, rel: str, patterns: list[str], uid: int, protect: bool = False
) -> None:
    """Copy regular files (never following symlinks) from the host folder into the sandbox.

    With ``protect`` the copies stay root's and read-only in sticky folders: the kernel can add
    files next to them but cannot change, delete or rename them (data a test reads by name).
    """
    for entry in os.scandir(src_fd):
        sub = os.path.join(rel, entry.name) if rel else entry.name
        st = os.stat(entry.name, dir_fd=src_fd, follow_symlinks=False)
        target = os.path.join(dest, entry.name)
        if stat.S_ISDIR(st.st_mode) and entry.name not in NEVER_EXPOSE and sub.count("/") < 8:
            fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_fd)
            try:
                os.mkdir(target, 0o755)
                if protect:
                    os.chmod(target, 0o1777)
                else:
                    os.chown(target, uid, uid)
                _copy_tree(fd, target, sub, patterns, uid, protect)
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode) and _exposed(sub, patterns):
            src = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
            mode = st.st_mode & 0o555 | 0o444 if protect else st.st_mode & 0o755 | 0o600
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                offset = 0
                while offset < st.st_size:
                    sent = os.sendfile(dst, src, offset, st.st_size - offset)
                    if sent == 0:
                        break
                    offset += sent
                if not protect:
                    os.fchown(dst, uid, uid)
            finally:
                os.close(src)
                os.close(dst)


def _pivot_root(new_root: str) -> None:
    os.chdir(new_root)
    fn = getattr(libc, "pivot_root", None)
    if fn is not None:
        _check(fn(b".", b"."), "pivot_root")
    else:
        _check(libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b""))  # SIOCSIFFLAGS


def _drop_privileges(uid: int) -> None:
    """Empty the capability bounding set, switch to the sandbox uid, forbid regaining privileges."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop capability")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient caps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(libc.capset(header, bytes(24)), "clear capabilities")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    with open("/proc/self/status") as f:
        caps = dict(line.split(":\t") for line in f if line.startswith("Cap"))
    if any(int(v, 16) for v in caps.values()):
        raise SetupError(f"capabilities remain after dropping them: {caps}")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_seccomp(program: bytes) -> None:
    """Load the classic-BPF filter built by ds4023.sandbox_seccomp (needs no_new_privs)."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def _verify_hidden(hidden: list[str], exposed: list[str]) -> None:
    """Refuse to start when anything of a hidden path is visible beyond the exposed paths."""
    for h in hidden:
        if not os.path.lexists(h):
            continue
        if not os.path.isdir(h) or os.path.islink(h):
            raise SetupError(f"hidden path {h} is visible in the sandbox")
        allowed = {os.path.relpath(e, h).split("/")[0] for e in exposed if e.startswith(h + "/")}
        extra = set(os.listdir(h)) - allowed
        if extra:
            raise SetupError(f"hidden path {h} shows {sorted(extra)} in the sandbox")


def _build_root(cfg: dict, conn: dict, uid: int, net: bool) -> str:
    """Assemble the new root under /tmp of the private mount namespace and pivot into it."""
    limits, workdir = cfg["limits"], os.getcwd()
    fds = {p: os.open(p, os.O_PATH) for p in cfg["readonly_paths"] if not os.path.islink(p)}
    dev_fds = {d: os.open(f"/dev/{d}", os.O_PATH) for d in DEVICES}
    wd_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    ipc_dir = os.path.dirname(conn["ip"]) if net else None
    ipc_fd = os.open(ipc_dir, os.O_RDONLY | os.O_DIRECTORY) if ipc_dir else None
    root = "/tmp"
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    _tmpfs(f"{root}/tmp", limits["tmp_bytes"], "1777")  # first: kept paths may lie below /tmp
    _tmpfs(f"{root}/dev", 65536, "0755")
    for name, fd in dev_fds.items():
        open(f"{root}/dev/{name}", "w").close()
        _bind(fd, f"{root}/dev/{name}", flags=MS_NOEXEC)
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"{root}/dev/{name}")
    os.symlink("/proc/self/fd", f"{root}/dev/fd")
    _tmpfs(f"{root}/dev/shm", limits["tmp_bytes"], "1777", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(f"{root}/proc", 0o755)
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in cfg["readonly_paths"]:
        target = _in_root(root, path)
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if path in fds:
            os.makedirs(target, 0o755, exist_ok=True)
            _bind(fds[path], target)
        else:
            os.symlink(os.readlink(path), target)
    for path in cfg["masked_paths"]:  # e.g. the base interpreter's own site-packages
        if os.path.isdir(_in_root(root, path)):
            _mount(
                "tmpfs", _in_root(root, path), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k"
            )
    sandbox_wd = _in_root(root, workdir)
    protect = cfg.get("protect_files", False)
    _tmpfs(sandbox_wd, limits["workdir_copy_bytes"], "1777" if protect else "0755")
    if not protect:
        os.chown(sandbox_wd, uid, uid)
    _copy_tree(wd_fd, sandbox_wd, "", cfg["expose"], uid, protect)
    vfs = os.statvfs(sandbox_wd)  # now cap what the kernel may add to the copied files
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    room = f"size={used + limits['tmp_bytes']}"
    _mount(None, sandbox_wd, None, MS_REMOUNT | MS_NOSUID | MS_NODEV, room)
    if ipc_fd is not None:
        os.fchown(ipc_fd, uid, uid)  # the kernel creates its sockets there
        os.makedirs(_in_root(root, ipc_dir), 0o755, exist_ok=True)
        _bind(ipc_fd, _in_root(root, ipc_dir), flags=MS_NODEV | MS_NOEXEC)
    conn_path = "/tmp/.kernel-connection.json"
    with open(_in_root(root, conn_path), "w") as f:
        json.dump(conn, f)
    os.chown(_in_root(root, conn_path), uid, uid)
    os.chmod(_in_root(root, conn_path), 0o600)
    for fd in (*fds.values(), *dev_fds.values(), wd_fd, *(f for f in [ipc_fd] if f is not None)):
        os.close(fd)
    _pivot_root(root)
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(workdir)
    return conn_path


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
        "JPY_PARENT_PID": "1",  # no parent poller (the init watches the host) and no banner
    }
    keep = set(ENV_PASS) | set(cfg.get("env_keep", []))
    for key, value in os.environ.items():
        if key in keep or key.startswith(ENV_PASS_PREFIX):
            env[key] = value
    return env


def _exec_kernel(cfg: dict, conn_path: str, extra: list[str]) -> None:
    limits = cfg["limits"]
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    pairs = [
        (resource.RLIMIT_AS, limits["address_space_bytes"]),
        (resource.RLIMIT_NPROC, limits["processes"]),
        (resource.RLIMIT_FSIZE, limits["file_bytes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, limits["cpu_seconds"]),
    ]
    for which, value in pairs:
        if value is not None:
            resource.setrlimit(which, (value, value))
    argv = [cfg["python"], "-m", "ipykernel_launcher", "-f", conn_path, *extra]
    os.execve(cfg["python"], argv, _kernel_env(cfg))


def _init(cfg: dict, conn: dict, uid: int, net: bool, alive_fd: int, extra: list[str]) -> int:
    """PID 1 of the sandbox: build it, start the kernel, reap until the kernel exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host signals the kernel's group directly
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # under memory pressure the sandbox dies first, never the grader
        conn_path = _build_root(cfg, conn, uid, net)
        if net:
            _loopback_up()
        if cfg.get("uts", True):
            _check(libc.sethostname(b"sandbox", 7), "sethostname")
        _drop_privileges(uid)
        _check(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0), "set death signal")
        if select.select([alive_fd], [], [], 0)[0]:
            return EXIT_SETUP  # the supervisor is already gone
        _check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "make init untraceable")
        visible = [*cfg["readonly_paths"], os.getcwd()]
        if net:
            visible.append(os.path.dirname(conn["ip"]))
        _verify_hidden(cfg["hidden_paths"], visible)
        if cfg.get("seccomp"):
            _install_seccomp(bytes.fromhex(cfg["seccomp"]))
    except (OSError, SetupError) as exc:
        print(f"ds4023 sandbox: cannot build the sandbox: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    kernel = os.fork()
    if kernel == 0:
        os.close(alive_fd)
        try:
            _exec_kernel(cfg, conn_path, extra)
        finally:
            os._exit(EXIT_SETUP)
    while True:
        pid, status = os.wait()
        if pid == kernel:
            return _exit_code(status)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N -> 128 + N, like a shell


def _supervise(child: int, output: int, cap: int) -> int:
    """Host side: relay the sandbox's output (at most ``cap`` bytes) and wait for it to end.

    Kills the sandbox when told to (SIGTERM, SIGHUP, SIGQUIT) or when our parent goes away.
    """
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda *_: os.kill(child, signal.SIGKILL))
    try:
        pidfd = os.pidfd_open(child)  # Linux 5.3+; otherwise poll
    except OSError:
        pidfd = None
    relayed, watch = 0, [output] + ([pidfd] if pidfd is not None else [])
    while True:
        ready = select.select(watch, [], [], 0.2 if pidfd is None else 1.0)[0]
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
                return _exit_code(status)
        if os.getppid() != parent:
            os.kill(child, signal.SIGKILL)


def _foreign_ipc_files(ip: str) -> list[str]:
    """Files in the socket folder that are not this kernel's (the kernel will see the folder)."""
    folder, stem = os.path.split(ip)
    stem = stem.removesuffix("-ipc")
    return [n for n in os.listdir(folder) if not n.startswith(stem)]


def main(argv: list[str]) -> int:
    """Start the sandboxed kernel and wait for it (standard library only; run as ``python -I -S``).

    Three processes: this *supervisor* stays on the host, relays the sandbox's output and kills
    it when told to or orphaned; the *init* is PID 1 of new mount/PID/IPC/UTS (and, with the
    ``ipc`` transport, network) namespaces, builds a fresh root from an allow-list, drops every
    privilege and reaps; the *kernel* is its child, with resource limits, exec'ing
    ``python -m ipykernel_launcher``.

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
    net = conn.get("transport") == "ipc" and cfg["network"] != "host"
    if cfg["network"] == "isolate" and not net:
        print("ds4023 sandbox: network isolation needs transport 'ipc'", file=sys.stderr)
        return EXIT_SETUP
    if net and (not os.path.isabs(conn["ip"]) or _foreign_ipc_files(conn["ip"])):
        print(
            f"ds4023 sandbox: ipc socket prefix {conn['ip']!r} must be an absolute path in a "
            "folder of its own (set KernelManager.ip, e.g. <scratch>/ipc/kernel)",
            file=sys.stderr,
        )
        return EXIT_SETUP
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWNET if net else 0)
    try:
        _check(libc.unshare(flags), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
    except SetupError as exc:
        print(f"ds4023 sandbox: namespaces unavailable ({exc})", file=sys.stderr)
        return EXIT_SETUP
    uid = UID_BASE + os.getpid()
    alive_r, alive_w = os.pipe()
    out_r, out_w = os.pipe()  # the sandbox never gets the grader's own stdout/stderr files
    child = os.fork()
    if child == 0:
        os.close(alive_w)
        os.close(out_r)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        os._exit(_init(cfg, conn, uid, net, alive_r, argv[3:]))
    os.close(alive_r)
    os.close(out_w)
    return _supervise(child, out_r, cfg["output_bytes"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
