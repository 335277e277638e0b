"""A run's rlimits, set by the sandbox's own shell with ``ulimit`` just before it
``exec``\\s the program, the same way in both backends.

rlimits are per process and bound what the cgroups cannot: CPU seconds per process
(the backstop behind the CPU watchdog), the size of a file written, open files, core
dumps, and, for runtimes that do not manage their own heap, the address space, so that
a huge allocation fails at once (``MemoryError``, ``std::bad_alloc``, ``NULL``) instead of
succeeding untouched. Where the cgroups do not count processes, RLIMIT_NPROC does.
"""

from __future__ import annotations

import math
import resource
import subprocess
from dataclasses import dataclass

from .base import Limits
from .languages import Language
from .programs import manages_own_heap

#: Address space above the memory limit for runtimes under RLIMIT_AS: shared libraries,
#: thread stacks and glibc's per-thread malloc arenas are reserved, not used.
AS_FACTOR = 2
AS_SLACK_MB = 256
#: The fewest open files a backend may be configured with: a runtime opens its own
#: libraries, and a program its stdio and pipes.
MIN_OPEN_FILES = 16


def address_space_bytes(limits: Limits) -> int:
    """RLIMIT_AS of a run under ``limits`` (for runtimes that do not manage their heap)."""
    return (limits.memory_mb * AS_FACTOR + AS_SLACK_MB) * 1024 * 1024


def cpu_rlimits(limits: Limits, *, watchdog: bool) -> tuple[int, int]:
    """RLIMIT_CPU soft and hard seconds of a run. With a CPU watchdog (which enforces the
    exact total of the whole tree) the soft limit is a second later: it is only the
    backstop for a single process should the watchdog ever be late."""
    soft = max(1, math.ceil(limits.cpu_time_ms / 1000)) + (1 if watchdog else 0)
    return soft, soft + 1


@dataclass(frozen=True)
class ShellUlimit:
    """How a shell spells ``ulimit``, which differs between shells: the option for
    RLIMIT_NPROC (bash, mksh: ``-u``; dash, BusyBox ash: ``-p``, which bash uses for the
    pipe size) and the block size of ``-f`` and ``-c`` (bash outside POSIX mode: 1024
    bytes; the others: 512). The defaults are dash's, the ``/bin/sh`` of the runner
    images."""

    nproc_flag: str = "-p"
    fsize_block: int = 512
    #: Never ask for more than this process's own hard limits: true where the shell
    #: inherits them (the local backend's launchers, which, unprivileged, cannot raise
    #: them); false in a container, whose limits the engine set.
    within_own_limits: bool = True

    @classmethod
    def probe(cls, sh: str) -> ShellUlimit:
        """The spelling of the shell ``sh`` (runs it twice)."""
        nproc = subprocess.run([sh, "-c", "ulimit -u"], capture_output=True, check=False)
        sized = subprocess.run(
            [sh, "-c", "ulimit -f 1 && exec cat /proc/self/limits"],
            capture_output=True,
            text=True,
            check=False,
        )
        block = 512
        for line in sized.stdout.splitlines():
            if line.startswith("Max file size"):
                value = line[len("Max file size") :].split()[0]
                block = int(value) if value.isdigit() else block
        return cls("-u" if nproc.returncode == 0 else "-p", block)

    def line(self, which: int, hard: int, soft: int | None = None) -> str:
        """A shell command lowering one rlimit to ``soft`` and ``hard`` (both ``hard``
        when ``soft`` is None), in the rlimit's own units (seconds, bytes, counts). A
        limit the shell cannot set ends the script (exit 125): a run never goes on
        without one of its limits."""
        flag, unit = {
            resource.RLIMIT_CPU: ("-t", 1),
            resource.RLIMIT_FSIZE: ("-f", self.fsize_block),
            resource.RLIMIT_NOFILE: ("-n", 1),
            resource.RLIMIT_CORE: ("-c", self.fsize_block),
            resource.RLIMIT_AS: ("-v", 1024),
            resource.RLIMIT_NPROC: (self.nproc_flag, 1),
        }[which]
        if self.within_own_limits:
            ceiling = resource.getrlimit(which)[1]
            if ceiling != resource.RLIM_INFINITY:
                hard = min(hard, ceiling)
        hard_units = hard // unit
        if soft is None or soft >= hard:
            return f"ulimit {flag} {hard_units} || exit 125"
        # The soft limit first: a hard limit below the current soft one is refused.
        return f"ulimit -S {flag} {soft // unit} && ulimit -H {flag} {hard_units} || exit 125"

    def run_limits(
        self,
        limits: Limits,
        language: Language,
        *,
        watchdog: bool,
        open_files: int | None = None,
        processes: int | None = None,
    ) -> list[str]:
        """The ``ulimit`` commands of one run (or compile step) of ``language``.

        ``watchdog``: a CPU watchdog enforces the exact total (see :func:`cpu_rlimits`).
        ``open_files``: RLIMIT_NOFILE, None where the engine sets it. ``processes``:
        RLIMIT_NPROC, None where a pids cgroup counts them.
        """
        soft, hard = cpu_rlimits(limits, watchdog=watchdog)
        lines = [
            self.line(resource.RLIMIT_CPU, hard, soft),
            self.line(resource.RLIMIT_FSIZE, limits.file_size_kb * 1024),
        ]
        if open_files is not None:
            lines.append(self.line(resource.RLIMIT_NOFILE, open_files))
        lines.append(self.line(resource.RLIMIT_CORE, 0))
        if not manages_own_heap(language):
            lines.append(self.line(resource.RLIMIT_AS, address_space_bytes(limits)))
        if processes is not None:
            lines.append(self.line(resource.RLIMIT_NPROC, processes))
        return lines
