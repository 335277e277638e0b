"""A run's streams on the host side, the same for both backends: stdin fed in as the
program reads it, stdout and stderr captured under byte caps and passed on in order."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..aio import wait_ended
from .base import OutputCallback, RunOutcome, StdinSource, Stream
from .wallclock import WallClock

log = logging.getLogger(__name__)

#: Writes bytes to the program's stdin; False once the program no longer reads it.
StdinWriter = Callable[[bytes], Awaitable[bool]]


async def feed_stdin(
    stdin: StdinSource,
    write: StdinWriter,
    *,
    first: bytes = b"",
    clock: WallClock | None = None,
) -> bool:
    """Write ``first`` (a backend's own go line), then the run's stdin, through ``write``.

    Bytes go in one write; an async source chunk by chunk as it yields them, telling
    ``clock`` when the feeder waits for the next chunk, when one arrives and when the
    source ends (see :class:`~.wallclock.WallClock`). Returns False when the program
    stopped reading (it exited, or was killed); True when all of stdin was written, or
    the source failed (logged): either way the input has ended, and the caller closes
    the program's stdin.
    """
    try:
        if isinstance(stdin, (bytes, bytearray, memoryview)):
            return await write(first + bytes(stdin))
        if first and not await write(first):
            return False
        chunks = aiter(stdin)
        while True:
            if clock is not None:
                clock.awaiting_input()
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            if not chunk:
                continue  # nothing new: the program still waits, the clock stays paused
            if clock is not None:
                clock.input_arrived()
            if not await write(chunk):
                return False
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("reading the run's stdin failed")
    finally:
        if clock is not None:
            clock.input_ended()
    return True


@dataclass
class OutputCaps:
    """Byte caps on what is kept of a run's output: both streams together, or each."""

    total: int | None = None
    stdout: int | None = None
    stderr: int | None = None


class OutputCapture:
    """What a run printed, kept up to the caps and passed on to ``on_output`` in order.

    ``accept`` keeps what fits and returns False once a cap cut something off (the
    caller then stops the run). ``on_output`` is called from a task of its own, started
    by ``start``, so a slow consumer never holds up reading; ``close`` delivers what was
    accepted, then ends that task. A callback that raises gets no more output.
    """

    def __init__(self, caps: OutputCaps, on_output: OutputCallback | None) -> None:
        self.caps = caps
        self.on_output = on_output
        self.buffers: dict[Stream, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated: dict[Stream, bool] = {"stdout": False, "stderr": False}
        self._queue: asyncio.Queue[tuple[Stream, bytes] | None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.on_output is not None and self._dispatcher is None:
            self._queue = asyncio.Queue()
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def accept(self, stream: Stream, data: bytes) -> bool:
        caps = self.caps
        keep = len(data)
        stream_cap = caps.stdout if stream == "stdout" else caps.stderr
        if stream_cap is not None:
            keep = min(keep, max(0, stream_cap - len(self.buffers[stream])))
        if caps.total is not None:
            used = len(self.buffers["stdout"]) + len(self.buffers["stderr"])
            keep = min(keep, max(0, caps.total - used))
        if keep:
            chunk = data[:keep]
            self.buffers[stream] += chunk
            if self._queue is not None:
                self._queue.put_nowait((stream, chunk))
        if keep < len(data):
            self.truncated[stream] = True
            return False
        return True

    async def close(self) -> None:
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None and self._queue is not None:
            self._queue.put_nowait(None)
            await wait_ended(dispatcher)

    def outcome(self) -> RunOutcome:
        """A RunOutcome holding the output; the backend adds the rest."""
        return RunOutcome(
            stdout=bytes(self.buffers["stdout"]),
            stderr=bytes(self.buffers["stderr"]),
            stdout_truncated=self.truncated["stdout"],
            stderr_truncated=self.truncated["stderr"],
        )

    async def _dispatch(self) -> None:
        assert self._queue is not None and self.on_output is not None
        failed = False
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if failed:
                continue
            try:
                result = self.on_output(*item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_output callback failed; no more output is sent to it")
                failed = True
