"""Turning a backend's raw facts into a verdict (API.md, "Executions").

Pure functions, shared by every backend: a backend reports what happened
(:class:`~muscode_ext.execution.base.RunOutcome`), this module decides what it means.

Precedence, first match wins:

1. the caller cancelled the run → ``cancelled``;
2. the backend failed → ``internal_error``;
3. the memory limit was reached, whether the kernel killed the program or the runtime
   reported it (Python ``MemoryError``, Java ``OutOfMemoryError``, C++ ``std::bad_alloc``,
   a failed ``malloc``, Node's heap limit, PHP's "Out of memory") → ``memory_limit_exceeded``;
4. the CPU or wall time limit stopped the run, or the run used more than allowed
   → ``time_limit_exceeded``;
5. stdout+stderr passed the output cap → ``output_limit_exceeded``;
6. a non-zero exit or a fatal signal → ``runtime_error``;
7. expected output given → ``accepted`` or ``wrong_answer`` (compared by the rule it
   carries, :mod:`.compare`); none → ``accepted``.
"""

from __future__ import annotations

import re
import signal as _signal

from . import compare as _compare
from .base import Limits, RunOutcome

ACCEPTED = "accepted"
WRONG_ANSWER = "wrong_answer"
COMPILE_ERROR = "compile_error"
RUNTIME_ERROR = "runtime_error"
TIME_LIMIT_EXCEEDED = "time_limit_exceeded"
MEMORY_LIMIT_EXCEEDED = "memory_limit_exceeded"
OUTPUT_LIMIT_EXCEEDED = "output_limit_exceeded"
CANCELLED = "cancelled"
INTERNAL_ERROR = "internal_error"

VERDICTS = (
    ACCEPTED,
    WRONG_ANSWER,
    COMPILE_ERROR,
    RUNTIME_ERROR,
    TIME_LIMIT_EXCEEDED,
    MEMORY_LIMIT_EXCEEDED,
    OUTPUT_LIMIT_EXCEEDED,
    CANCELLED,
    INTERNAL_ERROR,
)


def outputs_match(actual: str, expected: str) -> bool:
    """True when ``actual`` matches ``expected`` by the rule ``expected`` carries
    (:mod:`.compare`); a plain ``str`` is compared up to trailing whitespace.

    Whitespace at the end of each line (including a ``\\r`` of Windows line ends) and
    blank lines at the end of the output are then ignored; everything else must be equal.
    """
    return _compare.outputs_match(actual, expected, *_compare.rule_of(expected))


# What runtimes print when an allocation fails. Only looked at when the program also
# failed (non-zero exit or a signal), so a program that merely prints these words and
# exits cleanly is not judged by them.
_MEMORY_PATTERNS = re.compile(
    rb"\bMemoryError\b"  # Python (\b: not the tail of Java's OutOfMemoryError)
    rb"|java\.lang\.OutOfMemoryError"  # Java heap, metaspace, direct buffers
    rb"|std::bad_alloc"  # C++ new
    rb"|Cannot allocate memory"  # strerror(ENOMEM): perror after a failed malloc
    rb"|JavaScript heap out of memory|Reached heap limit"  # Node / V8
    rb"|Allowed memory size of \d+ bytes exhausted|Fatal error: Out of memory"  # PHP
    rb"|out of memory allocating"  # gcc/cc1plus
)
# Java reports a thread it cannot create (the process limit, not memory) as an
# OutOfMemoryError; these reports are removed before looking for memory errors.
_THREAD_LIMIT = re.compile(rb"java\.lang\.OutOfMemoryError: unable to create native thread")
_PROCESS_PATTERNS = re.compile(
    rb"unable to create native thread|Resource temporarily unavailable|[Cc]annot fork"
)
# Only the end of stderr matters: the fatal report is the last thing a runtime prints,
# and a bounded window keeps a flood of output cheap to scan.
_TAIL = 16 * 1024


def _signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _failed(outcome: RunOutcome) -> bool:
    return outcome.signal is not None or (outcome.exit_code not in (0, None))


def runtime_reported_memory_error(outcome: RunOutcome) -> bool:
    """True when the program failed and its runtime said an allocation failed."""
    if not _failed(outcome):
        return False
    tail = _THREAD_LIMIT.sub(b"", outcome.stderr[-_TAIL:])
    return bool(_MEMORY_PATTERNS.search(tail))


def decide(
    outcome: RunOutcome, limits: Limits, expected_output: str | None
) -> tuple[str, str | None]:
    """The verdict of one run and a human sentence explaining it (None when obvious)."""
    if outcome.cancelled:
        return CANCELLED, "The run was cancelled."
    if outcome.error is not None:
        return INTERNAL_ERROR, outcome.error

    hit = outcome.limit_hit
    memory_kb_limit = limits.memory_mb * 1024
    if hit == "memory" or runtime_reported_memory_error(outcome):
        return (
            MEMORY_LIMIT_EXCEEDED,
            f"The program reached its memory limit of {limits.memory_mb} MB.",
        )
    if outcome.memory_kb > memory_kb_limit and _failed(outcome):
        # A backend that cannot see the kernel's OOM kill still sees the peak.
        return (
            MEMORY_LIMIT_EXCEEDED,
            f"The program reached its memory limit of {limits.memory_mb} MB.",
        )

    if (
        hit == "cpu_time"
        or outcome.time_ms > limits.cpu_time_ms
        or (outcome.signal == _signal.SIGXCPU)
    ):
        return (
            TIME_LIMIT_EXCEEDED,
            f"The program used more than {limits.cpu_time_ms} ms of CPU time.",
        )
    if hit == "idle":
        return (
            TIME_LIMIT_EXCEEDED,
            f"The program waited too long for input (more than {duration(limits.idle_ms)}).",
        )
    counted_ms = outcome.wall_time_ms - outcome.input_wait_ms
    if hit == "wall_time" or counted_ms > limits.wall_time_ms:
        return (
            TIME_LIMIT_EXCEEDED,
            f"The program ran longer than {limits.wall_time_ms} ms (wall clock).",
        )
    if hit == "output":
        return (
            OUTPUT_LIMIT_EXCEEDED,
            f"The program printed more than {limits.output_kb} KB and was stopped.",
        )

    if _failed(outcome):
        if hit == "file_size" or outcome.signal == _signal.SIGXFSZ:
            return RUNTIME_ERROR, f"The program wrote a file larger than {limits.file_size_kb} KB."
        if hit == "processes" or (
            outcome.stderr and _PROCESS_PATTERNS.search(outcome.stderr[-_TAIL:])
        ):
            return (
                RUNTIME_ERROR,
                f"The program tried to run more than {limits.processes} processes or threads.",
            )
        if outcome.signal is not None:
            return RUNTIME_ERROR, f"The program was killed by {_signal_name(outcome.signal)}."
        return RUNTIME_ERROR, f"The program exited with code {outcome.exit_code}."

    if expected_output is None:
        return ACCEPTED, None
    actual = outcome.stdout.decode("utf-8", errors="replace")
    if outcome.stdout_truncated:
        # Cannot happen without limit_hit == "output" today; stay safe if a backend
        # truncates for another reason.
        return WRONG_ANSWER, "The output was truncated."
    if outputs_match(actual, expected_output):
        return ACCEPTED, None
    return (
        WRONG_ANSWER,
        f"The output differs from the expected output{_compare.describe(expected_output)}.",
    )


def duration(ms: int) -> str:
    """``ms`` as a person reads it: "300 ms", "45 s", "5 min", "2 min 30 s"."""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" + (f" {rest} s" if rest else "")
