"""The engine's orchestration, against a scripted in-memory backend (no real sandbox)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

import pytest

from muscode_ext.execution import (
    DEFAULT_LANGUAGES,
    ExecutionOutcome,
    Job,
    Limits,
    SandboxUnavailable,
    SourceFile,
    TestCase,
    execute,
)
from muscode_ext.execution.base import (
    CompileOutcome,
    OutputCallback,
    Program,
    RunOutcome,
    Sandbox,
    StdinSource,
)
from muscode_ext.execution.languages import Language

LIMITS = Limits(cpu_time_ms=1000, wall_time_ms=2000, memory_mb=64)
JOB = Job(
    language=DEFAULT_LANGUAGES["c"],
    files=(SourceFile("main.c", b"int main(){}"),),
    main="main.c",
)


class ScriptedProgram(Program):
    def __init__(self, owner: ScriptedSandbox) -> None:
        self.owner = owner
        self.compile = owner.compile_outcome

    async def run(
        self, stdin: StdinSource, limits: Limits, on_output: OutputCallback | None = None
    ) -> RunOutcome:
        assert isinstance(stdin, bytes)
        self.owner.stdins.append(stdin)
        if self.owner.hang:
            if on_output is not None:
                await on_output("stdout", b"partial")  # type: ignore[misc]
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.owner.killed += 1
                raise
        if self.owner.fail:
            raise OSError("bwrap exploded")
        outcome = self.owner.outcomes.pop(0)
        if on_output is not None and outcome.stdout:
            result = on_output("stdout", outcome.stdout)
            if result is not None:
                await result
        return outcome


class ScriptedSandbox(Sandbox):
    name = "scripted"

    def __init__(
        self,
        outcomes: Sequence[RunOutcome] = (),
        *,
        compile_outcome: CompileOutcome | None = None,
        fail: bool = False,
        hang: bool = False,
        unavailable: bool = False,
        slow_compile: bool = False,
    ) -> None:
        self.slow_compile = slow_compile
        self.outcomes = list(outcomes)
        self.compile_outcome = compile_outcome
        self.fail = fail
        self.hang = hang
        self.unavailable = unavailable
        self.prepared = 0
        self.cleaned = 0
        self.killed = 0
        self.stdins: list[bytes] = []

    async def check(self) -> str | None:
        return None

    async def language_version(self, language: Language) -> str | None:
        return "1.0"

    @contextlib.asynccontextmanager
    async def prepare(self, job: Job) -> AsyncIterator[Program]:
        if self.unavailable:
            raise SandboxUnavailable("no sandbox today")
        self.prepared += 1
        try:
            if self.slow_compile:
                await asyncio.sleep(60)
            yield ScriptedProgram(self)
        finally:
            self.cleaned += 1


def ok(stdout: bytes, **kw: object) -> RunOutcome:
    return RunOutcome(exit_code=0, stdout=stdout, time_ms=5, wall_time_ms=7, memory_kb=100, **kw)  # type: ignore[arg-type]


def test_single_run_result_fields_are_the_api_names() -> None:
    sandbox = ScriptedSandbox([ok(b"hi\n", stderr=b"warn \xff\n")])
    result = asyncio.run(execute(sandbox, JOB, limits=LIMITS, expected_output="hi"))
    data = result.as_dict()
    assert set(data) == {
        "verdict",
        "message",
        "exit_code",
        "signal",
        "stdout",
        "stderr",
        "stdout_base64",
        "stderr_base64",
        "compile_output",
        "compile_time_ms",
        "truncated",
        "time_ms",
        "wall_time_ms",
        "memory_kb",
        "tests",
    }
    assert data["verdict"] == "accepted"
    assert data["compile_time_ms"] is None  # no compile step
    assert data["stdout"] == "hi\n"
    assert data["stderr"] == "warn \ufffd\n"  # invalid UTF-8 replaced, never an error
    assert base64.b64decode(data["stderr_base64"]) == b"warn \xff\n"  # and kept exactly
    assert data["stdout_base64"] is None
    assert data["truncated"] == {"stdout": False, "stderr": False}
    assert (data["time_ms"], data["wall_time_ms"], data["memory_kb"]) == (5, 7, 100)
    assert data["tests"] is None
    json.dumps(data)


def test_tests_are_compiled_once_and_judged_one_by_one() -> None:
    sandbox = ScriptedSandbox(
        [ok(b"1\n"), ok(b"5\n"), RunOutcome(exit_code=1, time_ms=9, memory_kb=300)],
        compile_outcome=CompileOutcome(ok=True, output="warning: x"),
    )
    tests = [
        TestCase("one", b"a", "1"),
        TestCase("two", b"b", "2"),
        TestCase("three", b"c", None),
    ]
    result = asyncio.run(execute(sandbox, JOB, limits=LIMITS, tests=tests))
    assert sandbox.prepared == 1 and sandbox.cleaned == 1
    assert sandbox.stdins == [b"a", b"b", b"c"]
    assert [t.verdict for t in result.tests or []] == [
        "accepted",
        "wrong_answer",
        "runtime_error",
    ]
    # overall: the first failing test's verdict, its output; the worst measurements
    assert result.verdict == "wrong_answer"
    assert result.stdout == "5\n"
    assert result.message is not None and "two" in result.message
    assert result.time_ms == 9 and result.memory_kb == 300
    assert result.compile_output == "warning: x"
    tests_dicts = result.as_dict()["tests"]
    assert {"name", "verdict", "stdout", "stderr", "time_ms", "memory_kb"} <= set(tests_dicts[0])


def test_all_tests_accepted() -> None:
    sandbox = ScriptedSandbox([ok(b"1\n"), ok(b"2\n")])
    tests = [TestCase("a", b"", "1"), TestCase("b", b"", "2\n\n")]
    result = asyncio.run(execute(sandbox, JOB, limits=LIMITS, tests=tests))
    assert result.verdict == "accepted"
    assert result.message is None
    assert result.stdout == "2\n"  # the last test's
    assert result.wall_time_ms == 14


def test_compile_error_fails_every_test_without_running() -> None:
    sandbox = ScriptedSandbox(
        compile_outcome=CompileOutcome(ok=False, output="main.c:1: error: nope")
    )
    tests = [TestCase("a"), TestCase("b")]
    result = asyncio.run(execute(sandbox, JOB, limits=LIMITS, tests=tests))
    assert result.verdict == "compile_error"
    assert result.compile_output == "main.c:1: error: nope"
    assert [t.verdict for t in result.tests or []] == ["compile_error", "compile_error"]
    assert sandbox.stdins == []
    assert result.time_ms is None


def test_backend_exception_is_an_internal_error_not_a_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = ScriptedSandbox(fail=True)
    result = asyncio.run(execute(sandbox, JOB, limits=LIMITS))
    assert result.verdict == "internal_error"
    assert "bwrap exploded" in (result.message or "")
    assert sandbox.cleaned == 1
    assert any("failed" in r.message for r in caplog.records)


def test_unavailable_sandbox_propagates() -> None:
    with pytest.raises(SandboxUnavailable):
        asyncio.run(execute(ScriptedSandbox(unavailable=True), JOB, limits=LIMITS))


def test_cancel_event_stops_the_run_and_keeps_partial_output() -> None:
    sandbox = ScriptedSandbox(hang=True)

    async def scenario() -> ExecutionOutcome:
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, cancel.set)
        return await execute(
            sandbox,
            JOB,
            limits=LIMITS,
            tests=[TestCase("a"), TestCase("b")],
            cancel=cancel,
        )

    result = asyncio.run(scenario())
    assert result.verdict == "cancelled"
    assert [t.verdict for t in result.tests or []] == ["cancelled", "cancelled"]
    assert (result.tests or [])[0].stdout == "partial"
    assert sandbox.killed == 1 and sandbox.cleaned == 1


def test_cancelling_the_task_propagates_after_cleanup() -> None:
    sandbox = ScriptedSandbox(hang=True)

    async def scenario() -> None:
        task = asyncio.ensure_future(execute(sandbox, JOB, limits=LIMITS))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert sandbox.killed == 1 and sandbox.cleaned == 1


def test_async_and_sync_output_callbacks() -> None:
    seen: list[tuple[str, bytes]] = []

    async def async_cb(stream: str, chunk: bytes) -> None:
        seen.append((stream, chunk))

    asyncio.run(execute(ScriptedSandbox([ok(b"a")]), JOB, limits=LIMITS, on_output=async_cb))
    asyncio.run(
        execute(
            ScriptedSandbox([ok(b"b")]),
            JOB,
            limits=LIMITS,
            on_output=lambda s, c: seen.append((s, c)),
        )
    )
    assert seen == [("stdout", b"a"), ("stdout", b"b")]


def test_cancel_event_interrupts_a_long_compile() -> None:
    sandbox = ScriptedSandbox(slow_compile=True)

    async def scenario() -> tuple[ExecutionOutcome, float]:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, cancel.set)
        t0 = loop.time()
        result = await execute(sandbox, JOB, limits=LIMITS, tests=[TestCase("a")], cancel=cancel)
        return result, loop.time() - t0

    result, took = asyncio.run(scenario())
    assert result.verdict == "cancelled"
    assert [t.verdict for t in result.tests or []] == ["cancelled"]
    assert took < 5
    assert sandbox.prepared == 1 and sandbox.cleaned == 1  # the context cleaned up
    assert sandbox.stdins == []


def test_cancelling_the_task_during_compile_cleans_up() -> None:
    sandbox = ScriptedSandbox(slow_compile=True)

    async def scenario() -> None:
        task = asyncio.ensure_future(execute(sandbox, JOB, limits=LIMITS, cancel=asyncio.Event()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert sandbox.cleaned == 1
