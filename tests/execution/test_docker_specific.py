"""Docker-only checks: container hardening as the Engine reports it, the pool, cleanup.

The shared suite (``test_hostile.py``, ``test_languages.py``) checks what programs see;
these tests check the containers themselves through the Engine API. Like the shared
conftest: with ``CI=true`` a missing engine, image or runtime fails the test, otherwise
it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Job, Limits, SourceFile, TestCase, execute

pytestmark = pytest.mark.timeout(180)

IN_CI = os.environ.get("CI") == "true"
RUNTIME = os.environ.get("MUSCODE_TEST_DOCKER_RUNTIME", "runc")
LIMITS = Limits(cpu_time_ms=2000, wall_time_ms=4000, memory_mb=192, processes=48, output_kb=32)


def unavailable(why: str) -> None:
    message = f"the docker sandbox is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the docker backend is required)")
    pytest.skip(message)


def make_sandbox(loop: asyncio.AbstractEventLoop, **kwargs: Any) -> Any:
    try:
        from muscode_ext.execution.docker import DockerSandbox
    except ImportError as exc:
        unavailable(f"cannot import it ({exc})")
        raise
    sandbox = DockerSandbox(**kwargs)
    try:
        loop.run_until_complete(sandbox.start())
        problem = loop.run_until_complete(sandbox.check())
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        loop.run_until_complete(sandbox.stop())
        unavailable(problem)
    return sandbox


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def sandbox(loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    sandbox = make_sandbox(loop, runtime=RUNTIME, pool_size=2)
    yield sandbox
    loop.run_until_complete(sandbox.stop())


def api(sandbox: Any) -> Any:
    return sandbox.engine.api  # the test looks through the backend's own Engine client


def python_job(source: str) -> Job:
    lang = DEFAULT_LANGUAGES["python"]
    return Job(language=lang, files=(SourceFile("main.py", source.encode()),), main="main.py")


def our_containers(sandbox: Any) -> list[dict[str, Any]]:
    return api(sandbox).containers(
        all=True, filters={"label": f"muscode.instance={sandbox.instance}"}
    )


async def pool_settled(sandbox: Any) -> None:
    """Wait for the background refills (a container may be half created meanwhile)."""
    for pool in sandbox.pools or ():
        if pool.tasks:
            await asyncio.wait(list(pool.tasks))


@contextlib.contextmanager
def containers_taken(sandbox: Any) -> Iterator[list[str]]:
    """The ids of the containers the sandbox hands to runs inside the block, in order."""
    used: list[str] = []
    real_take = sandbox._take

    async def take(profile: Any) -> Any:
        slot = await real_take(profile)
        used.append(slot.container_id)
        return slot

    sandbox._take = take
    try:
        yield used
    finally:
        del sandbox._take


def assert_no_leftovers(loop: asyncio.AbstractEventLoop, sandbox: Any) -> None:
    loop.run_until_complete(pool_settled(sandbox))
    assert loop.run_until_complete(sandbox.leftover_containers()) == []
    # Only idle pooled containers remain, all of them still waiting for their go line.
    for info in our_containers(sandbox):
        assert info["State"] == "running", info
    pooled = sum(1 for s in sandbox.containers.live.values() if not s.in_use)
    assert len(our_containers(sandbox)) <= pooled


def test_containers_are_hardened(loop: asyncio.AbstractEventLoop, sandbox: Any) -> None:
    job = python_job("import time\nprint('up', flush=True)\ntime.sleep(60)")

    async def scenario() -> dict[str, Any]:
        up = asyncio.Event()
        run = asyncio.ensure_future(
            execute(
                sandbox,
                job,
                limits=Limits(**{**LIMITS.as_dict(), "wall_time_ms": 60_000}),
                on_output=lambda stream, chunk: up.set(),
            )
        )
        try:
            await asyncio.wait_for(up.wait(), timeout=30)
            busy = [s for s in sandbox.containers.live.values() if s.in_use]
            assert len(busy) == 1
            return await sandbox.engine.call(api(sandbox).inspect_container, busy[0].container_id)
        finally:
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run

    info = loop.run_until_complete(scenario())
    host, config = info["HostConfig"], info["Config"]
    assert host["NetworkMode"] == "none"
    assert config.get("NetworkDisabled") is True
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert config["User"] == "65534:65534"
    if RUNTIME == "runsc":
        # gVisor's own kernel shares the container's memory: it gets its idle use on top.
        assert host["Memory"] == (LIMITS.memory_mb + 12) * 1024 * 1024
    else:
        assert host["Memory"] == LIMITS.memory_mb * 1024 * 1024
    assert host["MemorySwap"] == host["Memory"]  # no swap
    if RUNTIME == "runsc":
        assert host["PidsLimit"] >= 256  # gVisor's own threads count on the host
    else:
        assert LIMITS.processes < host["PidsLimit"] <= LIMITS.processes + 4
    assert host["CpuQuota"] == host["CpuPeriod"] == 100_000  # one CPU
    assert host["LogConfig"]["Type"] == "none"
    assert host["Runtime"] == RUNTIME
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]}
    assert ulimits["core"] == (0, 0)
    assert ulimits["nofile"][1] <= 1024
    assert ulimits["fsize"][1] <= 256 * 1024 * 1024
    assert set(host["Tmpfs"]) == {"/box", "/tmp"}
    assert all("size=" in opts for opts in host["Tmpfs"].values())
    assert all(bind.endswith(":ro") for bind in host["Binds"])
    assert config["Labels"]["muscode.sandbox"] == "1"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}, env
    assert_no_leftovers(loop, sandbox)


def test_nothing_left_after_runs_floods_and_cancellation(
    loop: asyncio.AbstractEventLoop, sandbox: Any
) -> None:
    with containers_taken(sandbox) as used:
        ok = loop.run_until_complete(execute(sandbox, python_job("print('hi')"), limits=LIMITS))
        assert ok.verdict == "accepted", ok
        flood = loop.run_until_complete(
            execute(sandbox, python_job("while True:\n    print('x' * 999)"), limits=LIMITS)
        )
        assert flood.verdict == "output_limit_exceeded", flood

        async def cancelled() -> None:
            up = asyncio.Event()
            run = asyncio.ensure_future(
                execute(
                    sandbox,
                    python_job("import time\nprint(1, flush=True)\ntime.sleep(60)"),
                    limits=LIMITS,
                    on_output=lambda stream, chunk: up.set(),
                )
            )
            await asyncio.wait_for(up.wait(), timeout=30)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run

        loop.run_until_complete(cancelled())
    assert len(used) == 3
    existing = {c["Id"] for c in our_containers(sandbox)}
    assert not existing & set(used), "a run's container outlived its job"
    assert_no_leftovers(loop, sandbox)


def test_the_pool_never_hands_out_a_container_twice(
    loop: asyncio.AbstractEventLoop, sandbox: Any
) -> None:
    with containers_taken(sandbox) as used:

        async def many() -> list[str]:
            # Sequential and concurrent takes, with compile-once-run-many in between.
            verdicts = []
            for _ in range(3):
                result = await execute(sandbox, python_job("print(input())"), limits=LIMITS)
                verdicts.append(result.verdict)
            results = await asyncio.gather(
                *(execute(sandbox, python_job("print(7)"), limits=LIMITS) for _ in range(4))
            )
            verdicts += [r.verdict for r in results]
            return verdicts

        verdicts = loop.run_until_complete(many())
    assert verdicts[:3] == ["runtime_error"] * 3  # input() on empty stdin: EOFError
    assert verdicts[3:] == ["accepted"] * 4
    assert len(used) == 7 and len(set(used)) == 7, used
    assert_no_leftovers(loop, sandbox)


def test_stop_removes_every_container_and_directory(loop: asyncio.AbstractEventLoop) -> None:
    sandbox = make_sandbox(loop, runtime=RUNTIME, pool_size=2)
    result = loop.run_until_complete(execute(sandbox, python_job("print(1)"), limits=LIMITS))
    assert result.verdict == "accepted", result
    root = sandbox.job_root
    assert root is not None and root.exists()
    assert our_containers(sandbox)  # the warm pool
    engine = api(sandbox)
    instance = sandbox.instance
    loop.run_until_complete(sandbox.stop())
    assert engine.containers(all=True, filters={"label": f"muscode.instance={instance}"}) == []
    assert not root.exists()


def test_start_sweeps_what_a_dead_server_left(loop: asyncio.AbstractEventLoop) -> None:
    first = make_sandbox(loop, runtime=RUNTIME, pool_size=0)
    engine = api(first)
    # A container as a crashed server would have left it: our label, an owner whose
    # process is gone (pid 1 never has this start time).
    orphan = engine.create_container(
        "muscode-runner:latest",
        ["true"],
        labels={"muscode.sandbox": "1", "muscode.owner": "1.0", "muscode.instance": "dead"},
        host_config=engine.create_host_config(network_mode="none"),
    )["Id"]
    try:
        loop.run_until_complete(first.stop())
        second = make_sandbox(loop, runtime=RUNTIME, pool_size=0)
        try:
            remaining = engine.containers(all=True, filters={"id": orphan})
            assert remaining == [], "the startup sweep left a dead owner's container"
        finally:
            loop.run_until_complete(second.stop())
    finally:
        if engine.containers(all=True, filters={"id": orphan}):
            engine.remove_container(orphan, force=True)


def test_check_names_the_command_that_builds_a_missing_image(
    loop: asyncio.AbstractEventLoop,
) -> None:
    try:
        from muscode_ext.execution.docker import DockerSandbox
    except ImportError as exc:
        unavailable(str(exc))
        raise
    sandbox = DockerSandbox(runtime=RUNTIME, image="muscode-runner:no-such-tag", pool_size=0)
    try:
        problem = loop.run_until_complete(sandbox.check())
        if problem is not None and "unreachable" in problem:
            unavailable(problem)
        assert problem is not None and "docker/build-images.sh" in problem, problem
    finally:
        loop.run_until_complete(sandbox.stop())


def test_runsc_runs_hello_world(loop: asyncio.AbstractEventLoop) -> None:
    """gVisor works as a runtime here, whatever runtime the rest of the suite uses."""
    sandbox = make_sandbox(loop, runtime="runsc", pool_size=0)
    try:
        program = "import os\nprint('hello', os.getuid(), os.uname().release)"
        result = loop.run_until_complete(execute(sandbox, python_job(program), limits=LIMITS))
        assert result.verdict == "accepted", result
        hello, uid, kernel = result.stdout.split()
        assert (hello, uid) == ("hello", "65534")
        # gVisor's own kernel answers, not the host's.
        assert kernel != os.uname().release, kernel
    finally:
        loop.run_until_complete(sandbox.stop())


def test_a_run_starts_with_the_jobs_files_as_the_host_wrote_them(
    loop: asyncio.AbstractEventLoop, sandbox: Any
) -> None:
    """Each run gets its own writable copy of the job's files (nested directories
    included) with their modes and modification times, whichever process copies them
    (run.sh under runc, the relay under gVisor)."""
    check = (
        "import os\n"
        "for rel in ('main.py', 'pkg', 'pkg/util.py', 'pkg/deep', 'pkg/deep/data.txt'):\n"
        "    a, b = os.stat(rel), os.stat('/muscode/files/' + rel)\n"
        "    print(rel, oct(a.st_mode), a.st_mode == b.st_mode,\n"
        "          int(a.st_mtime) == int(b.st_mtime),\n"
        "          os.path.isdir(rel) or a.st_size == b.st_size)\n"
        "print(open('pkg/deep/data.txt').read())\n"
        "open('pkg/new.txt', 'w').write('mine')\n"
        "print('wrote', open('pkg/new.txt').read())\n"
    )
    job = Job(
        language=DEFAULT_LANGUAGES["python"],
        files=(
            SourceFile("main.py", check.encode()),
            SourceFile("pkg/util.py", b"X = 1\n"),
            SourceFile("pkg/deep/data.txt", b"line one\nline two\n"),
        ),
        main="main.py",
    )
    result = loop.run_until_complete(execute(sandbox, job, limits=LIMITS))
    assert result.verdict == "accepted", (result.stdout, result.stderr, result.message)
    paths = ("main.py", "pkg", "pkg/util.py", "pkg/deep", "pkg/deep/data.txt")
    for rel, line in zip(paths, result.stdout.splitlines()[: len(paths)], strict=True):
        name, _mode, same_mode, same_mtime, same_size = line.split()
        assert name == rel
        assert (same_mode, same_mtime, same_size) == ("True", "True", "True"), line
    assert "line one\nline two\n" in result.stdout
    assert "wrote mine" in result.stdout


#: Lists the other processes it can see, then touches ``argv[1]`` MB of memory.
C_CENSUS = r"""
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int others = 0;
    while ((e = readdir(d)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid > 1 && pid != getpid()) others++;
    }
    char line[64];
    long mb = fgets(line, sizeof line, stdin) ? atol(line) : 0;
    printf("others %d\n", others);
    fflush(stdout);
    volatile char *p = malloc(mb << 20);
    for (long i = 0; p != NULL && i < (mb << 20); i += 4096) p[i] = 1;
    printf("touched %ld\n", p != NULL ? mb : -1);
    return 0;
}
"""


def test_a_builds_container_runs_the_jobs_first_run_under_the_runs_limits(
    loop: asyncio.AbstractEventLoop, sandbox: Any
) -> None:
    """Under runc a compiled job's first run takes over its build's container: one
    container fewer. It runs under its own memory limit (not the build's 1 GB), sees
    nothing the compiler left running (here a sleep the compile command started), and
    the later runs get fresh containers. Under gVisor every run has a fresh one."""
    c = DEFAULT_LANGUAGES["c"]
    assert c.compile is not None
    # The compiler leaves a process behind, as a hostile build could.
    leaves = replace(c, compile=("sh", "-c", 'sleep 60 & exec "$0" "$@"', *c.compile))
    # The server's default compile limits (1 GB), with the runs' process limit.
    build = Limits(cpu_time_ms=20_000, wall_time_ms=30_000, memory_mb=1024, processes=48)
    job = Job(
        language=leaves,
        files=(SourceFile("main.c", C_CENSUS.encode()),),
        main="main.c",
        compile_limits=build,
    )
    over = TestCase(name="over", stdin=b"400\n")  # over LIMITS.memory_mb (192)
    small = TestCase(name="small", stdin=b"8\n")
    with containers_taken(sandbox) as used:
        first = loop.run_until_complete(execute(sandbox, job, limits=LIMITS, tests=[over, small]))
        second = loop.run_until_complete(execute(sandbox, job, limits=LIMITS, tests=[small]))
    # Each job's first run is in its build's container (under runc).
    assert first.tests is not None and second.tests is not None
    reused_over, fresh_small = first.tests
    (reused_small,) = second.tests
    assert reused_over.verdict == "memory_limit_exceeded", reused_over
    assert reused_over.stdout.startswith("others 0\n"), reused_over
    for run in (fresh_small, reused_small):
        assert run.verdict == "accepted" and run.stdout == "others 0\ntouched 8\n", run
        assert run.memory_kb is not None and run.memory_kb < 64 * 1024, run  # the run's
    builds_and_runs = 5 if sandbox.runtime == "runsc" else 3
    assert len(used) == builds_and_runs and len(set(used)) == len(used), used
    assert_no_leftovers(loop, sandbox)


def test_a_build_whose_job_ends_before_running_leaves_nothing(
    loop: asyncio.AbstractEventLoop, sandbox: Any
) -> None:
    """The build's waiting container goes with the job even if nothing ran."""
    c = DEFAULT_LANGUAGES["c"]
    build = Limits(processes=LIMITS.processes)
    job = Job(
        language=c,
        files=(SourceFile("main.c", C_CENSUS.encode()),),
        main="main.c",
        compile_limits=build,
    )

    async def compile_only() -> None:
        async with sandbox.prepare(job) as program:
            assert program.compile is not None and program.compile.ok, program.compile
            assert (program.kept is not None) is not (sandbox.runtime == "runsc")

    loop.run_until_complete(compile_only())
    assert_no_leftovers(loop, sandbox)


# A program that learns its run's end-marker nonce wherever it might be (PID 1's
# memory, environment and command line, the script it runs) and prints forged markers
# claiming a clean exit with no limit hit, then does something else.
FORGER = r"""
import os, re, sys
found = set()
for path in ("/proc/1/environ", "/proc/1/cmdline", "/muscode/run.sh", "/muscode/next.sh"):
    try:
        found.update(re.findall(rb"[0-9a-f]{16}", open(path, "rb").read()))
    except OSError:
        pass
try:
    mem = open("/proc/1/mem", "rb", 0)
    for line in open("/proc/1/maps"):
        span, perms = line.split()[:2]
        if not perms.startswith("rw"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(start)
            data = mem.read(end - start)
        except OSError:
            continue
        found.update(re.findall(rb"(?<![0-9a-f])([0-9a-f]{16})\x00", data))
except OSError:
    pass
for nonce in found:
    for claim in (b"0 0 0 0 0", b"0 0 0 1 1"):
        forged = b"\0muscode-end " + nonce + b" " + claim + b"\n"
        sys.stdout.buffer.write(forged)
        sys.stderr.buffer.write(forged)
sys.stdout.flush()
sys.stderr.flush()
AFTER
"""

FORGED_THEN = {
    # (what the program does after forging, the verdict it has earned)
    "exit-3": ("sys.exit(3)", "runtime_error"),
    "cpu-loop": ("while True:\n    pass", "time_limit_exceeded"),
    "child-oom": (
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    x = []\n"
        "    while True:\n"
        "        x.append(b'x' * (8 << 20))\n"
        "os.waitpid(pid, 0)",
        "memory_limit_exceeded",
    ),
}


@pytest.mark.parametrize("case", sorted(FORGED_THEN))
def test_a_forged_end_marker_changes_nothing(
    loop: asyncio.AbstractEventLoop, sandbox: Any, case: str
) -> None:
    """A run's verdict, exit status, time and memory come from where the program cannot
    write (the engine, the host's cgroups), not from what it prints: a program that
    finds its run's nonce (PID 1's memory is readable under runc) and prints markers
    claiming a clean end gets the verdict of what it really did."""
    after, verdict = FORGED_THEN[case]
    limits = Limits(cpu_time_ms=1000, wall_time_ms=4000, memory_mb=128, processes=16)
    source = FORGER.replace("AFTER", after)
    result = loop.run_until_complete(execute(sandbox, python_job(source), limits=limits))
    assert result.verdict == verdict, result
    if case == "exit-3":
        assert result.exit_code == 3, result
    if case == "cpu-loop":
        # The host's count of its CPU time; under gVisor, whose own count runs ahead of
        # the host's on a loaded machine, its RLIMIT_CPU (SIGXCPU) can stop it first.
        assert result.time_ms is not None, result
        assert result.time_ms >= 1000 or result.signal == signal.SIGXCPU, result
    if case == "child-oom":
        # the child's peak, near the limit, not the forged 1 byte
        assert result.memory_kb is not None and result.memory_kb > 64 * 1024, result
    if RUNTIME == "runc":
        # The forgery is real: the program found the nonce and its markers matched
        # (they would otherwise be passed on as output).
        assert "muscode-end" not in result.stdout, result
    assert_no_leftovers(loop, sandbox)


def test_a_sigkill_at_the_memory_limit_is_an_oom_kill() -> None:
    """The engine can report a container's exit before the OOM kill that caused it
    (under gVisor 2 memory bombs in 20 ended 137 with ``OOMKilled`` false): a SIGKILL
    nobody sent, with the container's peak at its limit, counts as the OOM killer's;
    one below the limit, or another end, does not."""
    from muscode_ext.execution.docker.attach import killed_at_memory_limit

    limit = 140 << 20
    assert killed_at_memory_limit(137, limit, limit + 12 * 1024)  # gVisor, measured
    assert killed_at_memory_limit(137, limit, limit - 8 * 4096)  # runc: a few pages below
    assert not killed_at_memory_limit(137, limit, limit - (16 << 20))  # kill -9 itself
    assert not killed_at_memory_limit(1, limit, limit)  # a MemoryError exit: stderr decides
    assert not killed_at_memory_limit(137, limit, None)  # peak unknown
    assert not killed_at_memory_limit(137, 0, limit)  # no limit reported
