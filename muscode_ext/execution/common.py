"""What both sandbox backends share: the program's commands, output capture, compile
results, job paths, runtime versions, heap sizes."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import decimal
import inspect
import io
import logging
import os
import re
import shutil
import stat
import tarfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..aio import wait_ended
from .base import (
    CompileOutcome,
    Job,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    StdinSource,
    Stream,
)
from .languages import Language

log = logging.getLogger(__name__)

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


def safe_relpath(path: str) -> PurePosixPath:
    """A job path as a relative path that cannot leave the work dir (or raise)."""
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in pure.parts)
        or "\0" in path
        or len(path.encode()) > 4096
    ):
        raise ValueError(f"unsafe file path {path!r}")
    return pure


#: Most entries a compile step's archive may hold.
MAX_BUILD_ENTRIES = 10_000


@dataclass(frozen=True)
class BuildEntry:
    """A directory (``content`` None) or regular file of a compile step's work dir."""

    path: PurePosixPath
    content: bytes | None
    executable: bool = False
    #: The file's modification time to the nanosecond, where the archive has it (pax).
    mtime_ns: int | None = None


def build_entries(archive: bytes, job: Job) -> Iterator[BuildEntry]:
    """What to keep of the compile step's tar archive of its work dir (hostile input).

    Only regular files and directories with plain relative names; the sources are
    skipped (the host's copies stay authoritative); links, FIFOs and devices are
    ignored, so nothing the compiler planted is ever followed or opened on the host.
    Raises ValueError (a path that could leave the work dir, too many entries) or
    tarfile.TarError.
    """
    sources = {str(safe_relpath(f.path)) for f in job.files}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for count, member in enumerate(tar):
            if count > MAX_BUILD_ENTRIES:
                raise ValueError("too many files")
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            if not name or name == ".":
                continue
            rel = safe_relpath(name)
            if str(rel) in sources:
                continue
            if member.isdir():
                yield BuildEntry(rel, None)
            elif member.isfile():
                data = tar.extractfile(member)
                if data is not None:
                    executable = bool(member.mode & 0o111)
                    yield BuildEntry(rel, data.read(), executable, _exact_mtime_ns(member))


def _exact_mtime_ns(member: tarfile.TarInfo) -> int | None:
    """A pax archive's mtime as written ("1795998776.907711236"), without a float's
    rounding; None if the archive has none or it is not a plain decimal."""
    text = member.pax_headers.get("mtime")
    if text is None:
        return None
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or not 0 <= value < 2**40:
        return None
    return int(value.scaleb(9))


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


def probed_version(outcome: RunOutcome) -> str | None:
    """The version a runtime's version command printed, None if it failed."""
    if outcome.error is not None or outcome.exit_code != 0:
        return None
    text = outcome.stdout.decode(errors="replace") or outcome.stderr.decode(errors="replace")
    return first_version(text)


# -- output -----------------------------------------------------------------------------


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


# -- programs ---------------------------------------------------------------------------


def compile_command(job: Job) -> list[str]:
    """The argv of ``job``'s compile step (its language must have one)."""
    language = job.language
    assert language.compile is not None
    return language.command(
        language.compile,
        main=as_argument(job.main),
        files=[as_argument(f.path) for f in job.files],
        options=job.compiler_options,
        heap_mb=heap_mb_for(job.compile_limits.memory_mb),
    )


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
        return await self._run(argv, stdin, limits, caps, on_output)

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


def remove_tree(path: Path) -> None:
    """Remove a job's directory tree. rmtree never follows symlinks and unlinks FIFOs
    without opening them; a directory inside the tree that the program made unwritable
    to us is made writable first. Nothing outside the tree is ever touched: when the
    tree's own root cannot be removed (already gone, say), its parent (``/tmp``) keeps
    its mode."""
    top = os.path.abspath(path)

    def onerror(func: Any, target: str, exc_info: Any) -> None:
        parent = os.path.dirname(os.path.abspath(target))
        if parent == top or parent.startswith(top + os.sep):
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(parent).st_mode):
                    os.chmod(parent, 0o700)
        with contextlib.suppress(OSError):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)
