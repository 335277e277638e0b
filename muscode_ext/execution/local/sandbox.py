"""``LocalSandbox``: the local backend's settings, its start-up checks, and one job's
life (job directory, compile step, runs). How a run is launched and contained is in
the modules beside this one; the package docstring has the overview."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from traitlets import Bool, Int, List, TraitError, Unicode, validate

from ..archives import archive_cap_bytes, unpack_build
from ..base import (
    CompileOutcome,
    Job,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    Sandbox,
    SandboxUnavailable,
    SourceFile,
    StdinSource,
)
from ..box import BASE_ENV, SANDBOX_UID
from ..hostfiles import remove_tree
from ..languages import Language
from ..programs import (
    SandboxProgram,
    build_key,
    check_command,
    check_syntax,
    compile_command,
    compile_result,
    keep_build,
    probed_version,
    reuse_build,
    version_probe,
)
from ..rlimits import MIN_OPEN_FILES, ShellUlimit
from ..streams import OutputCaps
from .bwrap import ETC_FILES, Bwrap
from .cgroups import EMPTY_TIMEOUT_S, CgroupV1, RunCgroup
from .launchers import LauncherPool, LaunchSetup
from .process import Execution, Spec, tail_text
from .scripts import COMPILE_SCRIPT, ScriptSetup, launch_script, write_script
from .seccomp import seccomp_filter
from .workdirs import JobDirs

log = logging.getLogger(__name__)

# Limits of the version probes.
_PROBE_LIMITS = Limits(
    cpu_time_ms=10_000, wall_time_ms=20_000, memory_mb=512, processes=64, output_kb=64
)
# Jobs of at most this many source files and bytes, and no build, are written and
# removed on the event loop (see LocalSandbox.prepare).
_INLINE_FILES = 8
_INLINE_BYTES = 64 * 1024


class LocalSandbox(Sandbox):
    """Runs programs on this machine with bubblewrap, cgroup v1 limits and rlimits."""

    name = "local"

    allow_unsafe = Bool(
        False,
        help="""The operator's explicit single-user mode: when bubblewrap is missing or
        cannot create namespaces here, run programs WITHOUT it (rlimits, and cgroups when
        writable; no filesystem, network or process isolation: a program can read and
        change whatever the server's user can). Only for one person running their own
        code on their own machine. False: such a host refuses to run code.""",
    ).tag(config=True)

    work_root = Unicode(
        None,
        allow_none=True,
        help="""Directory where per-job directories are made; every parent must be
        searchable by uid 65534 when the server runs as root. Empty or None: a private
        directory, removed by stop(), in /dev/shm when it is a tmpfs with at least 1 GiB
        free (a job directory is made and removed per run, much cheaper in memory than
        on disk), else in the system temp dir.""",
    ).tag(config=True)

    work_dir_mb = Int(
        64,
        help="""Size in MiB of each writable tmpfs a program gets: /box (its cwd) and
        /tmp; /dev/shm gets a quarter. What a program writes there also counts against
        its memory limit. At least 1.""",
    ).tag(config=True)

    open_files = Int(
        256,
        help="""RLIMIT_NOFILE of sandboxed programs: the files one process may hold open
        (the JVM needs a few dozen). At least 16; never above the server's own hard
        limit, which the sandbox inherits.""",
    ).tag(config=True)

    extra_ro_binds = List(
        Unicode(),
        help="""Host paths shown read-only inside the sandbox at the same place, for
        runtimes installed outside /usr (e.g. /opt/jdk). Absolute paths; one that does
        not exist is skipped.""",
    ).tag(config=True)

    prestart = Int(
        2,
        help="""Launchers kept parked in fresh cgroups, ready for the next runs: each is
        an idle sh, and saves a run the first cgroup migration after a pause (10-15 ms
        on cgroup v1). 0: none, each run starts its own.""",
    ).tag(config=True)

    @validate("work_dir_mb")
    def _valid_work_dir_mb(self, proposal: Any) -> int:
        if proposal.value < 1:
            raise TraitError(f"work_dir_mb must be at least 1 (MiB), not {proposal.value}")
        return int(proposal.value)

    @validate("open_files")
    def _valid_open_files(self, proposal: Any) -> int:
        if proposal.value < MIN_OPEN_FILES:
            raise TraitError(f"open_files must be at least {MIN_OPEN_FILES}, not {proposal.value}")
        return int(proposal.value)

    @validate("prestart")
    def _valid_prestart(self, proposal: Any) -> int:
        if proposal.value < 0:
            raise TraitError(f"prestart must be 0 or more, not {proposal.value}")
        return int(proposal.value)

    @validate("extra_ro_binds")
    def _valid_extra_ro_binds(self, proposal: Any) -> list[str]:
        for path in proposal.value:
            pure = PurePosixPath(path)
            if not pure.is_absolute() or ".." in pure.parts or len(pure.parts) < 2:
                raise TraitError(f"extra_ro_binds: {path!r} is not an absolute path below /")
        return list(proposal.value)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._is_root = os.geteuid() == 0
        self._bwrap_path = shutil.which("bwrap")
        self._setpriv = shutil.which("setpriv")
        self._sh = shutil.which("sh") or "/bin/sh"
        self._seccomp = seccomp_filter()
        self._dirs: JobDirs | None = None
        self._launchers: LauncherPool | None = None
        self._scripts: ScriptSetup | None = None
        self._init_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._initialised = False
        #: Cleanups that outlived their run (after a cancellation); awaited by stop().
        self._background: set[asyncio.Future[Any]] = set()
        self._mode: str | None = None  # "bwrap" | "unsafe" | None (unavailable)
        self._problem: str | None = None
        self._cgroups: CgroupV1 | None = None
        self._versions: dict[tuple[str, tuple[str, ...]], str | None] = {}

    # -- public contract

    @property
    def mode(self) -> str | None:
        """``"bwrap"``, ``"unsafe"`` or None (cannot run code); known after start()."""
        return self._mode

    @property
    def job_root(self) -> Path | None:
        """The directory per-job directories are made in, once started."""
        return self._dirs.root if self._dirs is not None else None

    @property
    def cgroups_enabled(self) -> bool:
        return self._cgroups is not None

    def idle_cgroups(self) -> set[str]:
        """Names of the cgroups of launchers parked for future runs."""
        return self._launchers.idle_cgroups() if self._launchers is not None else set()

    def parked_pids(self) -> set[int]:
        """Process ids of the launchers parked for future runs (each an idle ``sh``)."""
        parked = self._launchers.parked if self._launchers is not None else []
        return {launcher.proc.pid for launcher in parked}

    async def start(self) -> None:
        await self._ensure_init()

    async def stop(self) -> None:
        launchers, self._launchers = self._launchers, None
        if launchers is not None:
            launchers.cancel_refill()
            await asyncio.to_thread(launchers.discard_all)
        loop = asyncio.get_running_loop()
        pending = [t for t in self._background if t.get_loop() is loop and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=15)
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        if self._dirs is not None:
            await asyncio.to_thread(self._dirs.close)
        self._initialised = False

    async def check(self) -> str | None:
        await self._ensure_init()
        return self._problem if self._mode is None else None

    async def language_version(self, language: Language) -> str | None:
        if not language.version:
            return None
        key = (language.id, language.version)
        if key in self._versions:
            return self._versions[key]
        await self._ensure_init()
        version: str | None = None
        if self._mode is not None:
            job, argv = version_probe(language, _PROBE_LIMITS)
            dirs = self._job_dirs()
            job_dir = await asyncio.to_thread(dirs.new)
            try:
                outcome = await self._run_command(
                    argv,
                    job=job,
                    job_dir=job_dir,
                    limits=_PROBE_LIMITS,
                    caps=OutputCaps(total=_PROBE_LIMITS.output_kb * 1024),
                    stdin=b"",
                    on_output=None,
                )
            finally:
                await asyncio.to_thread(remove_tree, job_dir)
            version = probed_version(outcome)
        if version is not None:  # a miss is probed again next time
            self._versions[key] = version
        return version

    @contextlib.asynccontextmanager
    async def prepare(self, job: Job) -> AsyncIterator[Program]:
        await self._ensure_init()
        if self._mode is None:
            raise SandboxUnavailable(self._problem or "the local sandbox cannot run code")
        dirs = self._job_dirs()
        # Without bwrap the program works in the job's box directly, as the sandbox user.
        owned = self._mode == "unsafe" and self._is_root
        # A few small sources (the usual job) take less time to write and remove than
        # a hand-over to a thread would; the rest goes to a thread.
        small = (
            not job.language.compiled
            and len(job.files) <= _INLINE_FILES
            and sum(len(f.content) for f in job.files) <= _INLINE_BYTES
        )
        if small:
            job_dir = dirs.new(job, for_sandbox_user=owned)
        else:
            job_dir = await asyncio.to_thread(partial(dirs.new, job, for_sandbox_user=owned))
        try:
            program = LocalProgram(self, job, job_dir)
            if job.language.compiled:
                program.compile = await self._compile(job, job_dir)
            elif job.language.check is not None:
                program.compile = await self._check(job, job_dir)
            yield program
        finally:
            if small:
                remove_tree(job_dir)
            else:
                await asyncio.to_thread(remove_tree, job_dir)

    # -- initialisation

    async def _ensure_init(self) -> None:
        if self._initialised:
            return
        loop = asyncio.get_running_loop()
        if self._init_lock is None or self._init_lock[0] is not loop:
            # A Lock belongs to one event loop; callers (tests, a worker thread) may
            # use this sandbox from more than one over its life.
            self._init_lock = (loop, asyncio.Lock())
        async with self._init_lock[1]:
            if self._initialised:
                return
            await self._initialise()
            self._initialised = True

    async def _initialise(self) -> None:
        dirs = self._dirs = JobDirs(self.work_root or None, self._is_root)
        await asyncio.to_thread(dirs.open)
        if self._is_root and self._setpriv is None:
            self._set_unavailable("the setpriv tool (util-linux) is not installed")
            return
        unreachable = await asyncio.to_thread(dirs.unreachable)
        if unreachable is not None:
            self._set_unavailable(unreachable)
            return
        ulimit = await asyncio.to_thread(ShellUlimit.probe, self._sh)
        cgroups, why = await asyncio.to_thread(CgroupV1.discover)
        self._cgroups = cgroups
        if cgroups is None:
            log.warning(
                "cgroup limits are not available (%s): memory is limited with RLIMIT_AS, "
                "processes with RLIMIT_NPROC, CPU time per process only",
                why,
            )
        reason: str | None
        if self._bwrap_path is None:
            reason = (
                "bubblewrap (bwrap) is not installed, so untrusted code cannot be isolated; "
                "install it (apt-get install bubblewrap)"
            )
        else:
            bwrap = await asyncio.to_thread(
                Bwrap.find, self._bwrap_path, self.extra_ro_binds, self._is_root
            )
            self._mode = "bwrap"
            if self._seccomp is None:
                log.warning(
                    "no seccomp filter for %s: sandboxed programs can make any system call",
                    platform.machine(),
                )
            data = dict(ETC_FILES)
            if self._seccomp is not None:
                data["seccomp"] = self._seccomp
            self._use(ulimit, bwrap, data)
            reason = await self._probe()
            if reason is None:
                log.info(
                    "local sandbox ready (bubblewrap, cgroups %s)",
                    "on" if cgroups is not None else "off",
                )
                return
            # Launchers started for the bwrap probe carry bwrap's fds; start afresh.
            await asyncio.to_thread(self._launcher_pool().discard_all)
        if self.allow_unsafe:
            self._mode = "unsafe"
            self._problem = None
            self._use(ulimit, None, None)
            log.warning(
                "UNSAFE MODE: %s; running programs without a sandbox (rlimits%s only), "
                "as the operator allowed",
                reason,
                " and cgroups" if cgroups is not None else "",
            )
            return
        self._set_unavailable(reason + ", or allow the unsafe single-user mode")

    def _use(self, ulimit: ShellUlimit, bwrap: Bwrap | None, data: dict[str, bytes] | None) -> None:
        """Launch runs with ``bwrap`` (None: the unsafe mode) from now on."""
        setpriv = self._setpriv if self._is_root else None
        setup = LaunchSetup(sh=self._sh, setpriv=setpriv, bwrap_data=data)
        self._launchers = LauncherPool(setup, self._cgroups, self.prestart)
        self._scripts = ScriptSetup(
            ulimit=ulimit,
            open_files=self.open_files,
            work_dir_mb=self.work_dir_mb,
            bwrap=bwrap,
            uid=SANDBOX_UID if self._is_root else os.getuid(),
        )

    def _job_dirs(self) -> JobDirs:
        assert self._dirs is not None, "the sandbox is not started"
        return self._dirs

    def _launcher_pool(self) -> LauncherPool:
        assert self._launchers is not None, "the sandbox is not started"
        return self._launchers

    def _set_unavailable(self, reason: str) -> None:
        self._mode = None
        self._problem = reason[:1].upper() + reason[1:] + "."
        log.error("local sandbox unavailable: %s", self._problem)

    async def _probe(self) -> str | None:
        """None when bwrap can build a sandbox here, with a job file bound, else why not."""
        job = Job(
            language=Language(id="probe", name="probe", extensions=(".txt",), run=("true",)),
            files=(SourceFile("probe.txt", b"probe\n"),),
            main="probe.txt",
        )
        job_dir = await asyncio.to_thread(self._job_dirs().new, job)
        try:
            outcome = await self._run_command(
                ["cat", "probe.txt"],
                job=job,
                job_dir=job_dir,
                limits=_PROBE_LIMITS,
                caps=OutputCaps(total=64 * 1024),
                stdin=b"",
                on_output=None,
            )
        except OSError as exc:
            return f"bubblewrap could not be started ({exc})"
        finally:
            await asyncio.to_thread(remove_tree, job_dir)
        if outcome.error is not None or outcome.exit_code != 0 or outcome.stdout != b"probe\n":
            detail = outcome.error or tail_text(outcome.stderr)
            return f"bubblewrap cannot create a sandbox on this host ({detail})"
        return None

    # -- compile and run

    async def _compile(self, job: Job, job_dir: Path) -> CompileOutcome:
        limits = job.compile_limits
        argv = compile_command(job)
        in_bwrap = self._mode == "bwrap"
        box, modes = job_dir / "box", self._job_dirs().modes

        async def unpack(archive: bytes) -> None:
            await asyncio.to_thread(unpack_build, archive, box, job, modes)

        # Without bwrap the compiler writes into the box itself: no archive to keep.
        key = build_key(job, compiler_identity(argv[0])) if in_bwrap else None
        reused = await reuse_build(self.build_cache, key, unpack)
        if reused is not None:
            return reused
        if in_bwrap:
            argv = ["/bin/sh", "-c", COMPILE_SCRIPT, "muscode-compile", *argv]
            caps = OutputCaps(
                stdout=archive_cap_bytes(self.work_dir_mb), stderr=limits.output_kb * 1024
            )
        else:
            caps = OutputCaps(total=limits.output_kb * 1024)
        outcome = await self._run_command(
            argv,
            job=job,
            job_dir=job_dir,
            limits=limits,
            caps=caps,
            stdin=b"",
            on_output=None,
        )
        if not in_bwrap:
            return await compile_result(outcome, outcome.stdout + outcome.stderr, limits)
        archive, outcome.stdout = outcome.stdout, b""
        result = await compile_result(outcome, outcome.stderr, limits, lambda: unpack(archive))
        keep_build(self.build_cache, key, result, archive)
        return result

    async def _check(self, job: Job, job_dir: Path) -> CompileOutcome:
        """The syntax check of an interpreted language's main file (``php -l``)."""
        key = build_key(job, compiler_identity(check_command(job)[0]))

        async def run(argv: list[str], caps: OutputCaps) -> RunOutcome:
            return await self._run_command(
                argv,
                job=job,
                job_dir=job_dir,
                limits=job.compile_limits,
                caps=caps,
                stdin=b"",
                on_output=None,
            )

        return await check_syntax(job, self.build_cache, key, run)

    async def _run_command(
        self,
        command: list[str],
        *,
        job: Job,
        job_dir: Path,
        limits: Limits,
        caps: OutputCaps,
        stdin: StdinSource,
        on_output: OutputCallback | None,
        stopped: Callable[[RunOutcome | None], None] | None = None,
    ) -> RunOutcome:
        """Run ``command`` of ``job`` once: a parked launcher, its cgroups set to the
        run's limits, the script it sources, the process's life. ``stopped`` is told
        what a cancelled run had used (None when it was not cancelled)."""
        assert self._scripts is not None
        launcher = self._launcher_pool().take()
        cgroup = launcher.cgroup
        script_path = job_dir / f".launch-{secrets.token_hex(4)}"
        try:
            if cgroup is not None:
                cgroup.activate()
                cgroup.set_limits(limits.memory_mb, limits.processes)
            box = job_dir / "box"
            script = launch_script(
                self._scripts, command, job, box, limits, cgroup, launcher.child_fds
            )
            write_script(script_path, script)
            spec = Spec(
                launcher=launcher,
                script=script.text,
                script_path=script_path,
                limits=limits,
                caps=caps,
                cgroup=cgroup,
                cpu_hard_s=script.cpu_hard_s,
                uses_bwrap=self._scripts.bwrap is not None,
            )
            execution = Execution(spec, stdin, on_output, self._background)
            try:
                return await execution.run()
            finally:
                if stopped is not None:
                    stopped(execution.usage)
        finally:
            if launcher.proc.returncode is None:
                # Never started (an error before the hand-over): no one else will reap it.
                launcher.discard()
            launcher.close_fds()
            with contextlib.suppress(OSError):
                script_path.unlink()
            if cgroup is not None and not cgroup.remove():
                self._remove_cgroup_later(cgroup)

    def _remove_cgroup_later(self, cgroup: RunCgroup) -> None:
        """A cgroup still busy right after a run: kill and retry in the background."""

        async def retry() -> None:
            if await cgroup.wait_empty(EMPTY_TIMEOUT_S) and cgroup.remove():
                return
            log.error("could not remove cgroup %s", cgroup.dirs)

        task = asyncio.ensure_future(retry())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def compiler_identity(name: str) -> str:
    """The compiler the sandbox runs as ``name``, as one string that changes when it
    is replaced (an upgrade): its resolved path, inode, size and modification time."""
    found = shutil.which(name, path=BASE_ENV["PATH"])
    if found is None:
        return f"missing:{name}"
    real = os.path.realpath(found)
    try:
        st = os.stat(real)
    except OSError:
        return f"missing:{name}"
    return f"local:{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


class LocalProgram(SandboxProgram):
    """A prepared job of the local sandbox: its files in a private job directory."""

    def __init__(self, sandbox: LocalSandbox, job: Job, job_dir: Path) -> None:
        super().__init__(job)
        self.sandbox = sandbox
        self.job_dir = job_dir

    async def _run(
        self,
        argv: list[str],
        stdin: StdinSource,
        limits: Limits,
        caps: OutputCaps,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        return await self.sandbox._run_command(
            argv,
            job=self.job,
            job_dir=self.job_dir,
            limits=limits,
            caps=caps,
            stdin=stdin,
            on_output=on_output,
            stopped=self._stopped,
        )

    def _stopped(self, usage: RunOutcome | None) -> None:
        self.stopped = usage
