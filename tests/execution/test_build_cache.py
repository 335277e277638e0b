"""The build cache: the same user compiling the same code again reuses the build; any
other change, another user, or a failed compile compiles; the cache stays bounded."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from traitlets import TraitError

from muscode_ext.execution import DEFAULT_LANGUAGES, Job, Limits, LocalSandbox, SourceFile
from muscode_ext.execution.buildcache import BuildCache, CachedBuild
from muscode_ext.execution.programs import build_key

from .conftest import Runner

pytestmark = pytest.mark.timeout(120)
#: Tests that run programs, on every backend.
sandboxed = pytest.mark.usefixtures("no_leftovers")

# Prints its argument's length; the #warning gives the compile step output to keep.
WARNS = (
    "#include <stdio.h>\n#include <string.h>\n#warning built-{tag}\n"
    'int main(int c, char **v) {{ printf("%zu {tag}\\n", c > 1 ? strlen(v[1]) : 0); '
    "return 0; }}\n"
)


def scoped(
    runner: Runner,
    source: str,
    scope: str | None,
    *,
    args: tuple[str, ...] = (),
    compiler_options: tuple[str, ...] = (),
) -> Job:
    job = runner.job("c", source, args=args, compiler_options=compiler_options)
    return dataclasses.replace(job, build_scope=scope)


def fresh_source() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return WARNS.format(tag=tag), tag


@sandboxed
def test_same_user_same_code_compiles_once(runner: Runner) -> None:
    source, tag = fresh_source()
    cache = runner.sandbox.build_cache
    first = runner.call(runner.execute(scoped(runner, source, "alice", args=("abc",))))
    assert first.verdict == "accepted", first
    assert first.stdout == f"3 {tag}\n"
    assert not first.build_cached and first.compile_time_ms is not None
    hits = cache.hits
    again = runner.call(runner.execute(scoped(runner, source, "alice", args=("abcdef",))))
    assert again.verdict == "accepted", again
    assert again.stdout == f"6 {tag}\n"
    # Reused: no compile step ran, and the compiler's messages are the first build's.
    assert again.build_cached and again.compile_time_ms is None
    assert cache.hits == hits + 1
    assert f"built-{tag}" in (first.compile_output or "")
    assert again.compile_output == first.compile_output


@sandboxed
def test_a_changed_source_or_option_compiles_again(runner: Runner) -> None:
    source, tag = fresh_source()
    first = runner.call(runner.execute(scoped(runner, source, "alice")))
    assert first.verdict == "accepted" and not first.build_cached
    edited = runner.call(runner.execute(scoped(runner, source + "\n", "alice")))
    assert edited.verdict == "accepted" and not edited.build_cached
    assert edited.compile_time_ms is not None
    flagged = runner.call(
        runner.execute(scoped(runner, source, "alice", compiler_options=("-DX=1",)))
    )
    assert flagged.verdict == "accepted" and not flagged.build_cached
    # A second file, even one the compiler ignores, is another job.
    two = runner.job("c", files={"main.c": source, "notes.txt": "hi"}, main="main.c")
    more = runner.call(runner.execute(dataclasses.replace(two, build_scope="alice")))
    assert more.verdict == "accepted" and not more.build_cached
    assert first.stdout == edited.stdout == flagged.stdout == more.stdout == f"0 {tag}\n"


@sandboxed
def test_another_user_never_gets_someone_elses_build(runner: Runner) -> None:
    source, _ = fresh_source()
    mine = runner.call(runner.execute(scoped(runner, source, "alice")))
    assert mine.verdict == "accepted" and not mine.build_cached
    theirs = runner.call(runner.execute(scoped(runner, source, "bob")))
    assert theirs.verdict == "accepted" and not theirs.build_cached
    assert theirs.compile_time_ms is not None
    # Without a scope nothing is kept or reused, not even for the same code.
    size = len(runner.sandbox.build_cache)
    for _ in range(2):
        anon = runner.call(runner.execute(scoped(runner, source, None)))
        assert anon.verdict == "accepted" and not anon.build_cached
    assert len(runner.sandbox.build_cache) == size


@sandboxed
def test_compile_errors_are_not_kept(runner: Runner) -> None:
    broken = f"int main(void) {{ return x_{uuid.uuid4().hex[:8]}; }}\n"
    size = len(runner.sandbox.build_cache)
    for _ in range(2):
        outcome = runner.call(runner.execute(scoped(runner, broken, "alice")))
        assert outcome.verdict == "compile_error", outcome
        assert not outcome.build_cached and outcome.compile_time_ms is not None
        assert "undeclared" in (outcome.compile_output or "")
    assert len(runner.sandbox.build_cache) == size


@sandboxed
def test_a_reused_build_keeps_every_verdict(runner: Runner) -> None:
    """Limits still apply to the run of a reused build."""
    spin = f"int main(void) {{ volatile long i = 0; for (;;) i++; /* {uuid.uuid4()} */ }}\n"
    limits = Limits(cpu_time_ms=300, wall_time_ms=3000)
    for cached in (False, True):
        outcome = runner.call(runner.execute(scoped(runner, spin, "alice"), limits=limits))
        assert outcome.verdict == "time_limit_exceeded", outcome
        assert outcome.build_cached is cached


def test_the_key_holds_everything_that_decides_a_build() -> None:
    c = DEFAULT_LANGUAGES["c"]
    job = Job(c, (SourceFile("main.c", b"int main(void){return 0;}"),), "main.c", build_scope="a")
    key = build_key(job, "gcc-1")
    assert key is not None and key == build_key(dataclasses.replace(job), "gcc-1")
    others = [
        build_key(job, "gcc-2"),
        build_key(dataclasses.replace(job, build_scope="b"), "gcc-1"),
        build_key(dataclasses.replace(job, compiler_options=("-O0",)), "gcc-1"),
        build_key(dataclasses.replace(job, compile_limits=Limits(memory_mb=1024)), "gcc-1"),
        build_key(
            dataclasses.replace(job, files=(SourceFile("main.c", b"int main(){}"),)), "gcc-1"
        ),
        build_key(dataclasses.replace(job, language=DEFAULT_LANGUAGES["cpp"]), "gcc-1"),
    ]
    assert key not in others and len(set(others)) == len(others)
    assert build_key(dataclasses.replace(job, build_scope=None), "gcc-1") is None
    # A build that prints when it was compiled is compiled every time.
    clock = SourceFile("main.c", b"#include <stdio.h>\nint main(void){puts(__TIME__);}")
    assert build_key(dataclasses.replace(job, files=(clock,)), "gcc-1") is None
    python = Job(
        DEFAULT_LANGUAGES["python"], (SourceFile("main.py", b""),), "main.py", build_scope="a"
    )
    assert build_key(python, "x") is None


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = BuildCache(max_bytes=300)
    for name in "abc":
        cache.put(name, CachedBuild(b"x" * 90, "w"))
    assert len(cache) == 3 and cache.size == 273
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", CachedBuild(b"x" * 90, "w"))
    assert cache.get("b") is None and cache.get("a") is not None
    assert cache.size <= 300 and len(cache) == 3
    cache.put("huge", CachedBuild(b"x" * 301, ""))
    assert cache.get("huge") is None and len(cache) == 3
    off = BuildCache(max_bytes=0)
    off.put("a", CachedBuild(b"", ""))
    assert off.get("a") is None and len(off) == 0


def test_build_cache_mb_is_a_checked_setting() -> None:
    with pytest.raises(TraitError, match="build_cache_mb"):
        LocalSandbox(build_cache_mb=-1)
    sandbox = LocalSandbox(build_cache_mb=2)
    assert sandbox.build_cache.max_bytes == 2 * 1024 * 1024
