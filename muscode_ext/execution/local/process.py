"""One local run's process tree: spawn it from a launcher, feed its stdin, read its
capped output, enforce the wall and CPU limits, kill and reap it, measure it.

The program's pid is the launcher's. It is reaped through a pidfd on the event loop;
stdout and stderr are non-blocking pipes read there too. A limit, a cancellation or
the output cap SIGKILLs bwrap's monitor, which tears down the whole pid namespace, and
kills the run's cgroups (freeze, SIGKILL, thaw) as the second line. Nothing is left
behind: no process, no fd, no cgroup member.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...aio import wait_ended
from ..base import LimitHit, Limits, OutputCallback, RunOutcome, StdinSource, Stream
from ..streams import OutputCaps, OutputCapture, feed_stdin
from ..wallclock import WallClock
from ..watchdog import Sample, next_poll, watch_cpu
from .cgroups import EMPTY_TIMEOUT_S, RunCgroup
from .launchers import Launcher

log = logging.getLogger(__name__)

# How long to wait for the pipes to close once the program has exited and its
# namespace / cgroup has been killed. Only a process outside our control (unsafe mode
# without cgroups) can hold them open longer.
_DRAIN_TIMEOUT_S = 2.0
_STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
_CPUS = max(1, len(os.sched_getaffinity(0)))


@dataclass
class Spec:
    """Everything needed to start one sandboxed process from a launcher."""

    launcher: Launcher
    script: str  # the exec line the launcher sources
    script_path: Path
    limits: Limits
    caps: OutputCaps
    cgroup: RunCgroup | None
    cpu_hard_s: int | None = None
    uses_bwrap: bool = True


class Execution:
    """One process tree's life: spawn, feed stdin, read capped output, enforce limits,
    kill and reap, measure. Never leaves a process or an fd behind."""

    def __init__(
        self,
        spec: Spec,
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
        self.clock: WallClock | None = None
        #: What the run had used when it was cancelled (see ``Program.stopped``).
        self.usage: RunOutcome | None = None
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
                self.usage = self._usage(self.output.outcome())
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
        live = not isinstance(self.stdin, (bytes, bytearray, memoryview))
        self.clock = WallClock(spec.limits, self._kill, self._stdin_drained if live else None)
        self.tasks.append(asyncio.create_task(self._feed_stdin()))
        self.output.start()
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
        if self.clock is not None:
            self.clock.stop()
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
        if cg is not None and not await cg.wait_empty(EMPTY_TIMEOUT_S):
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
        if self.clock is not None:
            self.clock.stop()
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
            await feed_stdin(
                self.stdin, lambda data: _write_all(self.loop, fd, data), clock=self.clock
            )
        finally:
            self._close_stdin()

    def _stdin_drained(self) -> bool:
        """True when the program has read everything written to its stdin pipe."""
        fd = self.stdin_fd
        if fd is None:
            return True
        try:
            return unread_bytes(fd) == 0
        except OSError:
            return True

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None:
            self.loop.remove_writer(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = None

    async def _cpu_watchdog(self, cg: RunCgroup) -> None:
        limit_ns = self.spec.limits.cpu_time_ms * 1_000_000

        async def sample() -> Sample:
            used = cg.cpu_ns()
            return used, None if used is None else next_poll(limit_ns, used, _CPUS)

        await watch_cpu(
            sample, limit_ns, lambda: self._kill("cpu_time"), lambda: not self.exited.is_set()
        )

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

    def _usage(self, out: RunOutcome) -> RunOutcome:
        """``out`` with the run's wall time, CPU time and peak memory filled in."""
        cg = self.spec.cgroup
        end = self.t_exit if self.reaped and self.t_exit else time.monotonic()
        out.wall_time_ms = max(0, round((end - self.t0) * 1000))
        if self.clock is not None:
            out.input_wait_ms = min(out.wall_time_ms, self.clock.input_wait_ms)
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
        return out

    def _outcome(self) -> RunOutcome:
        spec = self.spec
        cg = spec.cgroup
        out = self._usage(self.output.outcome())

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
                out.error = "The sandbox could not be set up: " + tail_text(out.stderr)
            elif reported is None and out.exit_code == 1 and out.stderr.startswith(b"bwrap: "):
                # bwrap itself failed to start the command (e.g. the runtime is missing).
                out.error = "The sandbox could not start the program: " + tail_text(out.stderr)
        return out


def unread_bytes(fd: int) -> int:
    """How many bytes wait in the pipe ``fd`` (either end) for its reader."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def tail_text(data: bytes, limit: int = 500) -> str:
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
