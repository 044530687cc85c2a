"""Tests for ds4023.sandbox: what student code in the grading kernel can and cannot reach or do."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbgrader.apps import NbGraderAPI
from traitlets.config import Config

from ds4023.sandbox import kernelspec, limits
from ds4023.sandbox.launcher import EXIT_SETUP
from tests.helpers import COURSE_ROOT

# In CI (which installs bubblewrap) a sandbox that cannot run fails these tests instead of
# skipping them.
if limits.unavailable_reason() is not None and os.environ.get("CI"):
    raise RuntimeError(f"the sandbox cannot run here: {limits.unavailable_reason()}")
pytestmark = pytest.mark.skipif(
    limits.unavailable_reason() is not None, reason=str(limits.unavailable_reason())
)

DATA = b"MATLAB 5.0 MAT-file stand-in " * 100
NOTEBOOK_SECRET = "HIDDEN_TEST_REFERENCE_424242"
SMALL = limits.Limits(processes=64)


@dataclass
class Course:
    """A scratch course as the batch grader lays it out, with sandbox kernelspecs for it."""

    base: Path
    scratch: Path
    workdir: Path
    jupyter: Path


@dataclass
class Result:
    """What one cell execution gave back: its status, its two output streams, its error."""

    status: str
    stdout: str
    ename: str | None
    stderr: str = ""


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Course:
    """Alice's autograded folder (data, notebook, a symlink), Bob's, and a gradebook."""
    base = tmp_path_factory.mktemp("sandbox")
    scratch = base / "scratch"
    workdir = scratch / "autograded" / "alice" / "backprop"
    (workdir / "extra").mkdir(parents=True)
    (workdir / "ex4data1.mat").write_bytes(DATA)
    (workdir / "extra" / "notes.txt").write_text("alice's notes")
    (workdir / "backprop.ipynb").write_text(json.dumps({"source": NOTEBOOK_SECRET}))
    (workdir / "config_link.py").symlink_to(COURSE_ROOT / "nbgrader_config.py")
    bob = scratch / "autograded" / "bob" / "backprop"
    bob.mkdir(parents=True)
    (bob / "answers.txt").write_text("bob's answers")
    (scratch / "gradebook.db").write_text(NOTEBOOK_SECRET)
    jupyter = base / "jupyter"
    hidden = kernelspec.default_hidden_paths(scratch)
    kernelspec.write_kernelspec(jupyter, scratch / "autograded", hidden)
    kernelspec.write_kernelspec(jupyter, scratch / "autograded", hidden, SMALL, name="small")
    kernelspec.write_kernelspec(
        jupyter, scratch / "autograded", hidden, name="iso", network="isolate"
    )
    return Course(base, scratch, workdir, jupyter)


def start(course: Course, name: str = limits.KERNEL_NAME, transport: str = "ipc", cwd=None):
    """Start a kernel from the course's kernelspecs; ipc sockets go to a folder of their own."""
    ksm = KernelSpecManager(kernel_dirs=[str(course.jupyter / "kernels")])
    km = KernelManager(kernel_name=name, kernel_spec_manager=ksm, transport=transport)
    if transport == "ipc":
        km.ip = str(Path(tempfile.mkdtemp(prefix="ipc-", dir=course.base)) / "kernel")
    km.start_kernel(cwd=str(cwd or course.workdir))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except RuntimeError:
        kc.stop_channels()
        raise
    return km, kc


def stop(km, kc) -> None:
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)
    else:
        km.cleanup_resources()


def run(kc, code: str, timeout: float = 60) -> Result:
    """Execute ``code`` in the kernel and collect its stdout, its stderr and its error name.

    The two streams are kept apart: what Python itself writes to stderr while the code runs
    (a warning, such as 3.12's about ``os.fork()`` in a multi-threaded process) never mixes
    with what the code prints.
    """
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    errors: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            streams[msg["content"]["name"]].append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            errors.append(msg["content"]["ename"])

    reply = kc.execute_interactive(textwrap.dedent(code), timeout=timeout, output_hook=hook)
    out, err = ("".join(streams[name]) for name in ("stdout", "stderr"))
    return Result(reply["content"]["status"], out, errors[0] if errors else None, err)


def run_json(kc, code: str):
    """Execute ``code``, which must print one JSON value last, and return that value.

    Only stdout is read: warnings the code causes go to stderr and cannot hide the value.
    """
    result = run(kc, code)
    assert result.status == "ok", result
    return printed_value(result)


def printed_value(result: Result):
    """The JSON value on the last line the code printed to stdout."""
    return json.loads(result.stdout.strip().splitlines()[-1])


#: Prints the sandbox's PID namespace: how the host finds the sandbox's processes, root or not.
PIDNS = "import json, os; print(json.dumps(os.readlink('/proc/self/ns/pid')))"


def sandbox_processes(pidns: str) -> list[int]:
    """Host PIDs of the live processes in the PID namespace ``pidns`` (one sandbox's)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") != pidns:
                    continue
                state = (entry / "status").read_text().split("State:")[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                pids.append(int(entry.name))
    return pids


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(scope="session")
def kernel(course):
    """One sandboxed kernel for the checks that leave it intact; secrets sit in its env."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DS4023_DB_URL", "postgresql://grader:" + NOTEBOOK_SECRET + "@db/ds4023")
        km, kc = start(course)
    yield kc
    stop(km, kc)


def test_repository_and_scratch_course_are_unreachable(course, kernel):
    """Does student code find nothing of the repo, the spec folder, the gradebook or Bob?"""
    repo_paths = [COURSE_ROOT / n for n in ("source", "nbgrader_config.py", ".git", "ds4023")]
    spec = COURSE_ROOT.parent / "shared"
    scratch_paths = [course.scratch / "gradebook.db", course.scratch / "autograded" / "bob"]
    targets = [p for p in [*repo_paths, spec, *scratch_paths] if p.exists()]
    assert len(targets) >= len(repo_paths) + len(scratch_paths)  # the host really has them
    seen = run_json(
        kernel,
        f"""
        import json, os
        seen = {{}}
        for p in {[str(p) for p in targets]!r}:
            try:
                seen[p] = os.listdir(p) if os.path.isdir(p) else open(p).read(100)
            except OSError:
                pass
        repo = {str(COURSE_ROOT)!r}
        print(json.dumps([seen, sorted(os.listdir(repo)) if os.path.isdir(repo) else []]))
        """,
    )
    assert seen[0] == {}
    assert set(seen[1]) <= {".venv"}  # at most the venv is left of the repository


def test_base_interpreter_site_packages_is_masked(kernel):
    """Is the base interpreter's own site-packages (not the venv's) empty in the sandbox?"""
    base_site = run_json(
        kernel,
        """
        import json, os, sys, sysconfig
        base = {"base": sys.base_prefix, "platbase": sys.base_prefix}
        path = sysconfig.get_path("purelib", vars=base)  # absent for Debian's own Python
        seen = os.listdir(path) if os.path.isdir(path) else []
        print(json.dumps([seen, len(os.listdir(sysconfig.get_path("purelib")))]))
        """,
    )
    assert base_site[0] == [] and base_site[1] > 10


def test_own_folder_holds_data_but_no_notebook_or_symlink(course, kernel):
    """Does the kernel see its data files but not the notebook with hidden tests, nor symlinks?"""
    seen = run_json(
        kernel,
        """
        import json, os
        print(json.dumps([os.getcwd(), sorted(os.listdir(".")), open("ex4data1.mat", "rb").read()
                          .decode(), open("extra/notes.txt").read()]))
        """,
    )
    assert seen[0] == str(course.workdir)
    assert seen[1] == ["ex4data1.mat", "extra"]
    assert seen[2] == DATA.decode()
    assert seen[3] == "alice's notes"


def test_writes_stay_inside_the_sandbox(course, kernel):
    """Can the kernel add files but not change its data files, and does nothing reach the host?"""
    attempts = run_json(
        kernel,
        """
        import json, os

        def attempt(action):
            try:
                action()
                return "done"
            except OSError as err:
                return type(err).__name__

        print(json.dumps([
            attempt(lambda: os.remove("ex4data1.mat")),
            attempt(lambda: open("ex4data1.mat", "wb").write(b"forged")),
            attempt(lambda: os.rename("ex4data1.mat", "moved.mat")),
            attempt(lambda: os.chmod("ex4data1.mat", 0o666)),
            attempt(lambda: open("planted.py", "w").write("raise SystemExit")),
            attempt(lambda: open("/tmp/scratch-file", "w").write("x")),
            open("ex4data1.mat", "rb").read().decode(),
        ]))
        """,
    )
    # the data a test reads by name stays put (PermissionError as root, where the copies are
    # root's; otherwise read-only bind mounts: "Read-only file system", "Device or resource busy")
    assert all(a in ("PermissionError", "OSError") for a in attempts[:4]), attempts
    assert attempts[4:6] == ["done", "done"]  # new files are fine, and thrown away
    assert attempts[6] == DATA.decode()
    assert (course.workdir / "ex4data1.mat").read_bytes() == DATA
    assert not (course.workdir / "planted.py").exists()


def test_python_environment_is_read_only(kernel):
    """Can student code leave a sitecustomize.py or .pth in the venv, or files in /? No."""
    failures = run_json(
        kernel,
        """
        import json, site, sys
        targets = [site.getsitepackages()[0] + "/sitecustomize.py",
                   sys.prefix + "/lib/evil.pth", "/evil", "/usr/lib/evil",
                   sys.base_prefix + "/evil"]
        failed = []
        for t in targets:
            try:
                open(t, "w").close()
            except OSError:
                failed.append(t)
        print(json.dumps([len(targets), len(failed)]))
        """,
    )
    assert failures[0] == failures[1]


def test_course_package_is_not_importable(kernel):
    """Does ``import ds4023`` fail inside the kernel (the course package stays hidden)?"""
    result = run(kernel, "import ds4023")
    assert result.ename == "ModuleNotFoundError"


def test_scientific_stack_imports_and_plots(kernel):
    """Do numpy, scipy and matplotlib import and save a figure in the kernel's folder?"""
    result = run(
        kernel,
        """
        import numpy as np, scipy.io, scipy.optimize, matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.plot(np.arange(3)); plt.savefig("plot.png")
        print(scipy.optimize.minimize(lambda x: (x[0] - 3) ** 2, [0.0]).x.round(3))
        """,
    )
    assert result.status == "ok", result
    assert "[3.]" in result.stdout


def test_no_privileges_secrets_or_network(kernel):
    """Does the kernel run with no capabilities, no grader secrets and only loopback?"""
    seen = run_json(
        kernel,
        """
        import json, os, socket
        status = dict(l.split(":", 1) for l in open("/proc/self/status"))
        caps = [int(status[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")]
        try:
            init_env = open("/proc/1/environ").read()  # the sandbox's init got the grader's env
        except OSError:
            init_env = ""
        print(json.dumps([os.getuid(), caps, status["NoNewPrivs"].strip(),
                          json.dumps(dict(os.environ)) + init_env, socket.if_nameindex()]))
        """,
    )
    uid, caps, no_new_privs, environments, interfaces = seen
    assert uid != 0 and caps == [0] * 5 and no_new_privs == "1"
    assert NOTEBOOK_SECRET not in environments
    assert interfaces == [[1, "lo"]]


def test_host_loopback_is_unreachable(kernel):
    """Can the kernel connect to a service listening on the host's 127.0.0.1? No."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = run(kernel, f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)")
    assert result.ename == "ConnectionRefusedError"


def test_mount_umount_chroot_ptrace_userns_fail(kernel):
    """Do umount, mount, chroot, ptrace and a new user namespace all fail?"""
    seen = run_json(
        kernel,
        """
        import ctypes, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        here = os.getcwd().encode()
        wins = [libc.umount2(here, 2) == 0, libc.umount2(b"/", 2) == 0,
                libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0,
                libc.ptrace(16, 1, None, None) == 0,  # PTRACE_ATTACH to the sandbox's init
                libc.unshare(0x10000000 | 0x00020000) == 0]  # CLONE_NEWUSER | CLONE_NEWNS
        try:
            os.chroot("/tmp")
            wins.append(True)
        except OSError:
            wins.append(False)
        print(json.dumps(wins))
        """,
    )
    assert seen == [False] * 6


def test_processes_and_threads_still_work(kernel):
    """Do subprocess, multiprocessing and thread pools work under the seccomp filter?"""
    result = run(
        kernel,
        """
        import multiprocessing, subprocess
        from concurrent.futures import ThreadPoolExecutor
        print(subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())
        with multiprocessing.Pool(2) as pool:
            print(sum(pool.map(abs, [-1, -2, 3])))
        with ThreadPoolExecutor(8) as ex:
            print(sum(ex.map(lambda x: x * x, range(10))))
        """,
    )
    assert result.stdout.split() == ["child", "6", "285"], result


def test_hundred_gigabytes_raise_memory_error(kernel):
    """Does allocating 100 GB raise MemoryError while the kernel carries on?"""
    result = run(kernel, "import numpy as np\nx = np.ones(100 * 2**30 // 8)")
    assert result.ename == "MemoryError"
    result = run(kernel, "y = bytearray(100 * 2**30)")
    assert result.ename == "MemoryError"
    assert run(kernel, "print(6 * 7)").stdout.strip() == "42"


def test_infinite_loop_is_interrupted(course):
    """Does SIGINT (nbclient's timeout) turn an endless loop into KeyboardInterrupt?"""
    km, kc = start(course)
    try:
        # The race behind a failure under load ('' instead of 'alive'): with stop_on_error
        # (jupyter_client's default, not nbclient's when errors are allowed, as in nbgrader)
        # ipykernel aborts the requests that reach it right after a failed cell, so the next
        # cell came back "aborted" without output when it arrived quickly. Send as nbclient
        # does, interrupt only once the loop runs, and skip stale replies (wait_for_ready may
        # leave a second kernel_info_reply behind on a busy machine).
        code = "print('looping', flush=True)\nwhile True:\n    pass"
        msg_id = kc.execute(code, stop_on_error=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                break
        time.sleep(0.2)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert run(kc, "print('alive')").stdout.strip() == "alive"
    finally:
        stop(km, kc)


def test_fork_bomb_is_contained_and_cleaned_up(course):
    """Does a fork loop hit the process limit, and does shutdown kill every escaped child?"""
    km, kc = start(course, "small")
    try:
        pidns, forked, err = run_json(
            kc,
            """
            import json, os, time
            forked, err = 0, None
            for _ in range(1000):
                try:
                    pid = os.fork()
                except OSError as e:
                    err = e.errno
                    break
                if pid == 0:
                    os.setsid()  # leave the kernel's process group: only the PID namespace helps
                    time.sleep(300)
                    os._exit(0)
                forked += 1
            print(json.dumps([os.readlink("/proc/self/ns/pid"), forked, err]))
            """,
        )
        assert err == errno.EAGAIN and forked < SMALL.processes
        assert len(sandbox_processes(pidns)) > forked  # the children really run
        assert subprocess.run(["true"]).returncode == 0  # the host can still start processes
    finally:
        stop(km, kc)
    assert wait_until(lambda: not sandbox_processes(pidns)), "sandbox processes outlived the kernel"


def test_warnings_the_code_causes_go_to_stderr_not_into_its_printed_result(kernel):
    """Does a warning raised after the result is printed (here an explicit one, and on 3.12+
    the one ``os.fork()`` in a multi-threaded kernel gives) leave stdout's last line intact?"""
    code = """
        import json, os, warnings
        print(json.dumps({"printed": True}), flush=True)
        warnings.warn("careful", UserWarning)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        """
    result = run(kernel, code)  # once: a warning is shown once per place in the code
    assert result.status == "ok", result
    assert printed_value(result) == {"printed": True}
    assert "UserWarning: careful" in result.stderr
    # Python 3.12 started warning when a multi-threaded process forks (the kernel has threads)
    assert ("use of fork() may lead to deadlocks" in result.stderr) == (sys.version_info >= (3, 12))
    assert result.stdout == '{"printed": true}\n'


def test_os_exit_ends_only_the_kernel(course, kernel):
    """Does ``os._exit(1)`` end that kernel (status 1) and leave other kernels running?"""
    km, kc = start(course)
    pidns = run_json(kc, PIDNS)
    kc.execute("import os; os._exit(1)")
    try:
        assert km.provisioner.process.wait(timeout=20) == 1
        assert wait_until(lambda: not sandbox_processes(pidns))
        assert run(kernel, "print('still here')").stdout.strip() == "still here"
    finally:
        stop(km, kc)


def test_sys_exit_survives_and_segfault_ends_only_the_kernel(course, kernel):
    """Is ``sys.exit()`` caught by the kernel, and does a ctypes segfault end only that kernel?"""
    km, kc = start(course)
    try:
        assert run(kc, "import sys; sys.exit()").ename == "SystemExit"
        assert run(kc, "print('after exit')").stdout.strip() == "after exit"
        kc.execute("import ctypes; ctypes.string_at(0)")
        assert km.provisioner.process.wait(timeout=20) == 128 + signal.SIGSEGV
        assert run(kernel, "print('still here')").stdout.strip() == "still here"
    finally:
        stop(km, kc)


def test_killed_grader_takes_its_sandboxes_along(course):
    """When the grading process is SIGKILLed, do its sandboxed kernels end within seconds?"""
    script = f"""
        import sys, time
        sys.stdout.reconfigure(line_buffering=True)  # a pipe: the line must not wait in a buffer
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager
        ksm = KernelSpecManager(kernel_dirs=[{str(course.jupyter / "kernels")!r}])
        km = KernelManager(kernel_name={limits.KERNEL_NAME!r}, kernel_spec_manager=ksm)
        km.start_kernel(cwd={str(course.workdir)!r})
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("import os; print(os.readlink('/proc/self/ns/pid'), flush=True)",
                               timeout=60)
        time.sleep(300)
    """
    grader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        pidns = grader.stdout.readline().strip()
        assert sandbox_processes(pidns)
        grader.kill()
        grader.wait()
        assert wait_until(lambda: not sandbox_processes(pidns)), "the sandbox outlived its grader"
    finally:
        grader.kill()
        grader.stdout.close()


def test_kernel_refuses_to_start_outside_its_folder(course, tmp_path):
    """Does the launcher refuse a working directory outside the allowed folder?"""
    ksm = KernelSpecManager(kernel_dirs=[str(course.jupyter / "kernels")])
    km = KernelManager(kernel_name=limits.KERNEL_NAME, kernel_spec_manager=ksm)
    km.start_kernel(cwd=str(tmp_path))
    try:
        assert km.provisioner.process.wait(timeout=20) == EXIT_SETUP
    finally:
        km.cleanup_resources()


def test_isolated_network_refuses_tcp_transport(course):
    """Does a kernelspec that demands network isolation refuse the TCP transport?"""
    with pytest.raises(RuntimeError, match="died"):
        start(course, "iso", transport="tcp")


def test_tcp_transport_still_sandboxes_files(course):
    """With TCP (network shared), is the file system still hidden?"""
    km, kc = start(course, transport="tcp")
    try:
        seen = run_json(
            kc, f"import os; print(os.path.exists({str(course.scratch / 'gradebook.db')!r}) * 1)"
        )
        assert seen == 0
    finally:
        stop(km, kc)


def test_launcher_rechecks_hidden_paths(course):
    """Does a config that would show a hidden path (the venv) stop the kernel from starting?"""
    spec = course.jupyter / "kernels" / "tampered"
    spec.mkdir()
    original = course.jupyter / "kernels" / limits.KERNEL_NAME
    config = json.loads((original / "sandbox.json").read_text())
    config["hidden_paths"].append(config["venv"])
    (spec / "sandbox.json").write_text(json.dumps(config))
    kernel_json = json.loads((original / "kernel.json").read_text())
    kernel_json["argv"][4] = str(spec / "sandbox.json")
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    with pytest.raises(RuntimeError, match="died"):
        start(course, "tampered")


def test_write_kernelspec_rejects_exposing_hidden_paths(course, tmp_path):
    """Does write_kernelspec refuse a folder that contains the repo or the scratch course?"""
    hidden = kernelspec.default_hidden_paths(course.scratch)
    for bad in (COURSE_ROOT, course.scratch, course.scratch.parent):
        with pytest.raises(ValueError, match="hidden path"):
            kernelspec.write_kernelspec(tmp_path, bad, hidden)
    assert not (tmp_path / "kernels").exists()


def test_unavailable_sandbox_says_why_and_what_to_do(monkeypatch):
    """Without Linux or bubblewrap, is there one line saying why and what to do?"""
    reason = limits.unavailable_reason.__wrapped__
    monkeypatch.setattr(kernelspec.sys, "platform", "darwin")
    mac = reason()
    assert "macOS" in mac and "Linux" in mac and "--unsafe-no-sandbox" in mac
    monkeypatch.setattr(kernelspec.sys, "platform", "linux")
    monkeypatch.setattr(limits, "_bwrap", lambda: (None, ""))
    missing = reason()
    assert "bubblewrap" in missing and "apt-get install bubblewrap" in missing
    assert "--unsafe-no-sandbox" in missing
    assert all("\n" not in r for r in (mac, missing))


def test_limits_in_force_name_the_uid_and_the_cgroup_fallback():
    """Does the run's log line say who the kernels run as and whether cgroups cap them?"""
    line = limits.limits_in_force()
    assert ("throw-away uid" in line) == (os.geteuid() == 0)
    assert "256 processes per sandbox" in line and "256 MiB each" in line
    assert "cgroup v2 per sandbox" in line or "no per-sandbox CPU or memory cap" in line


def test_cgroup_parent_in_a_delegated_folder(tmp_path):
    """With a delegated cgroup (here a stand-in folder), are controllers enabled for sandboxes?"""
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    parent, why = limits.cgroup_parent(str(tmp_path / "grading"))
    assert parent == str(tmp_path / "grading") and why == ""
    assert (tmp_path / "grading" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    settings = limits._cgroup_settings(limits.Limits(cpu_cores=0.5, memory_bytes=2**30))
    assert settings["cpu.max"] == "50000 100000" and settings["pids.max"] == "256"


def test_writable_places_are_bounded_in_total(course):
    """Do 5 x 190 MB into each writable place fail for lack of room, the grader unaffected?"""
    km, kc = start(course)
    ipc_dir = os.path.dirname(km.ip)
    try:
        host_ipc = sorted(os.listdir(ipc_dir))
        free_before = os.statvfs(course.base).f_bavail * os.statvfs(course.base).f_frsize
        seen = run_json(
            kc,
            f"""
            import errno, json, os
            chunk = b"x" * (190 * 2**20)
            outcome = {{}}
            for place in (os.getcwd(), "/tmp", "/dev/shm", {ipc_dir!r}):
                written, err = 0, None
                for i in range(5):
                    try:
                        with open(os.path.join(place, f"fill-{{i}}"), "wb") as f:
                            f.write(chunk)
                        written += 1
                    except OSError as e:
                        err = errno.errorcode.get(e.errno, str(e.errno))
                        break
                for i in range(5):  # make room again for the next place
                    try:
                        os.remove(os.path.join(place, f"fill-{{i}}"))
                    except OSError:
                        pass
                outcome[place] = [written, err]
            print(json.dumps(outcome))
            """,
        )
        for place, (written, err) in seen.items():
            assert written < 2 and err == "ENOSPC", (place, written, err)
        assert run(kc, "print('still here')").stdout.strip() == "still here"
        assert sorted(os.listdir(ipc_dir)) == host_ipc  # nothing landed in the host's folder
        free_after = os.statvfs(course.base).f_bavail * os.statvfs(course.base).f_frsize
        assert free_before - free_after < 50 * 2**20
    finally:
        stop(km, kc)


def _mini_course(root: Path) -> None:
    """A one-function assignment whose test cell has a hidden part with a secret value."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        (
            "double",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            {"solution": True, "grade": False, "locked": False},
        ),
        (
            "test_double",
            f"assert double(1) == 2\n### BEGIN HIDDEN TESTS\nSECRET = "
            f"{NOTEBOOK_SECRET!r}\nassert double(21) == 42\n### END HIDDEN TESTS",
            {"solution": False, "grade": True, "locked": True, "points": 1},
        ),
    ]
    for grade_id, source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **meta}
        nb.cells.append(cell)
    (root / "source" / "ps1").mkdir(parents=True)
    nbformat.write(nb, root / "source" / "ps1" / "ps1.ipynb")
    (root / "source" / "ps1" / "data.mat").write_bytes(DATA)


@pytest.mark.filterwarnings("ignore:Object of type:Warning")  # nbgrader's own SQLAlchemy use
def test_nbgrader_autograde_runs_in_the_sandbox(tmp_path, monkeypatch):
    """With configure, does nbgrader grade in the sandbox, the hidden tests unreadable?"""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("JUPYTER_PATH", "")
    course_dir = tmp_path / "course"
    _mini_course(course_dir)
    cfg = Config()
    cfg.CourseDirectory.root = str(course_dir)
    cfg.CourseDirectory.course_id = "sandbox-test"
    cfg.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    assert NbGraderAPI(config=cfg).generate_assignment("ps1")["success"]
    submitted = course_dir / "submitted" / "alice" / "ps1"
    submitted.mkdir(parents=True)
    nb = nbformat.read(course_dir / "release" / "ps1" / "ps1.ipynb", as_version=4)
    nb.cells[0].source = textwrap.dedent(
        """
        import glob, os
        found = [p for p in glob.glob("**", recursive=True) if os.path.isfile(p)]
        print(sorted(found), any("HIDDEN" in open(p, errors="ignore").read() for p in found))
        def double(x):
            return 2 * x
        """
    )
    nbformat.write(nb, submitted / "ps1.ipynb")
    (submitted / "numpy.py").write_text("raise SystemExit('shadowed')")
    name = kernelspec.configure(cfg, course_dir, tmp_path / "jupyter", expose=("*.mat",))
    api = NbGraderAPI(config=cfg)
    assert api.autograde("ps1", "alice")["success"]
    out = nbformat.read(course_dir / "autograded" / "alice" / "ps1" / "ps1.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"].strip() == "['data.mat'] False"
    assert out.cells[1].outputs == []  # the hidden test ran and passed
    assert api.get_submission("ps1", "alice")["score"] == 1.0
    kernelspec.remove_kernelspec(tmp_path / "jupyter", name)
    assert not (tmp_path / "jupyter" / "kernels" / name).exists()


def test_kernelspec_folder_is_private_to_its_user(tmp_path):
    """Is a kernelspec folder that others could write (or another user's) refused?"""
    mine = kernelspec._private_folder(tmp_path / "specs")
    assert mine.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(limits.SandboxUnavailable, match="not a private folder"):
        kernelspec._private_folder(shared)
    assert str(os.getuid()) in kernelspec.KERNELS_DIR.name


def test_autograde_without_a_sandbox_is_one_line(monkeypatch, tmp_path, capsys):
    """Where the sandbox cannot run, does the grading command say why in one line, exit 2?"""
    from ds4023 import pipeline as batch_grade

    monkeypatch.setattr(kernelspec.sys, "platform", "darwin")
    reason = limits.unavailable_reason.__wrapped__()
    monkeypatch.setattr(limits, "unavailable_reason", lambda: reason)
    assert batch_grade.main(["--course", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "macOS" in err[0] and "--unsafe-no-sandbox" in err[0]


def test_socket_paths_cannot_be_turned_to_host_sockets(course, tmp_path):
    """If the kernel puts a symlink where its socket was, does the host still never connect to
    the symlink's target (here a Unix socket the test listens on)?"""
    import socket

    km, kc = start(course)
    try:
        hb_path = f"{km.ip}-{km.hb_port}"
        assert os.readlink(hb_path).startswith("/proc/")  # pinned to the socket the kernel bound
        lure = tmp_path / "lure.sock"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(lure))
            server.listen()
            server.settimeout(1)
            name = os.path.basename(hb_path)
            code = f"import os; os.chdir({os.path.dirname(km.ip)!r}); os.remove({name!r})\n"
            code += f"os.symlink({str(lure)!r}, {name!r})"
            assert run(kc, code).status == "ok"
            with socket.socket(socket.AF_UNIX) as client:
                try:  # still the socket the kernel bound (it listens even after the unlink)
                    client.connect(hb_path)
                except OSError:
                    pass
            with pytest.raises(TimeoutError):  # and never the lure
                server.accept()
    finally:
        stop(km, kc)
