"""Tests for the sandbox's seccomp program: what it refuses, checked by running it on a model.

The program is classic BPF over ``struct seccomp_data`` (nr, arch, instruction pointer, args).
A tiny interpreter of the five instructions it uses runs it on made-up system calls, so each
test states a system call and the answer the kernel would give the sandbox. One test loads it
into the kernel for real, in a child process.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import subprocess
import sys
import textwrap

import pytest

from ds4023.sandbox import seccomp
from ds4023.sandbox.seccomp import (
    ALLOW,
    AUDIT_ARCH,
    CLONE,
    CLONE3,
    DENIED,
    ENOSYS,
    EPERM,
    ERRNO,
    KILL_PROCESS,
    NAMESPACE_FLAGS,
    build_filter,
)

CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
#: What glibc passes for fork() and pthread_create() (no namespace flags).
FORK_FLAGS = 0x01200011
THREAD_FLAGS = 0x003D0F00
#: System calls every Python kernel makes; they must pass.
ORDINARY = {"read": (0, 63), "write": (1, 64), "openat": (257, 56), "mmap": (9, 222)}


def _instructions(program: bytes) -> list[tuple[int, int, int, int]]:
    assert len(program) % 8 == 0
    return [struct.unpack("HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]


def run(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """The action the program returns for one system call (a model of the kernel's BPF)."""
    words = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    code, pc, acc = _instructions(program), 0, 0
    while True:
        op, jt, jf, k = code[pc]
        pc += 1
        if op == seccomp.LD_ABS:
            acc = struct.unpack_from("<I", words, k)[0]
        elif op in (seccomp.JEQ, seccomp.JGE, seccomp.JSET):
            hit = {seccomp.JEQ: acc == k, seccomp.JGE: acc >= k, seccomp.JSET: bool(acc & k)}[op]
            pc += jt if hit else jf
        elif op == seccomp.RET:
            return k
        else:
            raise AssertionError(f"unexpected BPF instruction {op:#x}")


@pytest.fixture(params=["x86_64", "aarch64"])
def machine(request):
    return request.param


def _col(machine: str) -> int:
    return 0 if machine == "x86_64" else 1


def test_x86_64_program_size_and_shape():
    """Is the x86_64 program whole sock_filter entries, checking the arch first, ending in ALLOW?"""
    program = build_filter("x86_64")
    code = _instructions(program)
    # arch check (3) + load nr (1) + x32 (2) + 2 per denied call + clone3 (2) + clone (5)
    assert len(code) == 4 + 2 + 2 * len(DENIED) + 2 + 5
    assert len(program) == 8 * len(code)
    assert code[0] == (seccomp.LD_ABS, 0, 0, 4)
    assert code[1][0] == seccomp.JEQ and code[1][3] == AUDIT_ARCH["x86_64"]
    assert code[-1] == (seccomp.RET, 0, 0, ALLOW)
    assert len(code) <= 4096  # BPF_MAXINSNS


def test_every_denied_number_is_in_the_x86_64_program():
    """Does each refused system call's x86_64 number appear as a comparison in the program?"""
    compared = {k for op, _, _, k in _instructions(build_filter("x86_64")) if op == seccomp.JEQ}
    assert {numbers[0] for numbers in DENIED.values()} <= compared


@pytest.mark.parametrize("name", sorted(DENIED))
def test_each_denied_call_gets_eperm(name, machine):
    """Is every listed system call refused with EPERM on both machines (not killed, not let by)?"""
    nr = DENIED[name][_col(machine)]
    assert run(build_filter(machine), nr, AUDIT_ARCH[machine]) == ERRNO | EPERM


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_ordinary_calls_are_allowed(name, machine):
    """Do the system calls any program makes pass?"""
    nr = ORDINARY[name][_col(machine)]
    assert run(build_filter(machine), nr, AUDIT_ARCH[machine]) == ALLOW


@pytest.mark.parametrize(
    "flags, action",
    [
        (FORK_FLAGS, ALLOW),
        (THREAD_FLAGS, ALLOW),
        (CLONE_NEWUSER, ERRNO | EPERM),
        (FORK_FLAGS | CLONE_NEWNS, ERRNO | EPERM),
        (CLONE_NEWNET, ERRNO | EPERM),
        (NAMESPACE_FLAGS, ERRNO | EPERM),
    ],
)
def test_clone_is_refused_only_with_namespace_flags(flags, action, machine):
    """May the sandbox fork and start threads, but not make namespaces through clone()?"""
    nr = CLONE[_col(machine)]
    assert run(build_filter(machine), nr, AUDIT_ARCH[machine], (flags,)) == action


def test_clone3_says_enosys_so_libc_falls_back_to_clone(machine):
    """Is clone3 (flags the filter cannot read) answered ENOSYS, not EPERM?"""
    nr = CLONE3[_col(machine)]
    assert run(build_filter(machine), nr, AUDIT_ARCH[machine]) == ERRNO | ENOSYS


def test_a_foreign_abi_kills_the_process():
    """Does an i386 system call on x86_64 (other numbers) kill the process instead of passing?"""
    i386 = 0x40000003
    assert run(build_filter("x86_64"), 26, i386) == KILL_PROCESS  # i386 ptrace is 26
    assert run(build_filter("aarch64"), 0, AUDIT_ARCH["x86_64"]) == KILL_PROCESS


def test_the_x32_abi_is_refused_on_x86_64():
    """Is every x32 system call (nr with bit 30 set) refused, e.g. x32 ptrace?"""
    x32_ptrace = 0x40000000 | 521
    assert run(build_filter("x86_64"), x32_ptrace, AUDIT_ARCH["x86_64"]) == ERRNO | EPERM


@pytest.mark.parametrize("other", ["i686", "armv7l", "riscv64", "ppc64le", ""])
def test_an_unknown_machine_has_no_filter(other):
    """Does a machine without numbers give None (the sandbox then runs without seccomp)?"""
    assert build_filter(other) is None


LOAD = textwrap.dedent(
    """
    import ctypes, errno, os, sys
    from ds4023.sandbox.seccomp import build_filter
    libc = ctypes.CDLL(None, use_errno=True)
    program = build_filter(os.uname().machine)
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
    prog = Prog(len(program) // 8, program)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        print("load failed", ctypes.get_errno()); sys.exit(3)
    if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
        print("unshare allowed"); sys.exit(4)
    print("unshare", errno.errorcode[ctypes.get_errno()])
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """
)


@pytest.mark.skipif(
    platform.machine() not in AUDIT_ARCH or not hasattr(ctypes.CDLL(None), "unshare"),
    reason="no seccomp numbers for this machine",
)
def test_the_kernel_accepts_the_program_and_enforces_it():
    """Does the real kernel load the program, refuse a user namespace and still allow fork?"""
    done = subprocess.run(
        [sys.executable, "-c", LOAD],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["unshare", "EPERM", "fork", "7"]
