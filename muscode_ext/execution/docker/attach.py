"""One run in a container, over the engine's attach socket: send the go line and
stdin, read and demultiplex stdout and stderr under their caps up to ``run.sh``'s end
markers, enforce the wall and CPU limits, kill, measure.

Output is read on the event loop from the raw socket. On the cap, the wall limit, the
CPU limit or cancellation the socket is closed *first* and the container killed
through the API (a kill while an attach stream is open can block for a minute). Once
the program has exited, ``run.sh`` writes an end marker on both streams (with the
run's nonce): the output ends there. The result never comes from the streams, which
the program shares: the exit status, the OOM kill and the end time come from the
engine (wait, inspect), CPU time, peak memory and the pids limit from the host's
cgroups (or the engine's stats). A program that reads PID 1's memory learns the nonce
and can print markers, but they only end its own output.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import re
import secrets
import socket
import struct
import termios
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ...aio import wait_ended
from ..base import LimitHit, Limits, OutputCallback, RunOutcome, StdinSource, Stream
from ..rlimits import cpu_rlimits
from ..streams import OutputCaps, OutputCapture, feed_stdin
from ..wallclock import WallClock
from ..watchdog import Sample, next_poll, watch_cpu
from .cgroups import HostCgroups
from .client import EngineClient
from .containers import Profile, Slot
from .scripts import END_MARK, GO

log = logging.getLogger(__name__)

# The Engine's stats endpoint is slow (a request per sample): poll it less often.
_API_POLL_S = 0.2
# Bound on how long we wait for a killed container to report its exit.
_WAIT_EXIT_S = 30
# How far below its memory limit a container's peak can stay when the OOM killer
# fires: the charge that failed (a few pages; a huge page's falls back to small ones).
_OOM_SLACK = 1 << 20
_HEADER = struct.Struct(">BxxxL")
_STREAM_IDS: dict[int, Stream] = {1: "stdout", 2: "stderr"}


@dataclass
class RunSpec:
    script: str
    files: Path  # the tree to show at /muscode/files
    limits: Limits
    caps: OutputCaps
    profile: Profile
    stdin: StdinSource = b""
    on_output: OutputCallback | None = None
    #: A compile step whose container waits for the job's first run if it succeeds.
    keep: bool = False


class Execution:
    """One container's run: attach, go, stream, enforce, kill, measure."""

    def __init__(
        self, engine: EngineClient, cgroups: HostCgroups | None, slot: Slot, spec: RunSpec
    ) -> None:
        self.engine = engine
        self.cgroups = cgroups
        self.slot = slot
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        assert slot.container_id is not None
        self.cid: str = slot.container_id
        self.output = OutputCapture(spec.caps, spec.on_output)
        self.kill_reason: LimitHit | None = None
        self.killed = False
        self.sock: Any = None
        self.raw: socket.socket | None = None
        self.t0 = 0.0
        #: ``t0`` on the wall clock, to place the engine's exit time.
        self.t0_epoch = 0.0
        self.t_end = 0.0
        self.cpu_base = 0
        self.cpu_used: int | None = None
        self.mem_base = 0
        self.mem_peak: int | None = None
        #: The container's peak memory in bytes, idle use included (None: unknown).
        self.peak: int | None = None
        self.pids_hit = False
        #: Set when the output streams ended or the container was killed.
        self.streams_done = asyncio.Event()
        #: Set once the engine reported the container stopped.
        self.exited = False
        self.tasks: list[asyncio.Task[Any]] = []
        self.clock: WallClock | None = None
        self.kill_task: asyncio.Future[None] | None = None
        self.nonce = secrets.token_hex(8).encode()
        self.marker = END_MARK + self.nonce + b" "
        self.pending: dict[Stream, bytes] = {"stdout": b"", "stderr": b""}
        #: The status each stream's end marker reported.
        self.ended: dict[Stream, int | None] = {"stdout": None, "stderr": None}
        #: The cgroup counters of the marker (OOM kills, forks refused by the pids
        #: limit): PID 1's word, only used to keep a build's container.
        self.oom_kills = 0
        self.forks_refused = 0
        #: The container lives on, attached, for the job's first run (``spec.keep``).
        self.kept = False

    async def run(self) -> RunOutcome:
        engine = self.engine
        self.sock, self.slot.sock = self.slot.sock, None
        if self.sock is None:
            self.sock = await engine.call(engine.attach, self.cid)
        raw = getattr(self.sock, "_sock", self.sock)
        if not isinstance(raw, socket.socket):
            raise RuntimeError("the docker connection does not expose a socket (TLS?)")
        # Nothing can have been buffered past the upgrade response: the container is
        # idle until the go line below.
        raw.setblocking(False)
        self.raw = raw
        cg, parent = self.cgroups, self.slot.cgroup_parent
        if cg is not None and parent is not None:
            # What PID 1's sh (and gVisor's sentry) used while idle is not the run's.
            self.cpu_base = cg.cpu_ns(parent) or 0
            self.mem_base = cg.memory_bytes(parent, peak=False) or 0
            cg.reset_peak(parent)
        self.t0, self.t0_epoch = time.monotonic(), time.time()
        live = not isinstance(self.spec.stdin, (bytes, bytearray, memoryview))
        self.clock = WallClock(self.spec.limits, self._kill, self._stdin_drained if live else None)
        self.output.start()
        self.tasks.append(self.loop.create_task(self._read()))
        self.tasks.append(self.loop.create_task(self._feed_stdin()))
        self.tasks.append(self.loop.create_task(self._watch()))
        await self.streams_done.wait()
        status = self.ended["stdout"]
        if cg is not None and parent is not None and not self.pids_hit:
            # One last look while the container's own cgroup may still exist.
            self.pids_hit = cg.pids_limit_hit(parent, self.cid)
        # A build that succeeded and hit no limit: its container waits, attached, for
        # the job's first run, so PID 1's marker is the only word on the build's end
        # (what the compiler runs could forge it, about its own build only).
        if (
            self.spec.keep
            and not self.killed
            and status == 0
            and self.ended["stderr"] == 0
            and not (self.oom_kills or self.forks_refused or self.pids_hit)
        ):
            self.exited = self.kept = True
            self.slot.sock, self.sock, self.raw = self.sock, None, None
            await self._stop_tasks()
            self._measure_final()
            return self._outcome({"ExitCode": 0, "OOMKilled": False})
        # Everything else comes from where the program cannot write: the exit status and
        # OOM kill from the engine, time and memory from the host's cgroups (or the
        # engine's stats). The markers only end the output: a program that reads PID
        # 1's memory can learn the nonce and print them itself. The wall timer and the
        # CPU watchdog stay armed until the engine says the container stopped (so do
        # they when a program closes its stdout and stderr early).
        limits = self.spec.limits
        waits = limits.idle_ms / 1000 if self.clock is not None and self.clock.waiting else 0
        await engine.call(
            engine.api.wait, self.cid, timeout=limits.wall_time_ms / 1000 + waits + _WAIT_EXIT_S
        )
        now = time.monotonic()
        self.exited = True
        await self._stop_tasks()
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await self.kill_task
        info = await engine.call(engine.api.inspect_container, self.cid)
        state = dict(info.get("State") or {})
        if not self.killed:
            # When the engine saw PID 1 exit, not when its report reached us (tens of ms
            # later); on this host's clock, within what we saw.
            finished = exit_epoch(state.get("FinishedAt"))
            at = now if finished is None else self.t0 + (finished - self.t0_epoch)
            self.t_end = min(now, max(self.t0, at))
        self._measure_final()
        limit = (info.get("HostConfig") or {}).get("Memory")
        if not self.killed and not state.get("OOMKilled"):
            # The engine's OOM event races with the exit it caused, and under gVisor it
            # can lose (measured: 2 of 20 memory bombs ended 137 with OOMKilled false,
            # their peak at the limit): a SIGKILL nobody here sent, with the container's
            # memory at its limit, is the OOM killer's.
            state["OOMKilled"] = killed_at_memory_limit(state.get("ExitCode"), limit, self.peak)
        return self._outcome(state)

    async def abort(self) -> None:
        """Kill and stop everything after a cancellation or an error (idempotent)."""
        self._kill(None)
        await self._stop_tasks()
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await self.kill_task

    # -- streams

    async def _read(self) -> None:
        assert self.raw is not None
        raw = self.raw
        buf = b""
        stream: Stream | None = None
        remaining = 0
        try:
            while True:
                data = await self.loop.sock_recv(raw, 65536)
                if not data:
                    break
                buf += data
                while buf:
                    if remaining == 0:
                        if len(buf) < _HEADER.size:
                            break
                        kind, remaining = _HEADER.unpack_from(buf)
                        stream = _STREAM_IDS.get(kind)
                        buf = buf[_HEADER.size :]
                        continue
                    # Hand partial frames over at once: a huge line must meet the cap
                    # as it arrives, not after it was buffered whole.
                    piece, buf = buf[:remaining], buf[remaining:]
                    remaining -= len(piece)
                    if stream is not None:
                        self._take(stream, piece)
                    if self.killed or self.streams_done.is_set():
                        return
            for name in _STREAM_IDS.values():
                # End of the streams without a marker: what was held back is output.
                held, self.pending[name] = self.pending[name], b""
                if held and self.ended[name] is None:
                    self._accept(name, held)
        except (ConnectionError, OSError):
            pass
        finally:
            self.streams_done.set()

    def _take(self, stream: Stream, piece: bytes) -> None:
        """Pass output on, up to this stream's end marker (which is never output)."""
        if self.ended[stream] is not None:
            return  # after the marker: what orphans of the program print as it ends
        data = self.pending[stream] + piece
        self.pending[stream] = b""
        while data:
            at = data.find(self.marker)
            if at < 0:
                break
            end = data.find(b"\n", at)
            if end < 0:
                if len(data) - at > len(self.marker) + 48:
                    at = -1  # too long for the status and counters: not a marker
                break
            fields = data[at + len(self.marker) : end].split(b" ")
            if len(fields) == 5 and all(f.isdigit() for f in fields):
                self._accept(stream, data[:at])
                self.ended[stream] = int(fields[0])
                self.oom_kills = max(self.oom_kills, int(fields[1]))
                self.forks_refused = max(self.forks_refused, int(fields[2]))
                if all(v is not None for v in self.ended.values()):
                    self.streams_done.set()
                return
            # Not ours after all: it is output.
            self._accept(stream, data[: end + 1])
            data = data[end + 1 :]
        else:
            return
        if at >= 0:
            self._accept(stream, data[:at])
            self.pending[stream] = data[at:]
            return
        # Hold back a tail that could be the start of the marker.
        zero = data.rfind(b"\0", max(0, len(data) - len(self.marker) + 1))
        if zero >= 0 and self.marker.startswith(data[zero:]):
            self._accept(stream, data[:zero])
            self.pending[stream] = data[zero:]
        else:
            self._accept(stream, data)

    def _accept(self, stream: Stream, data: bytes) -> None:
        if not self.output.accept(stream, data):
            self._kill("output")

    async def _feed_stdin(self) -> None:
        raw = self.raw
        assert raw is not None

        async def send(data: bytes) -> bool:
            try:
                await self.loop.sock_sendall(raw, data)
            except (ConnectionError, OSError):
                return False  # the program exited (or was killed) without reading it all
            return True

        first = GO + self.nonce + b"\n"
        if not await feed_stdin(self.spec.stdin, send, first=first, clock=self.clock):
            return
        if self.spec.keep:
            return  # the job's first run, in this container, feeds (and ends) stdin
        # End of input: the container was created with StdinOnce, so the engine closes
        # the program's stdin when we close our half.
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)

    def _stdin_drained(self) -> bool:
        """True when the engine has taken everything written to the attach socket (what
        it does with it next, the host does not see: the engine may be remote)."""
        raw = self.raw
        if raw is None:
            return True
        try:
            return unsent_bytes(raw) == 0
        except OSError:
            return True

    # -- limits

    async def _watch(self) -> None:
        """The CPU-time watchdog; on the way it samples the pids limit (and, without
        host cgroups, the Engine's stats)."""
        cg, parent = self.cgroups, self.slot.cgroup_parent
        limit_ns = self.spec.limits.cpu_time_ms * 1_000_000

        async def sample() -> Sample:
            wait = _API_POLL_S
            if cg is not None and parent is not None:
                used = cg.cpu_ns(parent)
                if used is not None:
                    self.cpu_used = max(0, used - self.cpu_base)
                    # One CPU of quota: look again after half of what is left.
                    wait = next_poll(limit_ns, self.cpu_used, 2)
                if not self.pids_hit:
                    self.pids_hit = cg.pids_limit_hit(parent, self.cid)
            else:
                stats = await self.engine.stats(self.cid)
                if stats is not None:
                    self.cpu_used, peak = stats
                    if peak is not None:
                        self.mem_peak = max(self.mem_peak or 0, peak)
            return self.cpu_used, wait

        await watch_cpu(
            sample,
            limit_ns,
            lambda: self._kill("cpu_time"),
            lambda: not self.exited and not self.killed,
        )

    def _kill(self, reason: LimitHit | None) -> None:
        """Stop the container now (idempotent); ``reason`` is the limit that fired."""
        if self.killed or self.exited:
            return
        self.killed = True
        self.kill_reason = reason
        self.t_end = time.monotonic()
        self.streams_done.set()
        # Close the attach socket *before* the kill: the engine can block a kill for a
        # minute while an attach stream is open.
        self._close_socket()
        self.kill_task = asyncio.ensure_future(self.engine.kill(self.cid))

    def _close_socket(self) -> None:
        raw, sock = self.raw, self.sock
        self.raw = self.sock = None
        if raw is not None:
            # The reader and writer may wait in sock_recv/sock_sendall on this fd: take
            # it out of the selector before the fd is closed (and maybe reused).
            with contextlib.suppress(Exception):
                self.loop.remove_reader(raw.fileno())
            with contextlib.suppress(Exception):
                self.loop.remove_writer(raw.fileno())
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                raw.close()
        if sock is not None:
            # The SDK's file object holds a reference to the socket: close it too, or
            # the fd stays open.
            with contextlib.suppress(Exception):
                sock.close()

    async def _stop_tasks(self) -> None:
        if self.clock is not None:
            self.clock.stop()
        for task in self.tasks:
            task.cancel()
        await wait_ended(*self.tasks)
        self.tasks.clear()
        self._close_socket()
        await self.output.close()  # what was already read is delivered

    # -- result

    def _measure_final(self) -> None:
        cg, parent = self.cgroups, self.slot.cgroup_parent
        if cg is None or parent is None:
            # No host cgroupfs: the Engine's last samples stand (the container's own
            # counters, which run.sh prints, are not the program's to report).
            self.peak = self.mem_peak
            return
        # The container's own cgroup is gone by now; its parent's hierarchical counters
        # still hold everything it used.
        used = cg.cpu_ns(parent)
        if used is not None:
            # Never below what the watchdog already saw: a run it stopped for its CPU
            # limit reports at least that limit (gVisor's accounting can read lower).
            self.cpu_used = max(self.cpu_used or 0, used - self.cpu_base)
        peak = cg.memory_bytes(parent, peak=True)
        if peak is not None:
            self.peak = peak
            self.mem_peak = max(0, peak - self.mem_base)

    def usage(self) -> RunOutcome:
        """What the run printed and used so far (after :meth:`abort`: up to the stop)."""
        if self.t0 == 0.0:
            return self.output.outcome()  # stopped before the program was told to go
        if not self.exited and self.t_end == 0.0:
            self.t_end = time.monotonic()
        self._measure_final()
        return self._usage(self.output.outcome())

    def _usage(self, out: RunOutcome) -> RunOutcome:
        out.wall_time_ms = max(0, round((self.t_end - self.t0) * 1000))
        if self.clock is not None:
            out.input_wait_ms = min(out.wall_time_ms, self.clock.input_wait_ms)
        out.time_ms = (self.cpu_used or 0) // 1_000_000
        out.memory_kb = (self.mem_peak or 0) // 1024
        return out

    def _outcome(self, state: dict[str, Any]) -> RunOutcome:
        out = self._usage(self.output.outcome())
        code = state.get("ExitCode")
        if self.killed:
            out.signal = 9  # our own SIGKILL through the engine
        elif isinstance(code, int) and 128 < code <= 128 + 64:
            # sh (PID 1) reports a program killed by signal N as 128+N, and so does the
            # engine when PID 1 itself is killed.
            out.signal = code - 128
        elif isinstance(code, int):
            out.exit_code = code
        hard_cpu_ms = cpu_rlimits(self.spec.limits, watchdog=True)[1] * 1000
        if state.get("OOMKilled"):
            out.limit_hit = "memory"
        elif self.kill_reason is not None:
            out.limit_hit = self.kill_reason
        elif out.signal == 24 or (out.signal == 9 and out.time_ms >= hard_cpu_ms):  # SIGXCPU
            out.limit_hit = "cpu_time"
        elif out.signal == 25:  # SIGXFSZ
            out.limit_hit = "file_size"
        elif self.pids_hit:
            out.limit_hit = "processes"
        if not self.killed and state.get("Error"):
            out.error = f"The container failed: {state['Error']}"
        return out


def unsent_bytes(sock: socket.socket) -> int:
    """What ``sock`` holds that its peer has not taken yet (0: all of it taken)."""
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0])


def killed_at_memory_limit(exit_code: object, limit: object, peak: int | None) -> bool:
    """True when a container that ended by SIGKILL (``exit_code`` 137) had its memory
    ``peak`` at its ``limit`` (bytes; within what one failed charge leaves below it)."""
    if exit_code != 128 + 9 or not isinstance(limit, int) or limit <= 0 or peak is None:
        return False
    return peak >= limit - _OOM_SLACK


_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def exit_epoch(text: object) -> float | None:
    """The Engine's ``FinishedAt`` (RFC 3339, nanoseconds) as seconds since the epoch."""
    match = _ISO_TIME.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    try:
        at = datetime.fromisoformat(whole + zone).timestamp()
    except ValueError:
        return None
    if at <= 0:
        return None  # "0001-01-01T00:00:00Z": not finished
    return at + (float("0." + fraction) if fraction else 0.0)
