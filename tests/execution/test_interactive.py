"""Interactive runs on every backend: time spent waiting for input is not wall time,
one wait is capped by ``idle_ms``; and a cancelled run reports what it used."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from muscode_ext.execution import ExecutionOutcome, Limits
from muscode_ext.execution.base import Stream

from .conftest import Runner

pytestmark = pytest.mark.usefixtures("no_leftovers")

#: Small limits so that waiting twice the wall limit stays short.
WALL_MS = 3000
LIMITS = Limits(cpu_time_ms=2000, wall_time_ms=WALL_MS, memory_mb=256, processes=64)

ASK = "name = input('name?\\n')\nprint('hello ' + name, flush=True)\n"


class Typist:
    """Stdin typed live: prints of the program are watched, lines are sent when asked."""

    def __init__(self) -> None:
        self.printed = ""
        self.changed = asyncio.Event()

    def on_output(self, stream: Stream, chunk: bytes) -> None:
        if stream == "stdout":
            self.printed += chunk.decode()
            self.changed.set()

    async def seen(self, text: str) -> None:
        while text not in self.printed:
            self.changed.clear()
            await self.changed.wait()


async def run_with(
    runner: Runner,
    source: str,
    stdin: AsyncIterator[bytes],
    typist: Typist,
    limits: Limits = LIMITS,
    cancel: asyncio.Event | None = None,
) -> ExecutionOutcome:
    return await runner.execute(
        runner.job("python", source),
        stdin=stdin,
        limits=limits,
        on_output=typist.on_output,
        cancel=cancel,
    )


def test_waiting_for_input_does_not_count_toward_the_wall_limit(runner: Runner) -> None:
    typist = Typist()

    async def late_answer() -> AsyncIterator[bytes]:
        await typist.seen("name?")
        # The student thinks for twice the wall limit before typing.
        await asyncio.sleep(2 * WALL_MS / 1000)
        yield b"Ada\n"

    result = runner.call(run_with(runner, ASK, late_answer(), typist))
    assert result.verdict == "accepted", result
    assert result.stdout == "name?\nhello Ada\n"
    # The wall time reported is the real one, waiting included.
    assert result.wall_time_ms is not None and result.wall_time_ms > 2 * WALL_MS


def test_an_interactive_program_burning_cpu_still_hits_the_time_limit(runner: Runner) -> None:
    typist = Typist()

    async def never() -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    result = runner.call(
        run_with(runner, "print('spin', flush=True)\nwhile True: pass\n", never(), typist)
    )
    assert result.verdict == "time_limit_exceeded", result
    assert "CPU" in (result.message or ""), result.message


def test_waiting_longer_than_idle_ms_ends_the_run(runner: Runner) -> None:
    typist = Typist()

    async def never() -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    limits = Limits(cpu_time_ms=2000, wall_time_ms=WALL_MS, idle_ms=1500)
    result = runner.call(run_with(runner, ASK, never(), typist, limits=limits))
    assert result.verdict == "time_limit_exceeded", result
    assert result.message == "The program waited too long for input (more than 1.5 s).", result
    assert result.stdout == "name?\n"


def test_input_that_ended_gives_the_wall_clock_back(runner: Runner) -> None:
    """Once the typed input ended (EOF), the program cannot wait for more: a sleep
    after it is wall time again."""
    typist = Typist()

    async def one_line() -> AsyncIterator[bytes]:
        yield b"Ada\n"

    source = ASK + "import time\ntime.sleep(60)\n"
    result = runner.call(run_with(runner, source, one_line(), typist))
    assert result.verdict == "time_limit_exceeded", result
    assert "wall clock" in (result.message or ""), result.message


def test_a_run_with_stdin_given_up_front_keeps_the_wall_rule(runner: Runner) -> None:
    limits = Limits(cpu_time_ms=2000, wall_time_ms=WALL_MS, idle_ms=600_000)
    result = runner.run("python", "import time\ntime.sleep(60)\n", limits=limits)
    assert result.verdict == "time_limit_exceeded", result
    assert result.message == f"The program ran longer than {WALL_MS} ms (wall clock).", result


def test_a_cancelled_run_reports_what_it_used(runner: Runner) -> None:
    typist = Typist()
    cancel = asyncio.Event()
    source = "block = b'x' * (64 << 20)\nprint('busy', flush=True)\nwhile True: pass\n"

    async def stop_when_busy() -> None:
        await typist.seen("busy")
        cancel.set()

    async def cancelled() -> ExecutionOutcome:
        stopper = asyncio.ensure_future(stop_when_busy())
        try:
            return await runner.execute(
                runner.job("python", source),
                limits=Limits(cpu_time_ms=20_000, wall_time_ms=30_000, memory_mb=256),
                on_output=typist.on_output,
                cancel=cancel,
            )
        finally:
            stopper.cancel()

    result = runner.call(cancelled())
    assert result.verdict == "cancelled", result
    assert result.time_ms is not None and result.time_ms > 0, result
    # It held 64 MiB when it was stopped.
    assert result.memory_kb is not None and result.memory_kb > 32 * 1024, result
    assert result.wall_time_ms is not None and result.wall_time_ms > 0, result
