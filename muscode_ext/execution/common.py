"""Helpers both sandbox backends use: job paths, runtime versions, heap sizes, notes."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .base import Limits, RunOutcome
from .languages import Language

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
