"""The seccomp filter of the local sandbox: system calls no classroom program needs,
answered with ``EPERM``.

bwrap loads the classic-BPF program this module builds (``bwrap --seccomp FD``) into
every sandboxed process before the program starts; it cannot be removed from inside.
"""

from __future__ import annotations

import errno
import platform
import struct

# Syscalls no classroom program needs, denied with EPERM by a seccomp filter: large,
# often-exploited kernel surface (io_uring, bpf, perf, userfaultfd, keyrings), peeking
# at other processes (ptrace, process_vm_*), and namespace/mount/module/handle calls
# that a capability-less user should never reach anyway. x86_64 numbers.
DENIED_X86_64 = {
    "ptrace": 101,
    "syslog": 103,
    "pivot_root": 155,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
}


def seccomp_filter() -> bytes | None:
    """A classic-BPF seccomp program for bwrap's ``--seccomp``; None off x86_64.

    A 32-bit call (``int 0x80``, another audit arch) kills the process and x32 calls
    (numbers with bit 30 set) fail: the x86_64 numbers below would not match them.
    """
    if platform.machine() != "x86_64":
        return None
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    deny = 0x00050000 | errno.EPERM
    audit_arch_x86_64, x32_bit = 0xC000003E, 0x40000000
    numbers = sorted(DENIED_X86_64.values())
    prog: list[tuple[int, int, int, int]] = [
        (ld_abs, 0, 0, 4),  # A = seccomp_data.arch
        (jeq, 1, 0, audit_arch_x86_64),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # A = seccomp_data.nr
    ]
    deny_at = len(prog) + 1 + len(numbers) + 1  # index of the "deny" return
    prog.append((jge, deny_at - len(prog) - 1, 0, x32_bit))
    for number in numbers:
        prog.append((jeq, deny_at - len(prog) - 1, 0, number))
    prog.append((ret, 0, 0, allow))
    prog.append((ret, 0, 0, deny))
    return b"".join(struct.pack("=HBBI", *insn) for insn in prog)
