"""A job's commands and compile results, the same for both backends: the argv of the
compile and run steps, heap sizes of managed runtimes, version probes, and the
:class:`SandboxProgram` base that turns ``Program.run`` into one backend call."""

from __future__ import annotations

import abc
import hashlib
import re
import tarfile
from collections.abc import Awaitable, Callable, Sequence

from .base import (
    CompileOutcome,
    Job,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    StdinSource,
)
from .buildcache import BuildCache, CachedBuild
from .languages import Language
from .streams import OutputCaps
from .syntax import PYTHON_LAUNCHER, PYTHON_SYNTAX_STATUS

_VERSION_RE = re.compile(r"\d+(?:\.\d+)+[\w.+~-]*")


def heap_mb_for(memory_mb: int) -> int:
    """The heap to give a managed runtime (Java, Node) under a memory limit.

    They cannot see the cgroup limit from inside bwrap, and the heap is not all they use
    (metaspace, code cache, thread stacks): leave a quarter, between 16 and 96 MB.
    """
    overhead = min(96, max(16, memory_mb // 4))
    return max(16, memory_mb - overhead)


def manages_own_heap(language: Language) -> bool:
    """True for runtimes that take ``{heap_mb}``: they reserve far more address space
    than they use (the JVM about 3 GB), so RLIMIT_AS would break them; their heap
    flag and the cgroup bound their memory instead."""
    templates = [language.run, language.compile or (), language.version]
    return any("{heap_mb}" in part for template in templates for part in template)


def first_version(text: str) -> str | None:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return None
    match = _VERSION_RE.search(line)
    return match.group(0) if match else line[:80]


def as_argument(path: str) -> str:
    """A job path as a command argument: a name like ``-c.py`` would be read as an
    option by the interpreter or the compiler, ``./-c.py`` is not."""
    return "./" + path if path.startswith("-") else path


def version_probe(language: Language, limits: Limits) -> tuple[Job, list[str]]:
    """A job without files and the argv that prints ``language``'s runtime version."""
    job = Job(language=language, files=(), main=language.main_path())
    argv = language.command(language.version, main=job.main, heap_mb=heap_mb_for(limits.memory_mb))
    return job, argv


def probed_version(outcome: RunOutcome) -> str | None:
    """The version a runtime's version command printed, None if it failed."""
    if outcome.error is not None or outcome.exit_code != 0:
        return None
    text = outcome.stdout.decode(errors="replace") or outcome.stderr.decode(errors="replace")
    return first_version(text)


def check_command(job: Job) -> list[str]:
    """The argv of ``job``'s syntax check (its language must have one)."""
    assert job.language.check is not None
    return _build_step(job, job.language.check)


def compile_command(job: Job) -> list[str]:
    """The argv of ``job``'s compile step (its language must have one)."""
    assert job.language.compile is not None
    return _build_step(job, job.language.compile, job.compiler_options)


def _build_step(job: Job, template: Sequence[str], options: Sequence[str] = ()) -> list[str]:
    """A build step's argv (check or compile): under the compile limits' heap."""
    return job.language.command(
        template,
        main=as_argument(job.main),
        files=[as_argument(f.path) for f in job.files],
        options=options,
        heap_mb=heap_mb_for(job.compile_limits.memory_mb),
    )


#: Macros that make each compile of the same source differ (as ccache, no caching then).
_CLOCK_MACROS = (b"__TIME__", b"__DATE__", b"__TIMESTAMP__")


def build_key(job: Job, toolchain: str) -> str | None:
    """The cache key of ``job``'s build (or syntax check) with ``toolchain``; None: not to
    be cached (no ``build_scope``, nothing to compile or check, or a source that reads
    the compile's clock)."""
    language = job.language
    if job.build_scope is None or (language.compile is None and language.check is None):
        return None
    if any(macro in f.content for f in job.files for macro in _CLOCK_MACROS):
        return None
    digest = hashlib.sha256()

    def part(value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        # Length-prefixed, so that no two different jobs write the same bytes.
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    part(job.build_scope)
    part(toolchain)
    part(language.id)
    part(repr(language.compile))
    part(repr(language.check))
    part(repr(sorted(language.env.items())))
    part(repr(job.compiler_options))
    part(repr(job.compile_limits))
    part(job.main)
    part(str(len(job.files)))
    for f in job.files:
        part(f.path)
        part(f.content)
    return digest.hexdigest()


async def reuse_build(
    cache: BuildCache, key: str | None, unpack: Callable[[bytes], Awaitable[None]]
) -> CompileOutcome | None:
    """The outcome of an identical earlier build, unpacked into the job by ``unpack``
    (as a fresh build's archive is); None when there is none (compile then)."""
    build = cache.get(key)
    if build is None:
        return None
    try:
        await unpack(build.archive)
    except (tarfile.TarError, ValueError, OSError):
        cache.forget(key)
        return None
    return CompileOutcome(ok=True, output=build.output, cached=True)


def keep_build(cache: BuildCache, key: str | None, result: CompileOutcome, archive: bytes) -> None:
    """Keep a build for the next identical job; only a successful one."""
    if result.ok and not result.cached:
        cache.put(key, CachedBuild(archive, result.output))


def compile_limit_note(outcome: RunOutcome, limits: Limits) -> str:
    notes = {
        "memory": f"the compiler reached its memory limit of {limits.memory_mb} MB",
        "cpu_time": f"compilation used more than {limits.cpu_time_ms} ms of CPU time",
        "wall_time": f"compilation took longer than {limits.wall_time_ms} ms",
        "output": "the compiler printed too much, or its output was too large",
        "file_size": f"the compiler wrote a file larger than {limits.file_size_kb} KB",
        "processes": f"the compiler tried to run more than {limits.processes} processes",
    }
    if outcome.limit_hit in notes:
        return f"\nCompilation stopped: {notes[outcome.limit_hit]}."
    if outcome.signal is not None:
        return f"\nThe compiler was killed by signal {outcome.signal}."
    return ""


async def compile_result(
    outcome: RunOutcome,
    messages: bytes,
    limits: Limits,
    collect: Callable[[], Awaitable[None]] | None = None,
) -> CompileOutcome:
    """The compile step's result from how the compiler ran.

    ``messages`` are what the compiler printed; ``collect`` takes the build out of the
    sandbox (a tar archive of its work dir: hostile input) after a successful compile.
    A backend failure raises RuntimeError.
    """
    text = messages.decode("utf-8", errors="replace")
    if outcome.error is not None:
        raise RuntimeError(outcome.error)
    if outcome.exit_code != 0 or outcome.limit_hit is not None:
        return CompileOutcome(
            ok=False, output=text + compile_limit_note(outcome, limits), outcome=outcome
        )
    if collect is not None:
        try:
            await collect()
        except (tarfile.TarError, ValueError, OSError) as exc:
            return CompileOutcome(
                ok=False,
                output=text + f"\nThe compiler's output could not be collected ({exc}).",
                outcome=outcome,
            )
    return CompileOutcome(ok=True, output=text, outcome=outcome)


async def check_syntax(
    job: Job,
    cache: BuildCache,
    key: str | None,
    run: Callable[[list[str], OutputCaps], Awaitable[RunOutcome]],
) -> CompileOutcome:
    """The syntax check of ``job`` (``Language.check``) run by ``run(argv, caps)`` under
    the compile limits, as a compile step: a file that does not parse is a compile
    error with what the checker printed. A file that passed is kept in ``cache`` under
    ``key`` (see :func:`build_key`), so the same code is not checked again."""
    if cache.get(key) is not None:
        return CompileOutcome(ok=True, cached=True)
    limits = job.compile_limits
    outcome = await run(check_command(job), OutputCaps(total=limits.output_kb * 1024))
    result = await compile_result(outcome, outcome.stdout + outcome.stderr, limits)
    if result.ok:
        # "No syntax errors detected": nothing a student needs to read.
        result.output = ""
        keep_build(cache, key, result, b"")
    return result


# The last line of a Python syntax report: the class and, usually, a message.
_SYNTAX_LINE = re.compile(rb"(?:^|\n)(?:SyntaxError|IndentationError|TabError)(?::[^\n]*)?\n?$")


def python_syntax_error(outcome: RunOutcome) -> bool:
    """True when a Python run ended in the launcher's report that the file did not parse."""
    return (
        outcome.exit_code == PYTHON_SYNTAX_STATUS
        and outcome.signal is None
        and outcome.limit_hit is None
        and outcome.error is None
        and not outcome.cancelled
        and not outcome.stderr_truncated
        and bool(_SYNTAX_LINE.search(outcome.stderr[-4096:]))
    )


class SandboxProgram(Program):
    """A prepared job of a backend: builds the run step's command and output caps; the
    backend runs the command in ``_run``."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.compile: CompileOutcome | None = None

    async def run(
        self,
        stdin: StdinSource,
        limits: Limits,
        on_output: OutputCallback | None = None,
    ) -> RunOutcome:
        if self.compile is not None and not self.compile.ok:
            raise RuntimeError("the program did not compile")
        self.stopped = None
        language = self.job.language
        argv = language.command(
            language.run,
            main=as_argument(self.job.main),
            files=[as_argument(f.path) for f in self.job.files],
            options=self.job.compiler_options,
            args=self.job.args,
            heap_mb=heap_mb_for(limits.memory_mb),
        )
        caps = OutputCaps(total=limits.output_kb * 1024)
        outcome = await self._run(argv, stdin, limits, caps, on_output)
        if PYTHON_LAUNCHER in language.run and python_syntax_error(outcome):
            # The main file did not parse: the compile step's failure, found by the run.
            self.compile = CompileOutcome(
                ok=False, output=outcome.stderr.decode("utf-8", errors="replace")
            )
        return outcome

    @abc.abstractmethod
    async def _run(
        self,
        argv: list[str],
        stdin: StdinSource,
        limits: Limits,
        caps: OutputCaps,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        """Run ``argv`` in the job's sandbox."""
