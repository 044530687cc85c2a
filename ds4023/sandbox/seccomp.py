"""Seccomp filter for the grading sandbox: refuses the system calls kernel escapes start from."""

# Without capabilities most of these fail anyway (mount, chroot, modules); the filter matters for
# the ones an unprivileged process may still call: new user namespaces (they hand back
# capabilities over fresh namespaces and expose much more kernel code), ptrace, bpf,
# userfaultfd, io_uring, kernel keyrings and perf_event_open.

from __future__ import annotations

import struct

#: AUDIT_ARCH_* value the kernel reports for native system calls of each machine.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: System call numbers refused with EPERM: name -> (x86_64, aarch64).
DENIED = {
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "ptrace": (101, 117),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "kexec_load": (246, 104),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "acct": (163, 89),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
}
CLONE = (56, 220)
CLONE3 = (435, 435)
#: clone() flags that create namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
#: NEWNET, NEWTIME); plain fork() and threads never set them.
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
NAMESPACE_FLAGS |= 0x20000000 | 0x40000000 | 0x00000080

LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL_PROCESS, ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
EPERM, ENOSYS = 1, 38


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_filter(machine: str) -> bytes | None:
    """Build the classic-BPF seccomp program for ``machine``.

    Args:
        machine: ``platform.machine()`` of the grading host.

    Returns:
        The packed ``struct sock_filter`` array, or None when the machine is not supported.
    """
    if machine not in AUDIT_ARCH:
        return None
    col = 0 if machine == "x86_64" else 1
    prog = [
        _op(LD_ABS, 4),  # seccomp_data.arch
        _op(JEQ, AUDIT_ARCH[machine], jt=1),
        _op(RET, KILL_PROCESS),  # a foreign ABI (i386 on x86_64) could dodge the numbers below
        _op(LD_ABS, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        prog += [_op(JGE, 0x40000000, jf=1), _op(RET, ERRNO | EPERM)]  # the x32 ABI
    for numbers in DENIED.values():
        prog += [_op(JEQ, numbers[col], jf=1), _op(RET, ERRNO | EPERM)]
    # clone3 passes its flags in memory the filter cannot read: say ENOSYS, libc falls back
    prog += [_op(JEQ, CLONE3[col], jf=1), _op(RET, ERRNO | ENOSYS)]
    prog += [
        _op(JEQ, CLONE[col], jf=3),
        _op(LD_ABS, 16),  # low half of args[0], the clone flags
        _op(JSET, NAMESPACE_FLAGS, jf=1),
        _op(RET, ERRNO | EPERM),
        _op(RET, ALLOW),
    ]
    return b"".join(prog)
