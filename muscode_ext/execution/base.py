"""The sandbox contract every backend implements.

A backend turns a :class:`Job` (a language, source files, limits) into results. The
contract is small on purpose, in the spirit of JupyterHub's ``Spawner``:

- ``prepare(job)`` is an async context manager yielding a :class:`Program`: the source
  is placed in a private work area and compiled once (inside the sandbox, under
  ``job.compile_limits``) when the language has a compile step.
- ``Program.run(stdin, limits, on_output)`` runs the program once; it may be called
  many times (compile once, run many), never concurrently on one ``Program``.
- Leaving the context removes everything the job created: processes, files,
  containers. Cancelling a running ``run`` (``asyncio.CancelledError``) kills the
  sandboxed processes before the error propagates.

Backends report raw facts (:class:`RunOutcome`); deciding the verdict and comparing
output with the expected answer happens outside the sandbox (``verdicts``). Backends
never open database sessions.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal

from .languages import Language

Stream = Literal["stdout", "stderr"]
#: Called with each chunk of output as it is produced, in order.
OutputCallback = Callable[[Stream, bytes], Awaitable[None] | None]

#: Which limit stopped a run, as observed by the backend.
LimitHit = Literal["cpu_time", "wall_time", "memory", "output", "file_size", "processes"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run (or one compilation)."""

    cpu_time_ms: int = 2000
    wall_time_ms: int = 5000
    memory_mb: int = 256
    processes: int = 64
    output_kb: int = 64
    file_size_kb: int = 1024

    def as_dict(self) -> dict[str, int]:
        return {
            "cpu_time_ms": self.cpu_time_ms,
            "wall_time_ms": self.wall_time_ms,
            "memory_mb": self.memory_mb,
            "processes": self.processes,
            "output_kb": self.output_kb,
            "file_size_kb": self.file_size_kb,
        }


@dataclass(frozen=True)
class SourceFile:
    """One file of the program, by relative path (already validated and normalised)."""

    path: str
    content: bytes


@dataclass(frozen=True)
class Job:
    """What to run. ``main`` is the path of the file the language's commands run."""

    language: Language
    files: tuple[SourceFile, ...]
    main: str
    args: tuple[str, ...] = ()
    compiler_options: tuple[str, ...] = ()
    compile_limits: Limits = field(default_factory=Limits)


@dataclass
class RunOutcome:
    """Raw facts about one process tree's life in the sandbox."""

    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    time_ms: int = 0
    wall_time_ms: int = 0
    memory_kb: int = 0
    #: The limit that stopped the run, if the backend saw one fire.
    limit_hit: LimitHit | None = None
    #: True when the run was stopped because its caller cancelled it.
    cancelled: bool = False
    #: A human sentence when the backend itself failed (verdict ``internal_error``).
    error: str | None = None


@dataclass
class CompileOutcome:
    """Result of a compile step; ``ok`` is False for a compile error."""

    ok: bool
    output: str = ""
    outcome: RunOutcome | None = None


#: Where stdin comes from: all at once, or as an async stream of chunks
#: (interactive runs; the iterator ending means end of input).
StdinSource = bytes | AsyncIterator[bytes]


class Program(abc.ABC):
    """A prepared (and, where needed, compiled) program inside a backend."""

    compile: CompileOutcome | None
    """The compile step's outcome, or None for languages without one."""

    @abc.abstractmethod
    async def run(
        self,
        stdin: StdinSource,
        limits: Limits,
        on_output: OutputCallback | None = None,
    ) -> RunOutcome:
        """Run the program once with ``stdin`` under ``limits``."""


class SandboxUnavailable(Exception):
    """The backend cannot run untrusted code right now (with a human reason)."""


class Sandbox(abc.ABC):
    """A sandbox backend. One instance serves many concurrent jobs."""

    #: Short name used in configuration and ``/health`` (``local``, ``docker``).
    name: str = ""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background resources (pools, probes). Called once."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Release every resource; no process or container may outlive this."""

    @abc.abstractmethod
    async def check(self) -> str | None:
        """Return None when the backend can run code, else a sentence saying why not."""

    @abc.abstractmethod
    async def language_version(self, language: Language) -> str | None:
        """The runtime's version for ``language`` in this backend, None if unavailable."""

    @abc.abstractmethod
    def prepare(self, job: Job) -> AbstractAsyncContextManager[Program]:
        """Place and compile ``job``; leaving the context cleans everything up.

        Raises :class:`SandboxUnavailable` when the backend cannot run code.
        """
