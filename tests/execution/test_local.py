"""What only the local backend has: its unpacking of compile output, its modes, its dirs."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import shutil
import subprocess
import tarfile
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
from muscode_ext.execution import local as local_module
from muscode_ext.execution.common import heap_mb_for, manages_own_heap
from muscode_ext.execution.local import _unpack_build

from .conftest import IN_CI, unavailable

PY_JOB = Job(
    language=DEFAULT_LANGUAGES["python"],
    files=(SourceFile("main.py", b"import os\nprint('hi', os.getuid())"),),
    main="main.py",
)


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _entry(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw: object
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in kw.items():
        setattr(info, key, value)
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def test_unpacking_compile_output_takes_only_plain_files(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    (box / "main.c").write_text("original source")
    outside = tmp_path / "outside"
    outside.mkdir()
    job = Job(
        language=DEFAULT_LANGUAGES["c"],
        files=(SourceFile("main.c", b"original source"),),
        main="main.c",
    )
    archive = _tar(
        [
            _entry("./prog", data=b"\x7fELF", mode=0o755),
            _entry("./pkg", tarfile.DIRTYPE, mode=0o755),
            _entry("./pkg/A.class", data=b"cafe", mode=0o644),
            _entry("./main.c", data=b"replaced by the compiler"),  # sources stay the host's
            _entry("./link", tarfile.SYMTYPE, linkname=str(outside)),
            _entry("./hard", tarfile.LNKTYPE, linkname="prog"),
            _entry("./fifo", tarfile.FIFOTYPE),
            _entry("./dev", tarfile.CHRTYPE, devmajor=1, devminor=3),
            # a file "through" the symlink: must land in a real dir inside the box
            _entry("./link/owned", data=b"x"),
        ]
    )
    _unpack_build(archive, box, job, root=False)
    assert (box / "prog").read_bytes() == b"\x7fELF"
    assert os.access(box / "prog", os.X_OK)
    assert (box / "pkg" / "A.class").read_bytes() == b"cafe"
    assert (box / "main.c").read_text() == "original source"
    assert not (box / "link").is_symlink() and (box / "link" / "owned").read_bytes() == b"x"
    for name in ("hard", "fifo", "dev"):
        assert not (box / name).exists() and not (box / name).is_symlink()
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a/../../b", "./../x"])
def test_unpacking_refuses_paths_outside_the_box(tmp_path: Path, name: str) -> None:
    box = tmp_path / "box"
    box.mkdir()
    job = Job(language=DEFAULT_LANGUAGES["c"], files=(), main="main.c")
    with pytest.raises(ValueError):
        _unpack_build(_tar([_entry(name, data=b"x")]), box, job, root=False)
    assert not (tmp_path / "escape").exists()


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
    monkeypatch.setattr(
        local_module.shutil, "which", lambda name: None if name == "bwrap" else real_which(name)
    )

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
            assert sandbox.work_root is not None
            left = [p.name for p in sandbox.work_root.iterdir()]
            return problem, sandbox.mode, result.verdict, result.stdout, left
        finally:
            await sandbox.stop()

    problem, mode, verdict, stdout, left = asyncio.run(unsafe())
    assert problem is None and mode == "unsafe"
    assert verdict == "accepted"
    expected_uid = local_module.SANDBOX_UID if os.geteuid() == 0 else os.getuid()
    assert stdout == f"hi {expected_uid}\n"
    assert left == []


def test_unsafe_mode_still_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        local_module.shutil, "which", lambda name: None if name == "bwrap" else real_which(name)
    )
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
        root = sandbox.work_root
        assert root is not None and root.is_dir()
        assert root.stat().st_mode & 0o007 == 0  # nothing for other host users
        result = await execute(sandbox, PY_JOB, limits=Limits())
        assert result.verdict == "accepted", result
        await sandbox.stop()
        return root

    assert not asyncio.run(scenario()).exists()


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
    if local_module.seccomp_filter() is None:
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
        pids = [launcher.proc.pid for launcher in sandbox._pool]
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


def _limits_seen(sh: str, script: str) -> dict[str, tuple[str, str]]:
    """(soft, hard) per limit, as a child of ``sh`` sees them after ``script``."""
    out = subprocess.run(
        [sh, "-c", script + "exec cat /proc/self/limits"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    seen = {}
    for line in out.stdout.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        seen[name] = (soft, hard)
    return seen


@pytest.mark.parametrize("shell", ["dash", "bash", "sh"])
def test_the_launchers_ulimit_lines_set_every_run_limit(shell: str) -> None:
    """A parked launcher sets a run's rlimits with its own ``ulimit``: each shell's
    options and units, soft below hard, nothing above what the server itself has."""
    sh = shutil.which(shell)
    if sh is None:
        pytest.skip(f"{shell} is not installed")
    ulimit = local_module._Ulimit.probe(sh)
    if shell != "sh":
        expected = {"dash": ("-p", 512), "bash": ("-u", 1024)}[shell]
        assert (ulimit.nproc_flag, ulimit.fsize_block) == expected
    resource = local_module.resource
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    script = "".join(
        [
            ulimit.lines(resource.RLIMIT_CPU, 4, 3),
            ulimit.lines(resource.RLIMIT_FSIZE, 1024 * 1024),
            ulimit.lines(resource.RLIMIT_NOFILE, nofile_hard + 100),
            ulimit.lines(resource.RLIMIT_CORE, 0),
            ulimit.lines(resource.RLIMIT_AS, 768 * 1024 * 1024),
            ulimit.lines(resource.RLIMIT_NPROC, 321),
        ]
    )
    seen = _limits_seen(sh, script)
    assert seen["Max cpu time"] == ("3", "4")
    assert seen["Max file size"] == (str(1024 * 1024),) * 2
    # Asked for more than the server's hard limit: the server's, not an error.
    expected_nofile = "unlimited" if nofile_hard == resource.RLIM_INFINITY else str(nofile_hard)
    assert seen["Max open files"] == (expected_nofile,) * 2
    assert seen["Max core file size"] == ("0", "0")
    assert seen["Max address space"] == (str(768 * 1024 * 1024),) * 2
    assert seen["Max processes"] == ("321", "321")
    # A limit the shell cannot set ends the launch (exit 125) instead of running unlimited.
    failed = subprocess.run(
        [sh, "-c", "ulimit -t nonsense || exit 125\necho ran"], text=True, capture_output=True
    )
    assert failed.returncode == 125 and "ran" not in failed.stdout
