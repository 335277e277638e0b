"""Orchestration shared by every backend: prepare (compile) once, run once or per test,
decide verdicts, shape the result the way API.md names it.

The HTTP layer and the worker call :func:`execute`; backends only implement
:class:`~muscode_ext.execution.base.Sandbox`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import (
    Job,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    Sandbox,
    SandboxUnavailable,
    StdinSource,
    Stream,
)
from .verdicts import ACCEPTED, CANCELLED, COMPILE_ERROR, INTERNAL_ERROR, decide

log = logging.getLogger(__name__)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _raw(data: bytes) -> str | None:
    """``data`` in base64 when it is not valid UTF-8 (its text then holds U+FFFD where
    bytes were replaced), else None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")
    return None


@dataclass(frozen=True)
class TestCase:
    """One test of a compile-once-run-many execution."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    stdin: bytes = b""
    expected_output: str | None = None
    #: This test's own run limits (e.g. a larger input given more time); None: the run's.
    limits: Limits | None = None


@dataclass
class TestResult:
    """What one test's run did, with its own verdict."""

    __test__ = False

    name: str
    verdict: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    signal: int | None = None
    time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_kb: int | None = None
    truncated: dict[str, bool] = field(default_factory=lambda: {"stdout": False, "stderr": False})
    message: str | None = None
    #: The exact bytes, base64, when they were not valid UTF-8 (else None).
    stdout_base64: str | None = None
    stderr_base64: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_base64": self.stdout_base64,
            "stderr_base64": self.stderr_base64,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "time_ms": self.time_ms,
            "wall_time_ms": self.wall_time_ms,
            "memory_kb": self.memory_kb,
            "truncated": dict(self.truncated),
            "message": self.message,
        }


@dataclass
class ExecutionOutcome:
    """The finished result of one execution (the result fields of API.md).

    Measurements are None when the program never ran (compile error, backend failure).
    With tests, ``stdout``/``stderr``/``exit_code``/``signal``/``truncated`` are those of
    the first failing test (of the last test when all pass), ``time_ms`` and
    ``memory_kb`` the largest of any test, and ``wall_time_ms`` the sum of all runs.
    """

    verdict: str
    message: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    #: The exact bytes of ``stdout``/``stderr``, base64, when not valid UTF-8 (else None).
    stdout_base64: str | None = None
    stderr_base64: str | None = None
    compile_output: str | None = None
    #: Wall time of the compile step (None: no compile step, or it never ran).
    compile_time_ms: int | None = None
    truncated: dict[str, bool] = field(default_factory=lambda: {"stdout": False, "stderr": False})
    time_ms: int | None = None
    wall_time_ms: int | None = None
    memory_kb: int | None = None
    tests: list[TestResult] | None = None
    #: True when an identical earlier build was reused (not an API field: the compile
    #: step's absence shows as a null ``compile_time_ms``).
    build_cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The API.md result fields this object holds, by their API names."""
        return {
            "verdict": self.verdict,
            "message": self.message,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_base64": self.stdout_base64,
            "stderr_base64": self.stderr_base64,
            "compile_output": self.compile_output,
            "compile_time_ms": self.compile_time_ms,
            "truncated": dict(self.truncated),
            "time_ms": self.time_ms,
            "wall_time_ms": self.wall_time_ms,
            "memory_kb": self.memory_kb,
            "tests": None if self.tests is None else [t.as_dict() for t in self.tests],
        }


async def execute(
    sandbox: Sandbox,
    job: Job,
    *,
    limits: Limits,
    stdin: StdinSource = b"",
    expected_output: str | None = None,
    tests: Sequence[TestCase] | None = None,
    on_output: OutputCallback | None = None,
    cancel: asyncio.Event | None = None,
) -> ExecutionOutcome:
    """Compile ``job`` once (under ``job.compile_limits``) and run it under ``limits``.

    Without ``tests`` (None or empty) the program runs once with ``stdin`` and is judged
    against ``expected_output``. With ``tests`` it runs once per test, in order, each
    with its own stdin and expected output; ``stdin`` and ``expected_output`` are then
    unused. ``on_output(stream, chunk)`` sees every run's output as it is produced.

    Setting ``cancel`` stops the current run and skips the rest; the result's verdict is
    then ``cancelled`` and keeps the output printed so far. Cancelling the task that
    awaits this coroutine also stops the run (nothing is left running) and raises
    ``CancelledError`` as usual.

    Never raises for a program's or a backend's failure (``internal_error`` instead,
    logged); :class:`SandboxUnavailable` propagates so the caller can answer 503.
    """
    result: ExecutionOutcome | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            program = await _prepare(stack, sandbox, job, cancel)
            if program is None:
                result = _cancelled(tests)
            else:
                result = await _execute_prepared(
                    program, limits, stdin, expected_output, tests, on_output, cancel
                )
    except (SandboxUnavailable, asyncio.CancelledError):
        raise
    except Exception as exc:
        if result is not None:
            # The run finished and was judged; only the cleanup after it failed.
            log.exception("sandbox %s failed to clean up after a run", sandbox.name)
            return result
        log.exception("sandbox %s failed to run a %s job", sandbox.name, job.language.id)
        message = (
            f"The {sandbox.name} sandbox failed: {exc}"
            if str(exc)
            else (f"The {sandbox.name} sandbox failed ({type(exc).__name__}).")
        )
        return ExecutionOutcome(verdict=INTERNAL_ERROR, message=message)
    assert result is not None
    return result


def _cancelled(tests: Sequence[TestCase] | None) -> ExecutionOutcome:
    message = "The run was cancelled."
    return ExecutionOutcome(
        verdict=CANCELLED,
        message=message,
        tests=None
        if not tests
        else [TestResult(name=t.name, verdict=CANCELLED, message=message) for t in tests],
    )


async def _prepare(
    stack: contextlib.AsyncExitStack, sandbox: Sandbox, job: Job, cancel: asyncio.Event | None
) -> Program | None:
    """Enter ``sandbox.prepare(job)`` on ``stack`` (compiling); None if cancelled first.

    A compile can take seconds (javac, or a compile-time bomb running to its limit), so
    ``cancel`` interrupts it too: the backend's context then cleans up by itself.
    """
    entering = asyncio.ensure_future(stack.enter_async_context(sandbox.prepare(job)))
    if cancel is None:
        return await entering
    stop = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({entering, stop}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        entering.cancel()
        stop.cancel()
        await asyncio.wait({entering})
        raise
    stop.cancel()
    if not entering.done():
        entering.cancel()
        await asyncio.wait({entering})
        if entering.cancelled() or entering.exception() is not None:
            return None
    return entering.result()


async def _execute_prepared(
    program: Program,
    limits: Limits,
    stdin: StdinSource,
    expected_output: str | None,
    tests: Sequence[TestCase] | None,
    on_output: OutputCallback | None,
    cancel: asyncio.Event | None,
) -> ExecutionOutcome:
    compiled = program.compile
    compile_output = compiled.output if compiled is not None else None
    compile_time_ms = (
        compiled.outcome.wall_time_ms
        if compiled is not None and compiled.outcome is not None
        else None
    )
    cached = compiled is not None and compiled.cached
    if compiled is not None and not compiled.ok:
        return _not_compiled(compiled.output, compile_time_ms, tests)

    if not tests:
        outcome = await _run_once(program, stdin, limits, on_output, cancel)
        if program.compile is not None and not program.compile.ok:
            return _not_compiled(program.compile.output, None, tests)
        verdict, why = decide(outcome, limits, expected_output)
        return ExecutionOutcome(
            verdict=verdict,
            message=why,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            stdout=_text(outcome.stdout),
            stderr=_text(outcome.stderr),
            stdout_base64=_raw(outcome.stdout),
            stderr_base64=_raw(outcome.stderr),
            compile_output=compile_output,
            compile_time_ms=compile_time_ms,
            build_cached=cached,
            truncated={"stdout": outcome.stdout_truncated, "stderr": outcome.stderr_truncated},
            time_ms=outcome.time_ms,
            wall_time_ms=outcome.wall_time_ms,
            memory_kb=outcome.memory_kb,
        )

    results: list[TestResult] = []
    for case in tests:
        if cancel is not None and cancel.is_set():
            results.append(TestResult(name=case.name, verdict=CANCELLED, message="Not run."))
            continue
        case_stdin = case.stdin.encode() if isinstance(case.stdin, str) else case.stdin
        case_limits = case.limits or limits
        outcome = await _run_once(program, case_stdin, case_limits, on_output, cancel)
        if program.compile is not None and not program.compile.ok:
            # The first run found that the program does not parse: none of them runs.
            return _not_compiled(program.compile.output, None, tests)
        verdict, why = decide(outcome, case_limits, case.expected_output)
        results.append(
            TestResult(
                name=case.name,
                verdict=verdict,
                stdout=_text(outcome.stdout),
                stderr=_text(outcome.stderr),
                stdout_base64=_raw(outcome.stdout),
                stderr_base64=_raw(outcome.stderr),
                exit_code=outcome.exit_code,
                signal=outcome.signal,
                time_ms=outcome.time_ms,
                wall_time_ms=outcome.wall_time_ms,
                memory_kb=outcome.memory_kb,
                truncated={
                    "stdout": outcome.stdout_truncated,
                    "stderr": outcome.stderr_truncated,
                },
                message=why,
            )
        )

    failing = next((r for r in results if r.verdict != ACCEPTED), None)
    shown = failing or results[-1]
    ran = [r for r in results if r.time_ms is not None]
    overall_message = None
    if failing is not None:
        overall_message = f"Test {failing.name!r}: {failing.message or failing.verdict}"
    return ExecutionOutcome(
        verdict=failing.verdict if failing is not None else ACCEPTED,
        message=overall_message,
        exit_code=shown.exit_code,
        signal=shown.signal,
        stdout=shown.stdout,
        stderr=shown.stderr,
        stdout_base64=shown.stdout_base64,
        stderr_base64=shown.stderr_base64,
        compile_output=compile_output,
        compile_time_ms=compile_time_ms,
        build_cached=cached,
        truncated=dict(shown.truncated),
        time_ms=max((r.time_ms or 0 for r in ran), default=None),
        wall_time_ms=sum(r.wall_time_ms or 0 for r in ran) if ran else None,
        memory_kb=max((r.memory_kb or 0 for r in ran), default=None),
        tests=results,
    )


def _not_compiled(
    output: str, compile_time_ms: int | None, tests: Sequence[TestCase] | None
) -> ExecutionOutcome:
    """The result of a program that did not compile (or, interpreted, did not parse):
    every test a ``compile_error``, none run."""
    message = "The program did not compile."
    return ExecutionOutcome(
        verdict=COMPILE_ERROR,
        message=message,
        compile_output=output,
        compile_time_ms=compile_time_ms,
        tests=None
        if not tests
        else [TestResult(name=t.name, verdict=COMPILE_ERROR, message=message) for t in tests],
    )


async def _run_once(
    program: Program,
    stdin: StdinSource,
    limits: Limits,
    on_output: OutputCallback | None,
    cancel: asyncio.Event | None,
) -> RunOutcome:
    """One run; with ``cancel`` set midway, a cancelled outcome with the output so far."""
    if cancel is None:
        return await program.run(stdin, limits, on_output)

    seen: dict[Stream, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    async def tee(stream: Stream, chunk: bytes) -> None:
        seen[stream] += chunk
        if on_output is not None:
            result = on_output(stream, chunk)
            if result is not None:
                await result

    run = asyncio.ensure_future(program.run(stdin, limits, tee))
    stop = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # Our caller was cancelled: stop the run, wait until the backend has killed
        # everything, then let the cancellation go on.
        run.cancel()
        stop.cancel()
        await asyncio.wait({run})
        raise
    stop.cancel()
    if run.done():
        return run.result()
    run.cancel()
    await asyncio.wait({run})
    if not run.cancelled() and run.exception() is None:
        return run.result()  # it finished while being cancelled
    stopped = RunOutcome(cancelled=True, stdout=bytes(seen["stdout"]), stderr=bytes(seen["stderr"]))
    used = program.stopped
    if used is not None:
        # What it used up to the stop, as the backend measured it.
        stopped.time_ms, stopped.memory_kb = used.time_ms, used.memory_kb
        stopped.wall_time_ms, stopped.input_wait_ms = used.wall_time_ms, used.input_wait_ms
    return stopped
