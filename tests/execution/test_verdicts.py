"""Verdict rules of API.md, as pure functions (no sandbox)."""

from __future__ import annotations

import signal

import pytest

from muscode_ext.execution.base import Limits, RunOutcome
from muscode_ext.execution.verdicts import VERDICTS, decide, outputs_match

LIMITS = Limits(cpu_time_ms=1000, wall_time_ms=2000, memory_mb=64, output_kb=8)


def verdict(expected: str | None = None, **facts: object) -> str:
    base: dict[str, object] = {"exit_code": 0, "time_ms": 10, "wall_time_ms": 20}
    base.update(facts)
    return decide(RunOutcome(**base), LIMITS, expected)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("42\n", "42"),
        ("42", "42\n"),
        ("42   \n", "42\n"),
        ("1 2 \t\n3\n\n\n", "1 2\n3"),
        ("a\r\nb\r\n", "a\nb\n"),
        ("", ""),
        ("\n\n", ""),
        ("x \n\n  \n", "x"),
    ],
)
def test_outputs_match_ignores_trailing_whitespace(actual: str, expected: str) -> None:
    assert outputs_match(actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("42\n", "43\n"),
        (" 42\n", "42\n"),  # leading whitespace matters
        ("1\n\n2\n", "1\n2\n"),  # blank lines inside matter
        ("1 2\n", "1  2\n"),  # inner whitespace matters
        ("4\n2\n", "42\n"),
        ("", "0"),
        ("42\u00a0\n", "42\n"),  # a no-break space is content, not trailing whitespace
    ],
)
def test_outputs_differ(actual: str, expected: str) -> None:
    assert not outputs_match(actual, expected)


def test_clean_exit_without_expected_output_is_accepted() -> None:
    assert verdict() == "accepted"


def test_expected_output_gives_accepted_or_wrong_answer() -> None:
    assert verdict("hi", stdout=b"hi  \n\n") == "accepted"
    assert verdict("hi", stdout=b"ho\n") == "wrong_answer"


def test_non_zero_exit_and_signals_are_runtime_errors() -> None:
    assert verdict(exit_code=1) == "runtime_error"
    assert verdict(exit_code=None, signal=signal.SIGSEGV) == "runtime_error"
    # A wrong exit code fails even when the output is right.
    assert verdict("ok", exit_code=3, stdout=b"ok\n") == "runtime_error"


def test_runtime_error_messages_name_the_cause() -> None:
    outcome = RunOutcome(exit_code=None, signal=signal.SIGSEGV)
    assert "SIGSEGV" in (decide(outcome, LIMITS, None)[1] or "")
    outcome = RunOutcome(exit_code=7)
    assert "7" in (decide(outcome, LIMITS, None)[1] or "")


@pytest.mark.parametrize("hit", ["cpu_time", "wall_time"])
def test_time_limits_decide_before_exit_codes(hit: str) -> None:
    assert verdict(exit_code=None, signal=9, limit_hit=hit) == "time_limit_exceeded"
    assert verdict("x", exit_code=0, stdout=b"x", limit_hit=hit) == "time_limit_exceeded"


def test_overrunning_the_time_limit_is_tle_even_unnoticed_by_the_backend() -> None:
    assert verdict(time_ms=1001) == "time_limit_exceeded"
    assert verdict(wall_time_ms=2001) == "time_limit_exceeded"
    assert verdict(exit_code=None, signal=signal.SIGXCPU) == "time_limit_exceeded"


def test_memory_limit_hit_by_the_kernel() -> None:
    assert verdict(exit_code=None, signal=9, limit_hit="memory") == "memory_limit_exceeded"
    # memory decides before time: an OOM-killed program that also ran long
    assert (
        verdict(exit_code=None, signal=9, limit_hit="memory", time_ms=5000)
        == "memory_limit_exceeded"
    )


@pytest.mark.parametrize(
    "stderr",
    [
        b'Traceback (most recent call last):\n  File "main.py", line 1\nMemoryError\n',
        b'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n',
        b"terminate called after throwing an instance of 'std::bad_alloc'\n"
        b"  what():  std::bad_alloc\n",
        b"malloc: Cannot allocate memory\n",
        b"FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n",
        b"PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted\n",
        b"Fatal error: Out of memory (allocated 2097152) (tried to allocate 1073741832 bytes)\n",
    ],
)
def test_memory_errors_reported_by_the_runtime(stderr: bytes) -> None:
    assert verdict(exit_code=1, stderr=stderr) == "memory_limit_exceeded"
    assert verdict(exit_code=None, signal=signal.SIGABRT, stderr=stderr) == (
        "memory_limit_exceeded"
    )


def test_memory_words_in_a_clean_run_are_just_output() -> None:
    assert verdict(stderr=b"MemoryError is a Python exception\n") == "accepted"


def test_java_thread_limit_is_not_a_memory_error() -> None:
    stderr = (
        b'Exception in thread "main" java.lang.OutOfMemoryError: unable to create native '
        b"thread: possibly out of memory or process/resource limits reached\n"
    )
    decided = decide(RunOutcome(exit_code=1, stderr=stderr), LIMITS, None)
    assert decided[0] == "runtime_error"
    assert "processes" in (decided[1] or "")
    # and when the threads kept it alive until the wall clock, it is a time limit
    assert verdict(exit_code=None, signal=9, stderr=stderr, limit_hit="wall_time") == (
        "time_limit_exceeded"
    )


def test_output_limit() -> None:
    assert (
        verdict(exit_code=None, signal=9, limit_hit="output", stdout_truncated=True)
        == "output_limit_exceeded"
    )


def test_file_size_and_process_limits_are_runtime_errors_with_a_reason() -> None:
    verdict_, message = decide(
        RunOutcome(exit_code=None, signal=signal.SIGXFSZ, limit_hit="file_size"), LIMITS, None
    )
    assert verdict_ == "runtime_error"
    assert "file" in (message or "")
    verdict_, message = decide(RunOutcome(exit_code=1, limit_hit="processes"), LIMITS, None)
    assert verdict_ == "runtime_error"
    assert "processes" in (message or "")


def test_cancelled_and_internal_error_come_first() -> None:
    assert verdict(cancelled=True, limit_hit="memory") == "cancelled"
    assert decide(RunOutcome(error="disk on fire"), LIMITS, None) == (
        "internal_error",
        "disk on fire",
    )


def test_every_verdict_is_a_known_api_value() -> None:
    assert set(VERDICTS) == {
        "accepted",
        "wrong_answer",
        "compile_error",
        "runtime_error",
        "time_limit_exceeded",
        "memory_limit_exceeded",
        "output_limit_exceeded",
        "cancelled",
        "internal_error",
    }
