"""What only the local backend has: its modes, its dirs, its seccomp filter, its launchers."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from muscode_ext.execution import (
    DEFAULT_LANGUAGES,
    Job,
    Limits,
    LocalSandbox,
    SandboxUnavailable,
    SourceFile,
    execute,
)
from muscode_ext.execution.box import SANDBOX_UID
from muscode_ext.execution.local.seccomp import seccomp_filter
from muscode_ext.execution.local.workdirs import MEMORY_TMP, default_parent, is_tmpfs
from muscode_ext.execution.programs import heap_mb_for, manages_own_heap

from .conftest import IN_CI, unavailable

PY_JOB = Job(
    language=DEFAULT_LANGUAGES["python"],
    files=(SourceFile("main.py", b"import os\nprint('hi', os.getuid())"),),
    main="main.py",
)


def test_heap_sizes_and_address_space_rules() -> None:
    assert heap_mb_for(256) == 192
    assert heap_mb_for(64) == 48
    assert 16 <= heap_mb_for(16) <= 16
    assert manages_own_heap(DEFAULT_LANGUAGES["java"])
    assert manages_own_heap(DEFAULT_LANGUAGES["javascript"])
    for plain in ("python", "c", "cpp", "php"):
        assert not manages_own_heap(DEFAULT_LANGUAGES[plain])


def test_without_bubblewrap_it_refuses_unless_unsafe_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "bwrap" else real_which(name))

    async def refused() -> str | None:
        sandbox = LocalSandbox()
        try:
            problem = await sandbox.check()
            with pytest.raises(SandboxUnavailable):
                async with sandbox.prepare(PY_JOB):
                    pass
            return problem
        finally:
            await sandbox.stop()

    problem = asyncio.run(refused())
    assert problem is not None and "bubblewrap" in problem

    async def unsafe() -> tuple[str | None, str | None, str, str, list[str]]:
        sandbox = LocalSandbox(allow_unsafe=True)
        try:
            problem = await sandbox.check()
            result = await execute(sandbox, PY_JOB, limits=Limits())
            assert sandbox.job_root is not None
            left = [p.name for p in sandbox.job_root.iterdir()]
            return problem, sandbox.mode, result.verdict, result.stdout, left
        finally:
            await sandbox.stop()

    problem, mode, verdict, stdout, left = asyncio.run(unsafe())
    assert problem is None and mode == "unsafe"
    assert verdict == "accepted"
    expected_uid = SANDBOX_UID if os.geteuid() == 0 else os.getuid()
    assert stdout == f"hi {expected_uid}\n"
    assert left == []


def test_unsafe_mode_still_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    job = Job(
        language=DEFAULT_LANGUAGES["python"],
        files=(SourceFile("main.py", b"while True:\n    pass"),),
        main="main.py",
    )

    async def scenario() -> str:
        sandbox = LocalSandbox(allow_unsafe=True)
        try:
            result = await execute(sandbox, job, limits=Limits(cpu_time_ms=500, wall_time_ms=3000))
            return result.verdict
        finally:
            await sandbox.stop()

    assert asyncio.run(scenario()) == "time_limit_exceeded"


def test_default_work_root_is_private_and_removed_on_stop() -> None:
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")

    async def scenario() -> Path:
        sandbox = LocalSandbox()
        await sandbox.start()
        root = sandbox.job_root
        assert root is not None and root.is_dir()
        assert root.parent == default_parent()
        assert root.stat().st_mode & 0o007 == 0  # nothing for other host users
        result = await execute(sandbox, PY_JOB, limits=Limits())
        assert result.verdict == "accepted", result
        await sandbox.stop()
        return root

    assert not asyncio.run(scenario()).exists()


def test_the_default_work_root_is_in_memory_when_there_is_room(tmp_path: Path) -> None:
    if not is_tmpfs(MEMORY_TMP) or not os.access(MEMORY_TMP, os.W_OK):
        pytest.skip(f"{MEMORY_TMP} is not a writable tmpfs here")
    assert default_parent(MEMORY_TMP, min_free=0) == Path(MEMORY_TMP)
    # Too small (a container's 64 MiB /dev/shm, say), or not a tmpfs: the temp dir.
    assert default_parent(MEMORY_TMP, min_free=1 << 60) == Path(tempfile.gettempdir())
    assert default_parent(str(tmp_path), min_free=0) == Path(tempfile.gettempdir())
    assert default_parent(str(tmp_path / "missing"), min_free=0) == Path(tempfile.gettempdir())


def test_cgroups_are_used_when_writable() -> None:
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")
    if os.geteuid() != 0 and not IN_CI:
        pytest.skip("cgroup v1 controllers are only writable by root here")

    async def scenario() -> bool:
        sandbox = LocalSandbox()
        try:
            await sandbox.start()
            return sandbox.cgroups_enabled
        finally:
            await sandbox.stop()

    assert asyncio.run(scenario())


def test_an_unreachable_work_root_is_reported(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root drops to the sandbox user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)

    async def scenario() -> str | None:
        sandbox = LocalSandbox(work_root=str(private / "work"))
        try:
            return await sandbox.check()
        finally:
            await sandbox.stop()

    problem = asyncio.run(scenario())
    assert problem is not None and "not reachable by the sandbox user" in problem


def test_seccomp_filter_denies_with_eperm() -> None:
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")
    if seccomp_filter() is None:
        pytest.skip("the seccomp filter is written for x86_64")
    from .test_hostile import SYSCALLS

    job = Job(
        language=DEFAULT_LANGUAGES["c"],
        files=(SourceFile("main.c", SYSCALLS.encode()),),
        main="main.c",
        compile_limits=Limits(cpu_time_ms=15_000, wall_time_ms=30_000, memory_mb=512),
    )

    async def scenario() -> str:
        sandbox = LocalSandbox()
        try:
            result = await execute(sandbox, job, limits=Limits())
            assert result.verdict == "accepted", result
            return result.stdout
        finally:
            await sandbox.stop()

    lines = dict(line.split(" ", 1) for line in asyncio.run(scenario()).splitlines())
    eperm = f"-1 {errno.EPERM}"
    for name in ("bpf", "keyctl", "add_key", "perf_event_open", "userfaultfd"):
        assert lines[name] == eperm, (name, lines[name])
    for name in ("io_uring_setup", "ptrace", "unshare", "mount"):
        assert lines[name] == eperm, (name, lines[name])
    assert int(lines["getpid"].split()[0]) > 0


def test_stop_removes_parked_launchers_and_cgroups() -> None:
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")

    async def scenario() -> tuple[list[int], list[Path]]:
        sandbox = LocalSandbox(prestart=2)
        await sandbox.start()
        result = await execute(sandbox, PY_JOB, limits=Limits())
        assert result.verdict == "accepted", result
        pids = sorted(sandbox.parked_pids())
        parents = list(sandbox._cgroups.parents.values()) if sandbox._cgroups else []
        if sandbox.cgroups_enabled:
            assert len(pids) == 2  # parked, ready for the next runs
        await sandbox.stop()
        return pids, parents

    pids, parents = asyncio.run(scenario())
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"launcher {pid} survived stop()"
    for parent in parents:
        assert not parent.exists(), f"{parent} survived stop()"


def test_leftovers_of_a_dead_server_are_removed_at_start(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")
    # A pid that is certainly not running: a child that has exited and been reaped.
    finished = subprocess.Popen(["true"])
    finished.wait()
    child = finished.pid
    root = tmp_path / "work"
    dead = root / f"job-{child}-abc" / "box"
    dead.mkdir(parents=True)
    (dead / "main.py").write_text("left behind")
    alive = root / f"job-{os.getppid()}-def"  # a live process: not ours to remove
    alive.mkdir()

    async def scenario() -> None:
        sandbox = LocalSandbox(work_root=str(root))
        try:
            await sandbox.start()
        finally:
            await sandbox.stop()

    asyncio.run(scenario())
    assert not (root / f"job-{child}-abc").exists()
    assert alive.exists()


def test_a_jobs_directory_is_private_to_the_sandbox_user() -> None:
    """A job's directory is mode 0700, owned by the user its runs are (uid 65534 when
    the server is root): a host user of the sandbox's group (nogroup) cannot list it
    or read the job's files, and another run cannot reach it either."""
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "bwrap is not installed")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        unavailable("setpriv", "setpriv is not installed")

    def as_group_member(*argv: str) -> subprocess.CompletedProcess[str]:
        # A host user that is not the sandbox user but is in its group.
        drop = ["setpriv", "--reuid=4242", f"--regid={SANDBOX_UID}", "--clear-groups"]
        return subprocess.run([*drop, *argv], capture_output=True, text=True, check=False)

    async def scenario() -> None:
        sandbox = LocalSandbox()
        try:
            await sandbox.start()
            async with sandbox.prepare(PY_JOB) as program:
                job_dir = program.job_dir  # type: ignore[attr-defined]
                st = job_dir.stat()
                assert st.st_mode & 0o777 == 0o700, oct(st.st_mode)
                assert st.st_uid == (SANDBOX_UID if as_root else os.getuid())
                assert sandbox.job_root is not None
                assert sandbox.job_root.stat().st_mode & 0o047 == 0  # not listable by nogroup
                if as_root:
                    listed = as_group_member("ls", str(job_dir))
                    assert listed.returncode != 0 and "denied" in listed.stderr, listed
                    read = as_group_member("cat", str(job_dir / "box" / "main.py"))
                    assert read.returncode != 0 and "denied" in read.stderr, read
                # Another run, running while this job's directory exists.
                peek = (
                    "import os\n"
                    f"for p in ({str(job_dir)!r}, {str(job_dir / 'box' / 'main.py')!r}):\n"
                    "    try:\n"
                    "        print(os.listdir(p) if os.path.isdir(p) else open(p).read())\n"
                    "    except OSError as exc:\n"
                    "        print(type(exc).__name__)\n"
                )
                other = Job(
                    language=DEFAULT_LANGUAGES["python"],
                    files=(SourceFile("main.py", peek.encode()),),
                    main="main.py",
                )
                result = await execute(sandbox, other, limits=Limits())
                assert result.verdict == "accepted", result
                assert result.stdout.split() == ["FileNotFoundError", "FileNotFoundError"], result
        finally:
            await sandbox.stop()

    asyncio.run(scenario())
