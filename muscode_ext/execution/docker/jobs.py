"""One job in the Docker sandbox: its host directory, its compile step and runs, each
step in a container, and the removal of every container it used before it ends.

Each step gets its own container, used once and removed in the background; the job
awaits every removal before its context exits, so a job's runs and removals overlap but
nothing outlives the job. The one exception: under runc with host cgroups (so that the
run's CPU and memory are told apart from the build's), a compiled job's first run takes
over its build's container: the compiler's limits apply in a subshell, a successful
build ends with every process but PID 1 killed, the engine lowers the memory limit to
the run's, and PID 1 waits for the go line of ``next.sh``. A C run then costs one
container instead of two.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..archives import archive_cap_bytes, unpack_build
from ..base import (
    CompileOutcome,
    Job,
    Limits,
    OutputCallback,
    RunOutcome,
    SandboxUnavailable,
    StdinSource,
)
from ..buildcache import BuildCache
from ..hostfiles import WORLD_READABLE, remove_tree
from ..programs import (
    SandboxProgram,
    build_key,
    check_syntax,
    compile_command,
    compile_result,
    keep_build,
    reuse_build,
)
from ..streams import OutputCaps
from .attach import Execution, RunSpec
from .client import sdk
from .containers import Containers, Profile, Slot
from .scripts import step_script

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a job's steps need from their sandbox."""

    containers: Containers
    #: A started container of a profile, for one step (the sandbox's pools).
    take: Callable[[Profile], Awaitable[Slot]]
    #: The image of every language; None: each language's own.
    image: str | None
    #: Size of each writable tmpfs, in MiB (bounds a build's archive).
    work_dir_mb: int
    #: Keeps a background removal until it is done (the sandbox awaits them at stop).
    track: Callable[[asyncio.Future[Any]], None]
    #: The sandbox's successful builds, for jobs that compile the same code again.
    builds: BuildCache
    #: What builds with an image (its id and the runtime), for the build cache's key.
    toolchain: Callable[[str], str]


class DockerProgram(SandboxProgram):
    """A prepared job: its files in ``job_dir/files`` on the host, and the containers
    of its finished steps being removed."""

    def __init__(self, context: JobContext, job: Job, job_dir: Path) -> None:
        super().__init__(job)
        self.context = context
        self.job_dir = job_dir
        #: Removals of this job's finished containers, awaited when the job ends.
        self.cleanups: set[asyncio.Future[None]] = set()
        #: The build's container, waiting for the job's first run.
        self.kept: Slot | None = None

    @property
    def files(self) -> Path:
        return self.job_dir / "files"

    async def build(self) -> CompileOutcome:
        """Compile the job in a container. Where the host reads the containers' cgroups
        and no relay is PID 1, a build that succeeds keeps its container, waiting, for
        the job's first run."""
        job, files, containers = self.job, self.files, self.context.containers
        limits = job.compile_limits

        async def unpack(archive: bytes) -> None:
            await containers.engine.call(unpack_build, archive, files, job, WORLD_READABLE)

        image = self.context.image or job.language.image
        key = build_key(job, self.context.toolchain(image))
        reused = await reuse_build(self.context.builds, key, unpack)
        if reused is not None:
            return reused
        outcome, kept = await self.step(
            compile_command(job),
            limits=limits,
            caps=OutputCaps(
                stdout=archive_cap_bytes(self.context.work_dir_mb),
                stderr=limits.output_kb * 1024,
            ),
            stdin=b"",
            on_output=None,
            compile_step=True,
            cleanups=self.cleanups,
            keep=not containers.setup.relays and containers.cgroups is not None,
        )
        self.kept = kept
        archive, outcome.stdout = outcome.stdout, b""
        result = await compile_result(outcome, outcome.stderr, limits, lambda: unpack(archive))
        keep_build(self.context.builds, key, result, archive)
        if not result.ok:
            await self.drop_kept()
        return result

    async def check(self) -> CompileOutcome:
        """The syntax check of an interpreted language's main file (``php -l``), in a
        container of its own."""
        job = self.job
        image = self.context.image or job.language.image
        key = build_key(job, self.context.toolchain(image))

        async def run(argv: list[str], caps: OutputCaps) -> RunOutcome:
            outcome, _ = await self.step(
                argv,
                limits=job.compile_limits,
                caps=caps,
                stdin=b"",
                on_output=None,
                cleanups=self.cleanups,
            )
            return outcome

        return await check_syntax(job, self.context.builds, key, run)

    async def _run(
        self,
        argv: list[str],
        stdin: StdinSource,
        limits: Limits,
        caps: OutputCaps,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        reuse, self.kept = self.kept, None
        outcome, _ = await self.step(
            argv,
            limits=limits,
            caps=caps,
            stdin=stdin,
            on_output=on_output,
            cleanups=self.cleanups,
            reuse=reuse,
        )
        return outcome

    async def end(self) -> None:
        """Every container of the job is gone, then the job's directory."""
        await self.drop_kept()
        if self.cleanups:
            await asyncio.wait(self.cleanups)
        await self.context.containers.engine.call(remove_tree, self.job_dir)

    async def drop_kept(self) -> None:
        """Remove the build's waiting container if no run took it."""
        kept, self.kept = self.kept, None
        if kept is not None:
            containers = self.context.containers
            await asyncio.shield(containers.engine.call(containers.remove, kept))

    async def step(
        self,
        argv: list[str],
        *,
        limits: Limits,
        caps: OutputCaps,
        stdin: StdinSource,
        on_output: OutputCallback | None,
        compile_step: bool = False,
        cleanups: set[asyncio.Future[None]] | None = None,
        keep: bool = False,
        reuse: Slot | None = None,
    ) -> tuple[RunOutcome, Slot | None]:
        """Run ``argv`` in a fresh container, or in ``reuse`` (a build's container that
        waits for the job's first run; removed here if it cannot take this run).

        The container's removal is awaited here, or, when ``cleanups`` is given and the
        run ended normally, added to it (the job awaits those as it ends, so a job's
        runs and removals overlap). With ``keep`` (a compile step), a build that
        succeeded leaves its container waiting and returns it, to be reused or removed
        by the caller; otherwise the second item is None.
        """
        job, context = self.job, self.context
        containers, engine = context.containers, context.containers.engine
        relays = containers.setup.relays
        profile = Profile(context.image or job.language.image, limits.memory_mb, limits.processes)
        spec = RunSpec(
            script=step_script(
                job,
                argv,
                limits,
                relays=relays,
                compile_step=compile_step,
                then_wait=keep,
                copy_files=reuse is None,
            ),
            files=self.files,
            limits=limits,
            caps=caps,
            profile=profile,
            stdin=stdin,
            on_output=on_output,
            keep=keep,
        )
        slot = None
        if reuse is not None:
            slot = await self._ready_for_run(reuse, spec)
            if slot is None:  # it cannot take this run: a fresh container can
                spec.script = step_script(
                    job, argv, limits, relays=relays, compile_step=compile_step
                )
        if slot is None:
            try:
                slot = await context.take(profile)
            except sdk().errors.ImageNotFound as exc:
                raise SandboxUnavailable(str(exc)) from exc
            except importlib.import_module("requests").exceptions.ConnectionError as exc:
                raise SandboxUnavailable(f"The Docker engine is not answering ({exc}).") from exc
            slot.in_use = True
            await engine.call(containers.fill, slot, spec.files, spec.script)
        execution: Execution | None = None
        removal: asyncio.Future[None] | None = None
        handed_on = False
        try:
            execution = Execution(engine, containers.cgroups, slot, spec)
            outcome = await execution.run()
            if execution.kept:
                handed_on = True
                return outcome, slot
            if cleanups is not None:
                removal = asyncio.ensure_future(engine.call(containers.remove, slot))
                cleanups.add(removal)
                context.track(removal)
            return outcome, None
        except asyncio.CancelledError:
            if execution is not None:
                await asyncio.shield(execution.abort())
                self.stopped = execution.usage()
            raise
        except Exception as exc:
            if execution is not None:
                await execution.abort()
            if isinstance(exc, sdk().errors.ImageNotFound):
                raise SandboxUnavailable(str(exc)) from exc
            log.exception("docker sandbox run failed")
            return RunOutcome(error=f"The docker sandbox failed: {exc}"), None
        finally:
            if removal is None and not handed_on:
                # Awaited even when the run was cancelled: nothing may outlive it.
                await asyncio.shield(engine.call(containers.remove, slot))

    async def _ready_for_run(self, slot: Slot, spec: RunSpec) -> Slot | None:
        """Make a build's waiting container ready for the job's first run: the run's
        memory limit and its script. None (and the container removed) if it cannot take
        the run: another pids limit, or the engine refused the new memory limit."""
        containers = self.context.containers
        try:
            if slot.profile.processes != spec.profile.processes:
                raise ValueError("the run has another process limit than the build")
            await containers.engine.call(containers.hand_on, slot, spec.profile, spec.script)
        except BaseException as exc:
            # Removed even when the run is cancelled here: nothing may outlive it.
            await asyncio.shield(containers.engine.call(containers.remove, slot))
            if not isinstance(exc, Exception):
                raise
            log.debug("a fresh container for the run: %s", exc)
            return None
        return slot
