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
- ``start()`` starts background resources (pools, probes); ``stop()`` releases every
  resource, and no process or container outlives it. ``check()`` says whether code can
  run now (None) or why not, and ``prepare`` raises :class:`SandboxUnavailable` then.

A backend is a ``LoggingConfigurable``: it owns its settings as traits
(``c.LocalSandbox.work_dir_mb``, ``c.DockerSandbox.pool_size``), and the application
builds it with ``parent=`` so that configuration flows down; keyword arguments of the
same names work too.

Backends report raw facts (:class:`RunOutcome`); deciding the verdict and comparing
output with the expected answer happens outside the sandbox (``verdicts``). Backends
never open database sessions.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from traitlets import Int, MetaHasTraits, TraitError, validate
from traitlets.config import LoggingConfigurable

from .buildcache import BuildCache
from .languages import Language

Stream = Literal["stdout", "stderr"]
#: Called with each chunk of output as it is produced, in order.
OutputCallback = Callable[[Stream, bytes], Awaitable[None] | None]

#: Which limit stopped a run, as observed by the backend.
#: ``idle``: an interactive program waited longer than ``Limits.idle_ms`` for input.
LimitHit = Literal["cpu_time", "wall_time", "memory", "output", "file_size", "processes", "idle"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run (or one compilation)."""

    cpu_time_ms: int = 2000
    wall_time_ms: int = 5000
    memory_mb: int = 256
    processes: int = 64
    output_kb: int = 64
    file_size_kb: int = 1024
    #: An interactive run's cap on one wait for input (time spent waiting for input
    #: does not count toward ``wall_time_ms``); unused when stdin is given up front.
    idle_ms: int = 300_000

    def as_dict(self) -> dict[str, int]:
        return {
            "cpu_time_ms": self.cpu_time_ms,
            "wall_time_ms": self.wall_time_ms,
            "memory_mb": self.memory_mb,
            "processes": self.processes,
            "output_kb": self.output_kb,
            "file_size_kb": self.file_size_kb,
            "idle_ms": self.idle_ms,
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
    #: Whose builds this job's compile step may reuse, and may leave for later jobs of
    #: the same scope (the run's owner); None: always compiled, never kept.
    build_scope: str | None = None


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
    #: Of ``wall_time_ms``, the time an interactive program spent waiting for input
    #: that had not arrived yet (not counted toward the wall-clock limit).
    input_wait_ms: int = 0
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
    #: How the compiler ran; None when the build was reused (``cached``).
    outcome: RunOutcome | None = None
    #: True when an identical earlier build was reused instead of compiling.
    cached: bool = False


#: Where stdin comes from: all at once, or as an async stream of chunks
#: (interactive runs; the iterator ending means end of input).
StdinSource = bytes | AsyncIterator[bytes]


class Program(abc.ABC):
    """A prepared (and, where needed, compiled) program inside a backend."""

    compile: CompileOutcome | None
    """The compile step's outcome, or None for languages without one."""

    stopped: RunOutcome | None = None
    """After a run was cancelled: what it had used up to the stop (``time_ms``,
    ``wall_time_ms``, ``memory_kb``) as far as the backend measured it; None when it
    did not, or when the last run was not cancelled."""

    @abc.abstractmethod
    async def run(
        self,
        stdin: StdinSource,
        limits: Limits,
        on_output: OutputCallback | None = None,
    ) -> RunOutcome:
        """Run the program once with ``stdin`` under ``limits``.

        ``stdin`` given as bytes is all of the input (the wall clock runs throughout);
        given as an async iterator, the run is interactive: while everything the
        iterator gave has been passed to the program and the next chunk has not come
        yet, the wall clock pauses, and one such wait is capped by ``limits.idle_ms``
        (``limit_hit`` ``"idle"``)."""


class SandboxUnavailable(Exception):
    """The backend cannot run untrusted code right now (with a human reason)."""


class SandboxMeta(abc.ABCMeta, MetaHasTraits):
    """Abstract methods and traits on one class."""


class Sandbox(LoggingConfigurable, metaclass=SandboxMeta):
    """A sandbox backend. One instance serves many concurrent jobs."""

    #: Short name used in configuration and ``/health`` (``local``, ``docker``).
    name: str = ""

    build_cache_mb = Int(
        64,
        help="""MiB of successful builds of compiled languages kept in this process's
        memory, so that running the same sources again (Run again, Check then Submit)
        does not compile them twice; the least recently used go first. A build is
        reused only by the same user, with the same sources, compiler, options, limits
        and toolchain. 0: every run compiles.""",
    ).tag(config=True)

    @validate("build_cache_mb")
    def _valid_build_cache_mb(self, proposal: Any) -> int:
        if proposal.value < 0:
            raise TraitError(f"build_cache_mb must be 0 or more (MiB), not {proposal.value}")
        return int(proposal.value)

    @property
    def build_cache(self) -> BuildCache:
        """The builds this sandbox keeps (see ``buildcache``)."""
        cache: BuildCache | None = self.__dict__.get("_build_cache")
        limit = self.build_cache_mb * 1024 * 1024
        if cache is None or cache.max_bytes != limit:
            cache = BuildCache(limit)
            self.__dict__["_build_cache"] = cache
        return cache

    async def start(self) -> None:
        """Start background resources (pools, probes). Called once."""

    async def stop(self) -> None:
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
