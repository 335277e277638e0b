"""The local sandbox: bubblewrap namespaces, cgroup v1 limits and rlimits, host runtimes.

How one run is started (every step ``exec``\\s the next, so it is one process id)::

    sh (a launcher, parked ahead)    joins the run's cgroups
    -> setpriv --reuid=65534 ...     (only when the server runs as root)
    -> sh                            waits for one line on stdin: the path of a
                                     host-written script, which sets the run's rlimits
                                     with ``ulimit`` (CPU, file size, open files, core,
                                     [address space], [processes]) and then
    -> bwrap --unshare-all ...       (fresh namespaces, read-only system, tmpfs work dir,
                                     seccomp filter)
    -> the language's command

Why this shape:

- The uid is dropped *before* bwrap: bwrap started by root with ``--uid`` maps the
  sandbox user to root outside the namespace. Neither it nor the rlimits cost an exec
  on a run's critical path: the uid is dropped while the launcher is parked, and the
  limits are set by the shell's own ``ulimit`` (setting them from outside, with
  prlimit(2), would need CAP_SYS_RESOURCE, which containers often lack).
- Processes are put into their cgroups by the launcher itself, before anything runs,
  so no child can be forked outside them (cgroup v1 has no ``CLONE_INTO_CGROUP``).
  A few launchers are started ahead of time: on cgroup v1 the first migration after a
  pause waits for an RCU grace period (10-15 ms here), the largest cost of a run.
- bwrap runs the program under a pid-1 init in a new pid namespace with
  ``--die-with-parent``: when the program exits, or when we SIGKILL bwrap, the kernel
  kills everything left in that namespace (daemons, ``setsid`` children, stopped
  processes). The cgroup kill (freeze, SIGKILL, thaw) is the second line.
- Compiled output never lands on the host disk from inside the sandbox: the compiler
  works in a size-capped tmpfs and the result is streamed out as a tar archive, which
  the host unpacks (regular files and directories only) into the job's private directory.
  Runs see that directory read-only, bound file by file into a fresh size-capped tmpfs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import glob
import json
import logging
import math
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..aio import wait_ended
from .base import (
    CompileOutcome,
    Job,
    LimitHit,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    Sandbox,
    SandboxUnavailable,
    SourceFile,
    StdinSource,
    Stream,
)
from .common import (
    OutputCaps,
    OutputCapture,
    SandboxProgram,
    build_entries,
    compile_command,
    compile_result,
    heap_mb_for,
    manages_own_heap,
    probed_version,
    remove_tree,
)
from .common import (
    safe_relpath as _safe_relpath,
)
from .languages import Language

log = logging.getLogger(__name__)

#: The unprivileged user (``nobody``/``nogroup`` on Debian) sandboxed programs run as.
SANDBOX_UID = 65534
SANDBOX_GID = 65534
#: The work directory inside the sandbox (a size-capped tmpfs; the program's cwd).
BOX = "/box"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

# Host files a runtime needs from /etc (dynamic linker, alternatives symlinks, the
# JDK's configuration). The rest of /etc stays invisible: it is the host's business.
_ETC_BINDS = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
)
_ETC_GLOBS = ("/etc/java-*",)
_PASSWD = (
    "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
    f"nobody:x:{SANDBOX_UID}:{SANDBOX_GID}:nobody:/tmp:/usr/sbin/nologin\n"
)
_GROUP = f"root:x:0:\nnogroup:x:{SANDBOX_GID}:\n"
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"

# A parked launcher waits for one line on stdin naming a host-written script that
# ``exec``\s the run (bwrap, the command). Everything after that line on stdin is the
# program's. EOF instead of a line (the server went away): just exit.
_WAIT_SCRIPT = 'IFS= read -r script || exit 0; . "$script"'
# A launcher starts as ``sh`` as the server's user, joins the run's cgroups (named in
# its arguments up to ``--``), then either ``exec``\s what follows ``--`` (the uid drop,
# which ends in a ``sh`` running _WAIT_SCRIPT) or runs _WAIT_SCRIPT itself.
_LAUNCH_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
    '[ $# -eq 0 ] || exec "$@"; ' + _WAIT_SCRIPT
)
# The compile step inside the sandbox: compiler messages go to stderr, and after a
# successful compile the work dir goes to stdout as a tar archive.
_COMPILE_SCRIPT = '"$@" >&2 && exec tar -C ' + BOX + " -cf - ."

# How often the CPU watchdog reads the cgroup's CPU counter, at most and at least.
_CPU_POLL_MAX_S = 0.05
_CPU_POLL_MIN_S = 0.005
# How long to wait for the pipes to close once the program has exited and its
# namespace / cgroup has been killed. Only a process outside our control (unsafe mode
# without cgroups) can hold them open longer.
_DRAIN_TIMEOUT_S = 2.0
# How long to wait for a killed cgroup to become empty before giving up on it.
_CGROUP_EMPTY_TIMEOUT_S = 5.0
# Extra address space above the memory limit for runtimes under RLIMIT_AS: shared
# libraries, thread stacks and glibc's per-thread malloc arenas are reserved, not used.
_AS_FACTOR = 2
_AS_SLACK_MB = 256
# Processes in the run's pids cgroup that are not the program: bwrap's monitor and the
# pid-1 init of the new pid namespace.
_PIDS_OVERHEAD = 2
# Stream caps of the version probe.
_PROBE_LIMITS = Limits(
    cpu_time_ms=10_000, wall_time_ms=20_000, memory_mb=512, processes=64, output_kb=64
)
_STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
# Jobs of at most this many source files and bytes, and no build, are written and
# removed on the event loop (see LocalSandbox.prepare).
_INLINE_FILES = 8
_INLINE_BYTES = 64 * 1024
_CPUS = max(1, len(os.sched_getaffinity(0)))


# Syscalls no classroom program needs, denied with EPERM by a seccomp filter: large,
# often-exploited kernel surface (io_uring, bpf, perf, userfaultfd, keyrings), peeking
# at other processes (ptrace, process_vm_*), and namespace/mount/module/handle calls
# that a capability-less user should never reach anyway. x86_64 numbers.
_SECCOMP_DENY_X86_64 = {
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
    numbers = sorted(_SECCOMP_DENY_X86_64.values())
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


# --------------------------------------------------------------------------- cgroups


class _CgroupV1:
    """This sandbox's parent cgroups in the v1 controllers it uses.

    The parents are created below the server's own cgroup in each hierarchy, so runs
    stay inside whatever limits the operator put on the server itself.
    """

    WANTED = ("memory", "pids", "cpuacct", "freezer")

    def __init__(self, parents: dict[str, Path]) -> None:
        self.parents = parents
        self._counter = 0

    @classmethod
    def discover(cls) -> tuple[_CgroupV1 | None, str]:
        """The usable controllers, or None and why not."""
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
            membership = Path("/proc/self/cgroup").read_text()
        except OSError as exc:
            return None, f"cannot read /proc ({exc})"
        mounts: dict[str, Path] = {}
        for line in mountinfo.splitlines():
            left, _, right = line.partition(" - ")
            rparts = right.split()
            if len(rparts) < 3 or rparts[0] != "cgroup":
                continue
            mount_point = Path(left.split()[4])
            for opt in rparts[2].split(","):
                if opt in cls.WANTED:
                    mounts.setdefault(opt, mount_point)
        if "memory" not in mounts:
            return None, "no cgroup v1 memory controller is mounted"
        own: dict[str, str] = {}
        for line in membership.splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                for ctrl in parts[1].split(","):
                    own[ctrl] = parts[2]
        token = f"muscode-{os.getpid()}-{secrets.token_hex(4)}"
        parents: dict[str, Path] = {}
        for ctrl, mount in mounts.items():
            here = mount / own.get(ctrl, "/").lstrip("/")
            cls._remove_stale(here)
            parent = here / token
            try:
                parent.mkdir()
            except OSError as exc:
                if ctrl == "memory":
                    for made in parents.values():
                        with contextlib.suppress(OSError):
                            made.rmdir()
                    return None, f"cannot create a cgroup in {here} ({exc.strerror})"
                log.info("cgroup controller %s is not usable here (%s)", ctrl, exc.strerror)
                continue
            parents[ctrl] = parent
        return cls(parents), ""

    @staticmethod
    def _remove_stale(here: Path) -> None:
        """Remove empty leftovers of servers that died without cleaning up."""
        try:
            entries = list(here.glob("muscode-*-*"))
        except OSError:
            return
        for entry in entries:
            try:
                pid = int(entry.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or Path(f"/proc/{pid}").exists():
                continue
            for child in entry.glob("run-*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                entry.rmdir()

    def new_run(self) -> _RunCgroup:
        self._counter += 1
        name = f"run-{self._counter}-{secrets.token_hex(3)}"
        dirs: dict[str, Path] = {}
        try:
            for ctrl, parent in self.parents.items():
                path = parent / name
                path.mkdir()
                dirs[ctrl] = path
        except OSError:
            _RunCgroup(dirs).remove()
            raise
        return _RunCgroup(dirs)

    def remove(self) -> None:
        for parent in self.parents.values():
            for child in parent.glob("run-*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                parent.rmdir()


class _RunCgroup:
    """One run's cgroups (one directory per controller)."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    def _read(self, ctrl: str, name: str) -> str | None:
        path = self.dirs.get(ctrl)
        if path is None:
            return None
        try:
            return (path / name).read_text()
        except OSError:
            return None

    def _write(self, ctrl: str, name: str, value: str) -> bool:
        path = self.dirs.get(ctrl)
        if path is None:
            return False
        try:
            (path / name).write_text(value)
        except OSError:
            return False
        return True

    @property
    def has_pids(self) -> bool:
        return "pids" in self.dirs

    @property
    def has_cpu(self) -> bool:
        return "cpuacct" in self.dirs

    def activate(self) -> None:
        """A parked launcher's cgroup becomes a run's: its counters start from zero.

        (The name stays: renaming a cgroup directory costs about a millisecond each.)
        """
        # What the parked shell used before the run is not the program's.
        self._write("cpuacct", "cpuacct.usage", "0")
        self._write("memory", "memory.max_usage_in_bytes", "0")

    def set_limits(self, memory_mb: int, processes: int) -> None:
        limit = str(memory_mb * 1024 * 1024)
        if not self._write("memory", "memory.limit_in_bytes", limit):
            raise OSError("cannot set the cgroup memory limit")
        # No swap on top of the limit (the file is absent without swap accounting).
        self._write("memory", "memory.memsw.limit_in_bytes", limit)
        self._write("memory", "memory.swappiness", "0")
        self._write("pids", "pids.max", str(processes + _PIDS_OVERHEAD))

    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def cpu_ns(self) -> int | None:
        text = self._read("cpuacct", "cpuacct.usage")
        return int(text) if text and text.strip().isdigit() else None

    def memory_peak_kb(self) -> int | None:
        text = self._read("memory", "memory.max_usage_in_bytes")
        return int(text) // 1024 if text and text.strip().isdigit() else None

    def oom_kills(self) -> int:
        text = self._read("memory", "memory.oom_control") or ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def pids_limit_hit(self) -> bool:
        text = self._read("pids", "pids.events") or ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value) > 0
        return False

    def pids(self) -> set[int]:
        found: set[int] = set()
        for ctrl in self.dirs:
            text = self._read(ctrl, "cgroup.procs") or ""
            found.update(int(p) for p in text.split() if p.isdigit())
        return found

    async def kill_all(self) -> None:
        """SIGKILL every process in the run's cgroups, atomically when a freezer exists.

        Frozen tasks cannot fork or exit, so the list read while frozen is complete and
        no pid in it can be reused before the kill lands.
        """
        frozen = self._write("freezer", "freezer.state", "FROZEN")
        if frozen:
            for _ in range(200):
                if (self._read("freezer", "freezer.state") or "").strip() == "FROZEN":
                    break
                await asyncio.sleep(0.001)
        for _ in range(100):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if frozen:
                break
            await asyncio.sleep(0.001)
        if frozen:
            self._write("freezer", "freezer.state", "THAWED")

    async def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            await self.kill_all()
            await asyncio.sleep(0.005)
        return True

    def remove(self) -> bool:
        ok = True
        for path in self.dirs.values():
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok


# --------------------------------------------------------------------- process runs


@dataclass
class _Launcher:
    """A parked ``sh`` (see ``_LAUNCH_SCRIPT``) with the pipes of the run it will start.

    Parking it ahead of time takes the cgroup join off a run's critical path: on cgroup
    v1 the first migration after a pause waits for an RCU grace period (~10 ms here).
    """

    proc: subprocess.Popen[bytes]
    cgroup: _RunCgroup | None
    stdin_w: int
    stdout_r: int
    stderr_r: int
    status_r: int | None  # read end of bwrap's --json-status-fd pipe
    #: fd numbers the launcher holds for bwrap: "status", "passwd", "group", ...
    child_fds: dict[str, int] = field(default_factory=dict)

    def close_stdio(self) -> None:
        for fd in (self.stdin_w, self.stdout_r, self.stderr_r):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdin_w = self.stdout_r = self.stderr_r = -1

    def close_fds(self) -> None:
        self.close_stdio()
        if self.status_r is not None:
            with contextlib.suppress(OSError):
                os.close(self.status_r)
            self.status_r = None

    def discard(self) -> None:
        """Kill an unused launcher and release everything it holds."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(ChildProcessError):
                self.proc.wait()  # SIGKILLed while parked in read(): immediate
        self.close_fds()
        if self.cgroup is not None:
            self.cgroup.remove()


@dataclass
class _Spec:
    """Everything needed to start one sandboxed process from a launcher."""

    launcher: _Launcher
    script: str  # the exec line the launcher sources
    script_path: Path
    limits: Limits
    caps: OutputCaps
    cgroup: _RunCgroup | None
    cpu_hard_s: int | None = None
    uses_bwrap: bool = True


class _Execution:
    """One process tree's life: spawn, feed stdin, read capped output, enforce limits,
    kill and reap, measure. Never leaves a process or an fd behind."""

    def __init__(
        self,
        spec: _Spec,
        stdin: StdinSource,
        on_output: OutputCallback | None,
        background: set[asyncio.Future[Any]],
    ) -> None:
        self.spec = spec
        self.background = background
        self.stdin = stdin
        self.on_output = on_output
        self.loop = asyncio.get_running_loop()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pidfd: int | None = None
        self.reaped = False
        self.status: int | None = None
        self.rusage: Any = None
        # Events, not futures: a task cancelled while awaiting a future cancels that
        # future, and the cleanup after a cancellation still needs to wait on these.
        self.exited = asyncio.Event()
        self.t0 = 0.0
        self.t_exit = 0.0
        self.output = OutputCapture(spec.caps, on_output)
        self.eof: dict[Stream, asyncio.Event] = {
            "stdout": asyncio.Event(),
            "stderr": asyncio.Event(),
        }
        self.fds: dict[Stream, int] = {}
        self.stdin_fd: int | None = None
        self.kill_reason: LimitHit | None = None
        self.killed = False
        self.tasks: list[asyncio.Task[Any]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.kill_task: asyncio.Task[None] | None = None

    # -- lifecycle

    async def run(self) -> RunOutcome:
        try:
            self._spawn()
            await self._wait()
        except asyncio.CancelledError:
            self._kill(None)
            finish = asyncio.ensure_future(self._finish())
            self.background.add(finish)
            finish.add_done_callback(self.background.discard)
            try:
                await asyncio.shield(finish)
            finally:
                self._close_status()
            raise
        except BaseException:
            self._kill(None)
            try:
                await self._finish()
            finally:
                self._close_status()
            raise
        await self._finish()
        return self._outcome()

    def _close_status(self) -> None:
        launcher = self.spec.launcher
        if launcher.status_r is not None:
            os.close(launcher.status_r)
            launcher.status_r = None

    def _spawn(self) -> None:
        spec = self.spec
        launcher = spec.launcher
        self.proc = launcher.proc
        self.t0 = time.monotonic()
        # The launcher's fds now belong to this run (closed by _finish / _close_status).
        self.fds = {"stdout": launcher.stdout_r, "stderr": launcher.stderr_r}
        self.stdin_fd = launcher.stdin_w
        launcher.stdout_r = launcher.stderr_r = launcher.stdin_w = -1
        # One line: the script to source. The pipe is empty and far larger than it.
        os.write(self.stdin_fd, os.fsencode(str(spec.script_path)) + b"\n")
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.loop.add_reader(self.pidfd, self._on_exit)
        for stream, fd in self.fds.items():
            os.set_blocking(fd, False)
            self.loop.add_reader(fd, self._on_readable, stream)
        os.set_blocking(self.stdin_fd, False)
        self.tasks.append(asyncio.create_task(self._feed_stdin()))
        self.output.start()
        self.timer = self.loop.call_later(spec.limits.wall_time_ms / 1000, self._kill, "wall_time")
        if spec.cgroup is not None and spec.cgroup.has_cpu:
            self.tasks.append(asyncio.create_task(self._cpu_watchdog(spec.cgroup)))

    async def _wait(self) -> None:
        await self.exited.wait()
        # The program is gone; anything it left behind dies with its pid namespace or is
        # killed through the cgroup, which closes the last write ends of the pipes.
        if self.spec.cgroup is not None:
            if self.spec.cgroup.pids():
                await self.spec.cgroup.kill_all()
        elif not self.spec.uses_bwrap and self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(self._both_eof(), timeout=_DRAIN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("sandboxed process left its output pipes open; closing them")

    async def _both_eof(self) -> None:
        for event in self.eof.values():
            await event.wait()

    async def _finish(self) -> None:
        """Release everything; safe to call after a kill, at most once to completion."""
        if self.timer is not None:
            self.timer.cancel()
        if not self.reaped and self.proc is not None:
            if self.pidfd is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.exited.wait(), timeout=10)
            if not self.reaped:
                # Should not happen: SIGKILL cannot be ignored. Reap in a thread so the
                # zombie does not outlive us.
                log.error("sandboxed process %s did not exit after SIGKILL", self.proc.pid)
                await asyncio.to_thread(self._reap_blocking)
        for stream in _STREAMS:
            self._close_stream(stream)
        if self.pidfd is not None:
            self.loop.remove_reader(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None
        for task in self.tasks:
            task.cancel()
        await wait_ended(*self.tasks)
        self._close_stdin()
        await self.output.close()  # what was already read is delivered
        self.spec.launcher.close_stdio()  # whatever was never handed over
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await self.kill_task
        cg = self.spec.cgroup
        if cg is not None and not await cg.wait_empty(_CGROUP_EMPTY_TIMEOUT_S):
            log.error("processes survived in cgroup %s", cg.dirs)

    # -- events

    def _on_exit(self) -> None:
        if self.reaped or self.proc is None:
            return
        try:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        except ChildProcessError:
            # Someone else reaped our child (a waitpid(-1) SIGCHLD handler elsewhere in
            # the process): the status is lost.
            self.t_exit = time.monotonic()
            self._reaped(None, None)
            return
        if pid == 0:
            return
        self.t_exit = time.monotonic()
        self._reaped(status, rusage)

    def _reap_blocking(self) -> None:
        assert self.proc is not None
        _, status, rusage = os.wait4(self.proc.pid, 0)
        self.t_exit = time.monotonic()
        self._reaped(status, rusage)

    def _reaped(self, status: int | None, rusage: Any) -> None:
        assert self.proc is not None
        self.reaped = True
        self.status = status
        self.rusage = rusage
        # Tell Popen the child is gone so it never waits on a reused pid.
        self.proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else -1
        if self.timer is not None:
            self.timer.cancel()
        if self.pidfd is not None:
            self.loop.remove_reader(self.pidfd)
        self.exited.set()

    def _on_readable(self, stream: Stream) -> None:
        fd = self.fds.get(stream)
        if fd is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_stream(stream)
            return
        self._accept(stream, data)

    def _close_stream(self, stream: Stream) -> None:
        fd = self.fds.pop(stream, None)
        if fd is not None:
            self.loop.remove_reader(fd)
            os.close(fd)
        self.eof[stream].set()

    def _accept(self, stream: Stream, data: bytes) -> None:
        if not self.output.accept(stream, data):
            self._kill("output")

    async def _feed_stdin(self) -> None:
        fd = self.stdin_fd
        assert fd is not None
        try:
            if isinstance(self.stdin, (bytes, bytearray, memoryview)):
                await _write_all(self.loop, fd, bytes(self.stdin))
            else:
                async for chunk in self.stdin:
                    if not await _write_all(self.loop, fd, chunk):
                        break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reading the run's stdin failed")
        finally:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None:
            self.loop.remove_writer(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = None

    async def _cpu_watchdog(self, cg: _RunCgroup) -> None:
        limit_ns = self.spec.limits.cpu_time_ms * 1_000_000
        while not self.exited.is_set():
            used = cg.cpu_ns()
            if used is None:
                return
            if used > limit_ns:
                self._kill("cpu_time")
                return
            # The tree burns at most one ns of CPU per ns per core: poll before it can
            # have used what is left.
            wait = (limit_ns - used) / (_CPUS * 1e9)
            await asyncio.sleep(min(_CPU_POLL_MAX_S, max(_CPU_POLL_MIN_S, wait)))

    def _kill(self, reason: LimitHit | None) -> None:
        """Stop the whole tree now (idempotent). ``reason`` is the limit that fired."""
        if reason is not None and self.kill_reason is None and not self.killed:
            self.kill_reason = reason
        if self.killed or (self.reaped and self.spec.cgroup is None):
            return
        self.killed = True
        if self.proc is not None and not self.reaped:
            # Our child is unreaped, so its pid (and process group id) cannot have been
            # reused. SIGKILL on bwrap's monitor tears down the whole pid namespace.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.spec.cgroup is not None and self.kill_task is None:
            self.kill_task = asyncio.ensure_future(self.spec.cgroup.kill_all())

    # -- result

    def _bwrap_status(self) -> tuple[bool, int | None]:
        """(did bwrap start the program, the exit code bwrap reported)."""
        fd = self.spec.launcher.status_r
        if fd is None or not self.spec.uses_bwrap:
            self._close_status()
            return True, None
        chunks = []
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                chunks.append(data)
        self._close_status()
        started, code = False, None
        for raw in b"".join(chunks).decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(raw)
                if isinstance(doc, dict):
                    started = started or "child-pid" in doc
                    if isinstance(doc.get("exit-code"), int):
                        code = doc["exit-code"]
        return started, code

    def _outcome(self) -> RunOutcome:
        spec = self.spec
        cg = spec.cgroup
        out = self.output.outcome()
        out.wall_time_ms = max(0, round((self.t_exit - self.t0) * 1000))
        cpu_ns = cg.cpu_ns() if cg is not None else None
        if cpu_ns is not None:
            out.time_ms = cpu_ns // 1_000_000
        elif self.rusage is not None:
            out.time_ms = round((self.rusage.ru_utime + self.rusage.ru_stime) * 1000)
        peak = cg.memory_peak_kb() if cg is not None else None
        if peak is not None:
            out.memory_kb = peak
        elif self.rusage is not None:
            out.memory_kb = int(self.rusage.ru_maxrss)

        started, reported = self._bwrap_status()
        if self.status is None:
            out.error = "The sandbox lost track of the program's exit status."
            return out
        status = self.status
        if os.WIFSIGNALED(status):
            out.signal = os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
            if spec.uses_bwrap and 128 < code <= 128 + 64 and reported == code:
                # bwrap reports a program killed by signal N as exit code 128+N.
                out.signal = code - 128
            else:
                out.exit_code = code

        oom = cg.oom_kills() if cg is not None else 0
        hard_cpu_ms = (spec.cpu_hard_s or 0) * 1000
        if oom:
            out.limit_hit = "memory"
        elif self.kill_reason is not None:
            out.limit_hit = self.kill_reason
        elif out.signal == signal.SIGXCPU or (
            out.signal == signal.SIGKILL and hard_cpu_ms and out.time_ms >= hard_cpu_ms
        ):
            out.limit_hit = "cpu_time"
        elif out.signal == signal.SIGXFSZ:
            out.limit_hit = "file_size"
        elif cg is not None and cg.pids_limit_hit():
            out.limit_hit = "processes"

        if spec.uses_bwrap and not self.killed and not oom:
            if not started:
                out.error = "The sandbox could not be set up: " + _tail_text(out.stderr)
            elif reported is None and out.exit_code == 1 and out.stderr.startswith(b"bwrap: "):
                # bwrap itself failed to start the command (e.g. the runtime is missing).
                out.error = "The sandbox could not start the program: " + _tail_text(out.stderr)
        return out


@dataclass(frozen=True)
class _Ulimit:
    """How the launcher's ``sh`` spells ``ulimit``, which differs between shells: the
    option for RLIMIT_NPROC (bash, mksh: ``-u``; dash, BusyBox ash: ``-p``, which bash
    uses for the pipe size) and the block size of ``-f`` and ``-c`` (bash outside POSIX
    mode: 1024 bytes; the others: 512)."""

    nproc_flag: str = "-p"
    fsize_block: int = 512

    @classmethod
    def probe(cls, sh: str) -> _Ulimit:
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

    def lines(self, which: int, hard: int, soft: int | None = None) -> str:
        """Shell lines lowering one rlimit of the launcher to ``soft`` and ``hard`` (both
        ``hard`` when ``soft`` is None), in the rlimit's own units (seconds, bytes,
        counts). Never above the server's hard limit, which the launcher inherits and,
        unprivileged, cannot raise; a limit the shell cannot set ends the launch."""
        flag, unit = {
            resource.RLIMIT_CPU: ("-t", 1),
            resource.RLIMIT_FSIZE: ("-f", self.fsize_block),
            resource.RLIMIT_NOFILE: ("-n", 1),
            resource.RLIMIT_CORE: ("-c", self.fsize_block),
            resource.RLIMIT_AS: ("-v", 1024),
            resource.RLIMIT_NPROC: (self.nproc_flag, 1),
        }[which]
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        hard_units = hard // unit
        if soft is None or soft >= hard:
            return f"ulimit {flag} {hard_units} || exit 125\n"
        # The soft limit first: a hard limit below the current soft one is refused.
        return f"ulimit -S {flag} {soft // unit} && ulimit -H {flag} {hard_units} || exit 125\n"


def _data_fd(data: bytes, fds: list[int]) -> str:
    """A pipe holding ``data`` for bwrap to read (small: fits the pipe buffer)."""
    read_end, write_end = os.pipe()
    fds.append(read_end)
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return str(read_end)


def _count_processes(uid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid == uid:
                        count += 1
    return count


def _tail_text(data: bytes, limit: int = 500) -> str:
    return data[-limit:].decode("utf-8", errors="replace").strip() or "no message"


async def _write_all(loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> bool:
    """Write ``data`` to a non-blocking pipe; False when the reader has gone."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            ready = loop.create_future()

            def _wake(fut: asyncio.Future[None] = ready) -> None:
                if not fut.done():
                    fut.set_result(None)

            loop.add_writer(fd, _wake)
            try:
                await ready
            finally:
                loop.remove_writer(fd)
            continue
        except (BrokenPipeError, ConnectionResetError):
            return False
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                return False
            raise
        view = view[written:]
    return True


# ------------------------------------------------------------------------- sandbox


class LocalSandbox(Sandbox):
    """Runs programs on this machine with bubblewrap, cgroup v1 limits and rlimits.

    ``allow_unsafe``
        the operator's explicit single-user mode: when bubblewrap is missing or cannot
        create namespaces here, run programs without it (rlimits, and cgroups when
        writable; no filesystem or network isolation). Without it such a host refuses
        to run code (:class:`SandboxUnavailable`).
    ``work_root``
        where per-job directories are made (default: a private directory under the
        system temp dir, removed by :meth:`stop`).
    ``work_dir_mb``
        size of each writable tmpfs in the sandbox (``/box``, the cwd, and ``/tmp``);
        ``/dev/shm`` gets a quarter. All of it also counts against the memory limit.
    ``open_files``
        RLIMIT_NOFILE of sandboxed programs (the JVM needs a few dozen).
    ``extra_ro_binds``
        host paths shown read-only inside the sandbox at the same place, for runtimes
        installed outside ``/usr`` (e.g. ``/opt/jdk``).
    ``prestart``
        launchers kept parked in fresh cgroups, ready for the next runs (0: none);
        each is an idle ``sh``.
    """

    name = "local"

    def __init__(
        self,
        *,
        allow_unsafe: bool = False,
        work_root: str | None = None,
        work_dir_mb: int = 64,
        open_files: int = 256,
        extra_ro_binds: Sequence[str] = (),
        prestart: int = 2,
    ) -> None:
        self.allow_unsafe = allow_unsafe
        self.work_dir_mb = work_dir_mb
        self.open_files = open_files
        self.extra_ro_binds = tuple(extra_ro_binds)
        self.prestart = prestart
        self._pool: list[_Launcher] = []
        self._refill: asyncio.Handle | None = None
        self._host_binds: list[str] | None = None
        self._work_root_arg = work_root
        self._work_root: Path | None = None
        self._own_work_root = False
        self._is_root = os.geteuid() == 0
        self._bwrap = shutil.which("bwrap")
        self._setpriv = shutil.which("setpriv")
        self._sh = shutil.which("sh") or "/bin/sh"
        self._ulimit = _Ulimit()  # probed by start()
        self._init_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._initialised = False
        #: Cleanups that outlived their run (after a cancellation); awaited by stop().
        self._background: set[asyncio.Future[Any]] = set()
        self._mode: str | None = None  # "bwrap" | "unsafe" | None (unavailable)
        self._problem: str | None = None
        self._cgroups: _CgroupV1 | None = None
        self._versions: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._bwrap_opts: set[str] = set()
        self._seccomp = seccomp_filter()

    # -- public contract

    @property
    def mode(self) -> str | None:
        """``"bwrap"``, ``"unsafe"`` or None (cannot run code); known after start()."""
        return self._mode

    @property
    def work_root(self) -> Path | None:
        return self._work_root

    @property
    def cgroups_enabled(self) -> bool:
        return self._cgroups is not None

    async def start(self) -> None:
        await self._ensure_init()

    async def stop(self) -> None:
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None
        await asyncio.to_thread(self._discard_pool)
        loop = asyncio.get_running_loop()
        pending = [t for t in self._background if t.get_loop() is loop and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=15)
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        if self._own_work_root and self._work_root is not None:
            await asyncio.to_thread(shutil.rmtree, self._work_root, True)
        self._initialised = False
        self._host_binds = None

    async def check(self) -> str | None:
        await self._ensure_init()
        return self._problem if self._mode is None else None

    async def language_version(self, language: Language) -> str | None:
        if not language.version:
            return None
        key = (language.id, language.version)
        if key in self._versions:
            return self._versions[key]
        await self._ensure_init()
        version: str | None = None
        if self._mode is not None:
            job = Job(language=language, files=(), main=language.main_path())
            limits = _PROBE_LIMITS
            heap = heap_mb_for(limits.memory_mb)
            argv = language.command(language.version, main=job.main, heap_mb=heap)
            job_dir = await asyncio.to_thread(self._make_job_dir)
            try:
                outcome = await self._run_command(
                    argv,
                    job=job,
                    job_dir=job_dir,
                    limits=limits,
                    caps=OutputCaps(total=limits.output_kb * 1024),
                    stdin=b"",
                    on_output=None,
                )
            finally:
                await asyncio.to_thread(remove_tree, job_dir)
            version = probed_version(outcome)
        if version is not None:  # a miss is probed again next time
            self._versions[key] = version
        return version

    @contextlib.asynccontextmanager
    async def prepare(self, job: Job) -> AsyncIterator[Program]:
        await self._ensure_init()
        if self._mode is None:
            raise SandboxUnavailable(self._problem or "the local sandbox cannot run code")
        # A few small sources (the usual job) take less time to write and remove than
        # a hand-over to a thread would; the rest goes to a thread.
        small = (
            not job.language.compiled
            and len(job.files) <= _INLINE_FILES
            and sum(len(f.content) for f in job.files) <= _INLINE_BYTES
        )
        job_dir = (
            self._make_job_dir(job) if small else await asyncio.to_thread(self._make_job_dir, job)
        )
        try:
            program = _LocalProgram(self, job, job_dir)
            if job.language.compiled:
                program.compile = await self._compile(job, job_dir)
            yield program
        finally:
            if small:
                remove_tree(job_dir)
            else:
                await asyncio.to_thread(remove_tree, job_dir)

    # -- initialisation

    async def _ensure_init(self) -> None:
        if self._initialised:
            return
        loop = asyncio.get_running_loop()
        if self._init_lock is None or self._init_lock[0] is not loop:
            # A Lock belongs to one event loop; callers (tests, a worker thread) may
            # use this sandbox from more than one over its life.
            self._init_lock = (loop, asyncio.Lock())
        async with self._init_lock[1]:
            if self._initialised:
                return
            await self._initialise()
            self._initialised = True

    async def _initialise(self) -> None:
        self._work_root = await asyncio.to_thread(self._make_work_root)
        if self._is_root and self._setpriv is None:
            self._set_unavailable("the setpriv tool (util-linux) is not installed")
            return
        unreachable = await asyncio.to_thread(self._unreachable_work_root)
        if unreachable is not None:
            self._set_unavailable(unreachable)
            return
        self._ulimit = await asyncio.to_thread(_Ulimit.probe, self._sh)
        cgroups, why = await asyncio.to_thread(_CgroupV1.discover)
        self._cgroups = cgroups
        if cgroups is None:
            log.warning(
                "cgroup limits are not available (%s): memory is limited with RLIMIT_AS, "
                "processes with RLIMIT_NPROC, CPU time per process only",
                why,
            )
        reason: str | None
        if self._bwrap is None:
            reason = (
                "bubblewrap (bwrap) is not installed, so untrusted code cannot be isolated; "
                "install it (apt-get install bubblewrap)"
            )
        else:
            self._bwrap_opts = await asyncio.to_thread(_bwrap_options, self._bwrap)
            self._mode = "bwrap"
            if self._seccomp is None:
                log.warning(
                    "no seccomp filter for %s: sandboxed programs can make any system call",
                    platform.machine(),
                )
            reason = await self._probe()
            if reason is None:
                log.info(
                    "local sandbox ready (bubblewrap, cgroups %s)",
                    "on" if cgroups is not None else "off",
                )
                return
        # Launchers started for the bwrap probe carry bwrap's fds; start afresh.
        await asyncio.to_thread(self._discard_pool)
        if self.allow_unsafe:
            self._mode = "unsafe"
            self._problem = None
            log.warning(
                "UNSAFE MODE: %s; running programs without a sandbox (rlimits%s only), "
                "as the operator allowed",
                reason,
                " and cgroups" if cgroups is not None else "",
            )
            return
        self._set_unavailable(reason + ", or allow the unsafe single-user mode")

    def _remove_cgroup_later(self, cgroup: _RunCgroup) -> None:
        """A cgroup still busy right after a run: kill and retry in the background."""

        async def retry() -> None:
            if await cgroup.wait_empty(_CGROUP_EMPTY_TIMEOUT_S) and cgroup.remove():
                return
            log.error("could not remove cgroup %s", cgroup.dirs)

        task = asyncio.ensure_future(retry())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _set_unavailable(self, reason: str) -> None:
        self._mode = None
        self._problem = reason[:1].upper() + reason[1:] + "."
        log.error("local sandbox unavailable: %s", self._problem)

    async def _probe(self) -> str | None:
        """None when bwrap can build a sandbox here, with a job file bound, else why not."""
        job = Job(
            language=Language(id="probe", name="probe", extensions=(".txt",), run=("true",)),
            files=(SourceFile("probe.txt", b"probe\n"),),
            main="probe.txt",
        )
        job_dir = await asyncio.to_thread(self._make_job_dir, job)
        try:
            outcome = await self._run_command(
                ["cat", "probe.txt"],
                job=job,
                job_dir=job_dir,
                limits=_PROBE_LIMITS,
                caps=OutputCaps(total=64 * 1024),
                stdin=b"",
                on_output=None,
            )
        except OSError as exc:
            return f"bubblewrap could not be started ({exc})"
        finally:
            await asyncio.to_thread(remove_tree, job_dir)
        if outcome.error is not None or outcome.exit_code != 0 or outcome.stdout != b"probe\n":
            detail = outcome.error or _tail_text(outcome.stderr)
            return f"bubblewrap cannot create a sandbox on this host ({detail})"
        return None

    def _unreachable_work_root(self) -> str | None:
        """Why the sandbox user cannot reach the work root (bwrap binds job files from
        it as that user), or None."""
        assert self._work_root is not None
        if not self._is_root:
            return None
        path = self._work_root.resolve()
        for directory in [path, *path.parents]:
            st = directory.stat()
            if st.st_mode & stat.S_IXOTH:
                continue
            if st.st_gid == SANDBOX_GID and st.st_mode & stat.S_IXGRP:
                continue
            if st.st_uid == SANDBOX_UID and st.st_mode & stat.S_IXUSR:
                continue
            return (
                f"the work root {path} is not reachable by the sandbox user (uid {SANDBOX_UID}): "
                f"{directory} is not searchable by it; choose a work root whose parent "
                "directories are world-searchable (chmod o+x)"
            )
        return None

    def _make_work_root(self) -> Path:
        # Directory names carry the owning server's pid, so that leftovers of a server
        # that died without cleaning up (SIGKILL, power loss) are removed at the next
        # start without touching those of a server still running.
        if self._work_root_arg is not None:
            root = Path(self._work_root_arg)
            root.mkdir(parents=True, exist_ok=True)
            _remove_dead_owners(root, "job-")
        else:
            tmp = Path(tempfile.gettempdir())
            _remove_dead_owners(tmp, f"muscode-local-{os.getuid()}-")
            root = Path(tempfile.mkdtemp(prefix=f"muscode-local-{os.getuid()}-{os.getpid()}-"))
            self._own_work_root = True
        if self._is_root:
            # Traversable by the sandbox group only: bwrap (running as nobody) must reach
            # the job files to bind them; other host users must not.
            os.chown(root, 0, SANDBOX_GID)
            root.chmod(0o750)
        return root

    def _make_job_dir(self, job: Job | None = None) -> Path:
        """A private job directory, with ``job``'s sources written into its box."""
        assert self._work_root is not None
        job_dir = Path(tempfile.mkdtemp(prefix=f"job-{os.getpid()}-", dir=self._work_root))
        box = job_dir / "box"
        box.mkdir()
        if self._is_root:
            for path in (job_dir, box):
                os.chown(path, 0, SANDBOX_GID)
                path.chmod(0o750)
        if job is not None:
            try:
                self._write_sources(job, job_dir)
            except BaseException:
                remove_tree(job_dir)
                raise
        return job_dir

    def _write_sources(self, job: Job, job_dir: Path) -> None:
        box = job_dir / "box"
        for source in job.files:
            rel = _safe_relpath(source.path)
            _host_write(box, rel, source.content, executable=False, root=self._is_root)
        if self._mode == "unsafe" and self._is_root:
            # Without bwrap the program works in this directory directly, as nobody.
            for dirpath, dirnames, filenames in os.walk(box):
                for name in [*dirnames, *filenames, ""]:
                    os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_GID)

    # -- compile and run

    async def _compile(self, job: Job, job_dir: Path) -> CompileOutcome:
        limits = job.compile_limits
        argv = compile_command(job)
        in_bwrap = self._mode == "bwrap"
        if in_bwrap:
            argv = ["/bin/sh", "-c", _COMPILE_SCRIPT, "muscode-compile", *argv]
            # The archive of a full work dir, plus headers of many small files.
            tar_cap = (2 * self.work_dir_mb + 1) * 1024 * 1024
            caps = OutputCaps(stdout=tar_cap, stderr=limits.output_kb * 1024)
        else:
            caps = OutputCaps(total=limits.output_kb * 1024)
        outcome = await self._run_command(
            argv,
            job=job,
            job_dir=job_dir,
            limits=limits,
            caps=caps,
            stdin=b"",
            on_output=None,
        )
        if not in_bwrap:
            return await compile_result(outcome, outcome.stdout + outcome.stderr, limits)
        archive, outcome.stdout = outcome.stdout, b""

        async def collect() -> None:
            await asyncio.to_thread(_unpack_build, archive, job_dir / "box", job, self._is_root)

        return await compile_result(outcome, outcome.stderr, limits, collect)

    async def _run_command(
        self,
        command: list[str],
        *,
        job: Job,
        job_dir: Path,
        limits: Limits,
        caps: OutputCaps,
        stdin: StdinSource,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        launcher = self._take_launcher()
        cgroup = launcher.cgroup
        script_path = job_dir / f".launch-{secrets.token_hex(4)}"
        try:
            if cgroup is not None:
                cgroup.activate()
                cgroup.set_limits(limits.memory_mb, limits.processes)
            spec = self._build_spec(command, job, job_dir, limits, caps, launcher, script_path)
            # A few hundred bytes: written here rather than in a thread, which would
            # cost more than the write. Readable by the sandbox user that sources it.
            fd = os.open(script_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.fchmod(fd, 0o644)
                os.write(fd, spec.script.encode())
            finally:
                os.close(fd)
            return await _Execution(spec, stdin, on_output, self._background).run()
        finally:
            if launcher.proc.returncode is None:
                # Never started (an error before the hand-over): no one else will reap it.
                launcher.discard()
            launcher.close_fds()
            with contextlib.suppress(OSError):
                script_path.unlink()
            if cgroup is not None and not cgroup.remove():
                self._remove_cgroup_later(cgroup)

    # -- launchers

    def _take_launcher(self) -> _Launcher:
        """A parked launcher for the next run (spawned now if none is ready)."""
        launcher: _Launcher | None = None
        while self._pool:
            candidate = self._pool.pop(0)
            if candidate.proc.poll() is None:
                launcher = candidate
                break
            candidate.discard()
        if launcher is None:
            launcher = self._spawn_launcher()
        if self._refill is None:
            # Once this run is under way: a spawn costs the event loop about a ms.
            self._refill = asyncio.get_running_loop().call_soon(self._refill_soon)
        return launcher

    def _refill_soon(self) -> None:
        self._refill = None
        self._refill_pool()

    def _refill_pool(self) -> None:
        # Only a cgroup join is worth doing ahead of time; without cgroups a launcher
        # is just a shell, started when needed.
        if self._cgroups is None:
            return
        while len(self._pool) < self.prestart:
            try:
                self._pool.append(self._spawn_launcher())
            except OSError:
                log.exception("could not pre-start a sandbox launcher")
                return

    def _discard_pool(self) -> None:
        while self._pool:
            self._pool.pop().discard()

    def idle_cgroups(self) -> set[str]:
        """Names of the cgroups of launchers parked for future runs."""
        return {
            path.name
            for launcher in self._pool
            if launcher.cgroup is not None
            for path in launcher.cgroup.dirs.values()
        }

    def _spawn_launcher(self) -> _Launcher:
        cgroup = self._cgroups.new_run() if self._cgroups is not None else None
        parent_ends: list[int] = []
        child_ends: list[int] = []
        child_fds: dict[str, int] = {}
        status_r: int | None = None
        try:
            stdin_r, stdin_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            parent_ends += [stdin_w, out_r, err_r]
            child_ends += [stdin_r, out_w, err_w]
            if self._mode == "bwrap":
                status_r, status_w = os.pipe()
                parent_ends.append(status_r)
                child_ends.append(status_w)
                child_fds["status"] = status_w
                for name, content in (
                    ("passwd", _PASSWD.encode()),
                    ("group", _GROUP.encode()),
                    ("hosts", _HOSTS.encode()),
                    ("seccomp", self._seccomp),
                ):
                    if content is not None:
                        child_fds[name] = int(_data_fd(content, child_ends))
            joins = cgroup.procs_files() if cgroup is not None else []
            drop: list[str] = []
            if self._is_root:
                assert self._setpriv is not None
                drop = [
                    self._setpriv,
                    f"--reuid={SANDBOX_UID}",
                    f"--regid={SANDBOX_GID}",
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--no-new-privs",
                    "--",
                    self._sh,
                    "-c",
                    _WAIT_SCRIPT,
                    "muscode-launch",
                ]
            proc = subprocess.Popen(
                [self._sh, "-c", _LAUNCH_SCRIPT, "muscode-launch", *joins, "--", *drop],
                stdin=stdin_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=tuple(child_fds.values()),
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                # bwrap's pid 1 stays visible to the program: keep host paths out of its
                # environment (the shell exports PWD).
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            for fd in parent_ends:
                os.close(fd)
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        return _Launcher(
            proc=proc,
            cgroup=cgroup,
            stdin_w=stdin_w,
            stdout_r=out_r,
            stderr_r=err_r,
            status_r=status_r,
            child_fds=child_fds,
        )

    def _build_spec(
        self,
        command: list[str],
        job: Job,
        job_dir: Path,
        limits: Limits,
        caps: OutputCaps,
        launcher: _Launcher,
        script_path: Path,
    ) -> _Spec:
        cgroup = launcher.cgroup
        cpu_soft = max(1, math.ceil(limits.cpu_time_ms / 1000))
        if cgroup is not None and cgroup.has_cpu:
            # The cgroup watchdog enforces the exact total; the rlimit is the backstop
            # for a single process should the watchdog ever be late.
            cpu_soft += 1
        cpu_hard = cpu_soft + 1
        ulimit = self._ulimit
        prelude = (
            ulimit.lines(resource.RLIMIT_CPU, cpu_hard, cpu_soft)
            + ulimit.lines(resource.RLIMIT_FSIZE, limits.file_size_kb * 1024)
            + ulimit.lines(resource.RLIMIT_NOFILE, self.open_files)
            + ulimit.lines(resource.RLIMIT_CORE, 0)
        )
        if not manages_own_heap(job.language):
            # Makes a huge allocation fail at once (MemoryError, bad_alloc, NULL) instead
            # of succeeding untouched; the cgroup bounds what is actually used.
            address_space = (limits.memory_mb * _AS_FACTOR + _AS_SLACK_MB) * 1024 * 1024
            prelude += ulimit.lines(resource.RLIMIT_AS, address_space)
        if cgroup is None or not cgroup.has_pids:
            # Only a fallback: RLIMIT_NPROC counts every process of the uid on the host,
            # so allow for those that already exist.
            uid = SANDBOX_UID if self._is_root else os.getuid()
            nproc = limits.processes + _count_processes(uid)
            prelude += ulimit.lines(resource.RLIMIT_NPROC, nproc)

        env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        env.update(job.language.env)
        if self._mode == "bwrap":
            assert self._bwrap is not None
            # Paths inside the sandbox's own private tmpfs, not the host's /tmp.
            env.update({"HOME": "/tmp", "TMPDIR": "/tmp"})  # noqa: S108
            bwrap_args = self._bwrap_args(job_dir, env, launcher.child_fds)
            argv = [self._bwrap, *bwrap_args, "--", *command]
        else:
            # Unsafe mode: no bwrap to clear the environment and change directory.
            box = job_dir / "box"
            env.update({"HOME": str(box), "TMPDIR": str(box)})
            argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *command]
            prelude += f"cd {shlex.quote(str(box))} || exit 125\n"
        script = prelude + "exec " + " ".join(shlex.quote(arg) for arg in argv) + "\n"
        return _Spec(
            launcher=launcher,
            script=script,
            script_path=script_path,
            limits=limits,
            caps=caps,
            cgroup=cgroup,
            cpu_hard_s=cpu_hard,
            uses_bwrap=self._mode == "bwrap",
        )

    def _find_host_binds(self) -> list[str]:
        """bwrap arguments showing the host's system directories read-only. Looked up
        once per start (a runtime installed later needs a restart, as for its probe)."""
        args = ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        etc = [p for p in _ETC_BINDS if os.path.exists(p)]
        for pattern in _ETC_GLOBS:
            etc.extend(sorted(glob.glob(pattern)))
        for path in etc + list(self.extra_ro_binds):
            args += ["--ro-bind-try", path, path]
        return args

    def _bwrap_args(self, job_dir: Path, env: dict[str, str], fds: dict[str, int]) -> list[str]:
        size = self.work_dir_mb * 1024 * 1024
        sized = "--size" in self._bwrap_opts

        def tmpfs(dest: str, nbytes: int) -> list[str]:
            return (["--size", str(nbytes)] if sized else []) + ["--tmpfs", dest]

        args = [
            "--unshare-all",  # user, ipc, pid, net (loopback only), uts, cgroup
            "--unshare-user",
            "--die-with-parent",
            "--new-session",  # no TIOCSTI into a terminal we might have
            "--cap-drop",
            "ALL",
            "--hostname",
            "muscode",
        ]
        if "--disable-userns" in self._bwrap_opts:
            args.append("--disable-userns")  # no nested namespaces: less kernel surface
        if not self._is_root:
            args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        if self._host_binds is None:
            self._host_binds = self._find_host_binds()
        args += self._host_binds
        for name in ("passwd", "group", "hosts"):
            if "--perms" in self._bwrap_opts:
                args += ["--perms", "0444"]
            args += ["--ro-bind-data", str(fds[name]), f"/etc/{name}"]
        if "seccomp" in fds:
            args += ["--seccomp", str(fds["seccomp"])]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # These are fresh private tmpfs mounts inside the sandbox's mount namespace.
        args += tmpfs("/dev/shm", max(1, size // 4))  # noqa: S108
        args += ["--remount-ro", "/dev"]  # bwrap's /dev is an unbounded writable tmpfs
        args += tmpfs("/tmp", size)  # noqa: S108
        args += tmpfs(BOX, size)
        box = job_dir / "box"
        for entry in sorted(os.scandir(box), key=lambda e: e.name):
            # Only what the host wrote itself: regular files and directories.
            if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                continue
            args += ["--ro-bind", entry.path, f"{BOX}/{entry.name}"]
        args += ["--remount-ro", "/"]
        args.append("--clearenv")
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--chdir", BOX, "--json-status-fd", str(fds["status"])]
        return args


class _LocalProgram(SandboxProgram):
    def __init__(self, sandbox: LocalSandbox, job: Job, job_dir: Path) -> None:
        super().__init__(job)
        self.sandbox = sandbox
        self.job_dir = job_dir

    async def _run(
        self,
        argv: list[str],
        stdin: StdinSource,
        limits: Limits,
        caps: OutputCaps,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        return await self.sandbox._run_command(
            argv,
            job=self.job,
            job_dir=self.job_dir,
            limits=limits,
            caps=caps,
            stdin=stdin,
            on_output=on_output,
        )


# --------------------------------------------------------------------------- helpers


def _host_write(
    base: Path, rel: PurePosixPath, content: bytes, *, executable: bool, root: bool
) -> None:
    """Write one file below ``base`` without following any symlink on the way."""
    parent = base
    for part in rel.parts[:-1]:
        parent = parent / part
        try:
            parent.mkdir()
            if root:
                os.chown(parent, 0, SANDBOX_GID)
                parent.chmod(0o750)
        except FileExistsError:
            if parent.is_symlink() or not parent.is_dir():
                raise ValueError(f"{rel} is below something that is not a directory") from None
    mode = 0o750 if executable else 0o640
    fd = os.open(parent / rel.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        if root:
            os.fchown(fd, 0, SANDBOX_GID)
        os.fchmod(fd, mode)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _unpack_build(archive: bytes, box: Path, job: Job, root: bool) -> None:
    """Unpack what to keep of the compile step's archive into the job's box."""
    for entry in build_entries(archive, job):
        if entry.content is None:
            if not (box / entry.path).exists():
                _host_mkdirs(box, entry.path, root)
            continue
        _host_mkdirs(box, entry.path.parent, root)
        _host_write(box, entry.path, entry.content, executable=entry.executable, root=root)


def _host_mkdirs(base: Path, rel: PurePosixPath, root: bool) -> None:
    path = base
    for part in rel.parts:
        path = path / part
        if path.is_symlink():
            raise ValueError(f"{rel} crosses a symlink")
        if not path.exists():
            path.mkdir()
            if root:
                os.chown(path, 0, SANDBOX_GID)
                path.chmod(0o750)


def _remove_dead_owners(directory: Path, prefix: str) -> None:
    """Remove ``<prefix><pid>-*`` entries of ``directory`` whose pid is not running."""
    try:
        entries = list(directory.glob(prefix + "*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or entry.is_symlink() or not entry.is_dir():
            continue
        if int(pid_text) == os.getpid() or Path(f"/proc/{pid_text}").exists():
            continue
        log.info("removing %s, left behind by a server that is gone", entry)
        remove_tree(entry)


def _bwrap_options(bwrap: str) -> set[str]:
    """The options this bwrap understands (older versions lack --size and friends)."""
    try:
        result = subprocess.run(
            [bwrap, "--help"], capture_output=True, timeout=10, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return set(re.findall(r"--[a-z][a-z0-9-]*", result.stdout + result.stderr))
