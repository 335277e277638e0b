"""``DockerSandbox``: the Docker backend's settings, its connection to the engine and
what it owns there, and the start of a job. The package docstring has the overview."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import secrets
import stat
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from traitlets import Float, Int, TraitError, Unicode, default, validate

from ..base import Job, Limits, Program, Sandbox, SandboxUnavailable
from ..hostfiles import WORLD_READABLE, remove_tree, write_sources
from ..languages import Language
from ..programs import probed_version, version_probe
from ..rlimits import MIN_OPEN_FILES
from ..streams import OutputCaps
from .cgroups import HostCgroups
from .client import EngineClient, sdk
from .containers import Containers, ContainerSetup, Profile, Slot
from .jobs import DockerProgram, JobContext
from .owners import INSTANCE_LABEL, owner_alive, process_token
from .pool import Pools

log = logging.getLogger(__name__)

#: The runner image built from docker/ (every language in one).
DEFAULT_IMAGE = "muscode-runner:latest"

# Background pool refills at once (each is a create + start, ~0.2-0.5 s of dockerd).
_FILL_CONCURRENCY = 2
# Version probes use the default memory and processes, so they share the default pool.
_PROBE_LIMITS = Limits(cpu_time_ms=10_000, wall_time_ms=30_000)
# How long a successful image check is trusted (it costs a round trip per job).
_IMAGE_CHECK_TTL_S = 10.0


class DockerSandbox(Sandbox):
    """Runs each program in a fresh, locked-down container of the runner image."""

    name = "docker"

    runtime = Unicode(
        "runc",
        help="""The OCI runtime dockerd runs containers with: runc, or gVisor's runsc for
        defence in depth (registered in /etc/docker/daemon.json; scripts/setup-docker.sh
        does that).""",
    ).tag(config=True)

    image = Unicode(
        None,
        allow_none=True,
        help="The image every language runs in. Empty or None: each language's `image`.",
    ).tag(config=True)

    pool_size = Int(
        2,
        help="""Started, idle containers kept ready per (image, memory, processes)
        profile: a run in one skips container start-up (about 0.2 s). 0: none, each run
        creates and starts its container.""",
    ).tag(config=True)

    pool_idle_timeout = Float(
        600.0,
        help="""Seconds an idle pooled container is kept before it is replaced (image
        updates; memory of containers never used). 0: kept until used.""",
    ).tag(config=True)

    pool_profiles = Int(
        6,
        help="""Pools kept for distinct (image, memory, processes) profiles; beyond this
        many, the least recently used profile's pool is removed. At least 1.""",
    ).tag(config=True)

    docker_url = Unicode(
        None,
        allow_none=True,
        help="""The Docker Engine API URL (unix:///var/run/docker.sock). Empty or None:
        $DOCKER_HOST (with $DOCKER_TLS_VERIFY and $DOCKER_CERT_PATH), else the local
        socket. The engine must run on this machine: per-run directories are
        bind-mounted from here.""",
    ).tag(config=True)

    work_root = Unicode(
        None,
        allow_none=True,
        help="""Directory of the per-run host directories, which the engine bind-mounts
        into the containers. Default: $MUSCODE_DOCKER_WORK_ROOT; empty or None: under
        the system temp dir. When MUSCode itself runs in a container and talks to the
        host's engine, mount a host directory here at the same path.""",
    ).tag(config=True)

    work_dir_mb = Int(
        64,
        help="""Size in MiB of each writable tmpfs of a container: /box (the cwd) and
        /tmp; /dev/shm gets a quarter. What a program writes there also counts against
        its memory limit. At least 1.""",
    ).tag(config=True)

    open_files = Int(
        256,
        help="RLIMIT_NOFILE in the containers (the JVM needs a few dozen). At least 16.",
    ).tag(config=True)

    @default("work_root")
    def _default_work_root(self) -> str | None:
        return os.environ.get("MUSCODE_DOCKER_WORK_ROOT") or None

    @validate("runtime")
    def _valid_runtime(self, proposal: Any) -> str:
        if not proposal.value:
            raise TraitError("runtime must name an OCI runtime of the engine (runc, runsc)")
        return str(proposal.value)

    @validate("pool_size", "work_dir_mb", "open_files", "pool_profiles", "pool_idle_timeout")
    def _valid_count(self, proposal: Any) -> Any:
        least = {"work_dir_mb": 1, "open_files": MIN_OPEN_FILES, "pool_profiles": 1}
        name = proposal.trait.name
        if proposal.value < least.get(name, 0):
            raise TraitError(f"{name} must be at least {least.get(name, 0)}, not {proposal.value}")
        return proposal.value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = process_token(os.getpid()) or f"{os.getpid()}.0"
        #: This instance's id: the label of every container it makes.
        self.instance = secrets.token_hex(4)
        self._owner = owner
        #: The Engine API (connected by start() or the first job).
        self.engine = EngineClient(self.docker_url or None)
        #: This instance's containers, once connected.
        self.containers: Containers | None = None
        #: The pools of started, idle containers, on the current event loop.
        self.pools: Pools | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._init_lock: asyncio.Lock | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._versions: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._atexit_registered = False
        self._images_ok: dict[str, float] = {}
        #: The id of each image last checked, for the build cache's key.
        self._image_ids: dict[str, str] = {}

    @property
    def job_root(self) -> Path | None:
        """The directory of this instance's job and container directories, once started."""
        return self.containers.root if self.containers is not None else None

    # -- the contract

    async def start(self) -> None:
        pools = await self._ensure_init()
        if self.pool_size:
            # Warm the default profile of the default image: the common case.
            default = Limits()
            pools.get(Profile(self.image or DEFAULT_IMAGE, default.memory_mb, default.processes))

    async def stop(self) -> None:
        pools, self.pools = self.pools, None
        same_loop = self._loop is asyncio.get_running_loop()
        if pools is not None:
            if same_loop:
                await pools.close()
            else:
                pools.abandon()  # its tasks died with their loop; the sweep below
        containers, self.containers = self.containers, None
        # A refill cancelled above still creates its container in a thread, and removes
        # it once made: wait for both, so that nothing is half removed when we return.
        creating = containers.creating if containers is not None else set()
        for _ in range(5):
            pending = [f for f in (*creating, *self._background) if not f.done()]
            if not pending or not same_loop:
                break
            await asyncio.wait(pending, timeout=60)
            await asyncio.sleep(0)  # the done-callbacks may start removals
        if containers is not None and self.engine.connected:
            await self.engine.call(containers.remove_all)
            await self.engine.call(remove_tree, containers.root)
            if containers.cgroups is not None:
                mine = self._owner
                await self.engine.call(
                    containers.cgroups.sweep, lambda o: o != mine and owner_alive(o)
                )
        self.engine.close()
        self._loop = None
        self.engine.stop_threads()

    async def leftover_containers(self) -> list[str]:
        """Names of this sandbox's containers that are not idle in its pool.

        Between jobs this is empty: every run's container is removed when its job ends.
        (For tests and health checks; pooled, never-used containers are not leftovers.)
        """
        if self.containers is None or not self.engine.connected:
            return []
        listed = await self.engine.call(
            self.engine.api.containers,
            all=True,
            filters={"label": f"{INSTANCE_LABEL}={self.instance}"},
        )
        live = list(self.containers.live.values())
        pooled = {f"muscode-{slot.name}" for slot in live if not slot.in_use}
        names = [(c.get("Names") or ["?"])[0].lstrip("/") for c in listed]
        return sorted(name for name in names if name not in pooled)

    async def check(self) -> str | None:
        try:
            await self._ensure_init()
            # Asked every time (a millisecond): the image check below is cached.
            await self.engine.call(self.engine.api.ping)
        except SandboxUnavailable as exc:
            return str(exc)
        except Exception as exc:
            return (
                f"The Docker engine is not answering ({exc}); "
                "start it with scripts/setup-docker.sh."
            )
        return await self._check_image(self.image or DEFAULT_IMAGE)

    async def language_version(self, language: Language) -> str | None:
        if not language.version:
            return None
        image = self.image or language.image
        key = (image, language.version)
        if key in self._versions:
            return self._versions[key]
        try:
            await self._ensure_init()
        except SandboxUnavailable:
            return None
        if await self._check_image(image) is not None:
            return None  # not cached: the image may be built later
        job, argv = version_probe(language, _PROBE_LIMITS)
        job_dir = await self.engine.call(self._make_job_dir)
        try:
            outcome, _ = await DockerProgram(self._job_context(), job, job_dir).step(
                argv,
                limits=_PROBE_LIMITS,
                caps=OutputCaps(total=_PROBE_LIMITS.output_kb * 1024),
                stdin=b"",
                on_output=None,
            )
        finally:
            await self.engine.call(remove_tree, job_dir)
        version = probed_version(outcome)
        if version is not None:  # a miss is probed again next time
            self._versions[key] = version
        return version

    @contextlib.asynccontextmanager
    async def prepare(self, job: Job) -> AsyncIterator[Program]:
        await self._ensure_init()
        image = self.image or job.language.image
        problem = await self._check_image(image)
        if problem is not None:
            raise SandboxUnavailable(problem)
        job_dir = await self.engine.call(self._make_job_dir)
        program = DockerProgram(self._job_context(), job, job_dir)
        try:
            await self.engine.call(write_sources, job, program.files, WORLD_READABLE)
            if job.language.compiled:
                program.compile = await program.build()
            elif job.language.check is not None:
                program.compile = await program.check()
            yield program
        finally:
            # Shielded: a second cancellation must not leave the job's files behind.
            await asyncio.shield(program.end())

    # -- initialisation

    async def _ensure_init(self) -> Pools:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new event loop (asyncio.run per test): the old loop's pools, runs and
            # tasks died with it. Remove every container this instance made, start afresh.
            if self.pools is not None:
                self.pools.abandon()
                self.pools = None
            had_loop = self._loop is not None
            self._loop = loop
            self._init_lock = asyncio.Lock()
            self._background = set()
            if had_loop and self.containers is not None:
                await self.engine.call(self.containers.remove_all)
        if self.pools is not None:
            return self.pools
        assert self._init_lock is not None
        async with self._init_lock:
            if self.pools is None:
                containers = self.containers or await self._connect()
                self.pools = Pools(
                    containers,
                    size=self.pool_size,
                    max_idle_s=self.pool_idle_timeout,
                    max_profiles=self.pool_profiles,
                    fill_concurrency=_FILL_CONCURRENCY,
                    track=self._track,
                )
            return self.pools

    async def _connect(self) -> Containers:
        """Connect to the engine, check the runtime, make our directory, sweep what dead
        servers left behind."""
        engine = self.engine
        engine.url = self.docker_url or None
        engine.start_threads()
        info = await engine.call(engine.connect)
        try:
            runtimes = info.get("Runtimes") or {}
            if self.runtime not in runtimes:
                raise SandboxUnavailable(
                    f"The Docker engine has no {self.runtime!r} runtime "
                    f"(it has: {', '.join(sorted(runtimes)) or 'none'}); "
                    "scripts/setup-docker.sh registers runsc."
                )
            setup = ContainerSetup(
                runtime=self.runtime,
                work_dir_mb=self.work_dir_mb,
                open_files=self.open_files,
                attach_ahead=bool(self.pool_size),
                owner=self._owner,
                instance=self.instance,
            )
            root = await engine.call(self._make_root, setup.token)
        except BaseException:
            engine.close()
            raise
        cgroups = HostCgroups.discover(info, engine.is_local)
        self.containers = Containers(engine, setup, root, cgroups, self._track)
        await engine.call(self.containers.sweep)
        if not self._atexit_registered:
            atexit.register(self._remove_all_quietly)
            self._atexit_registered = True
        return self.containers

    def _make_root(self, token: str) -> Path:
        if self.work_root:
            base = Path(self.work_root)
            base.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(tempfile.gettempdir()) / f"muscode-docker-{os.getuid()}"
            with contextlib.suppress(FileExistsError):
                base.mkdir(mode=0o700)
            st = os.lstat(base)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                raise SandboxUnavailable(f"{base} is not a directory of ours")
        # Only we (and the engine, as root) need to reach the per-run directories; the
        # containers see their own directory through the bind mount alone.
        base.chmod(0o700)
        root = base / token
        root.mkdir(mode=0o700, exist_ok=True)
        return root

    def _remove_all_quietly(self) -> None:
        with contextlib.suppress(Exception):
            if self.containers is not None:
                self.containers.remove_all()

    async def _check_image(self, image: str) -> str | None:
        docker = sdk()
        checked = self._images_ok.get(image)
        if checked is not None and time.monotonic() - checked < _IMAGE_CHECK_TTL_S:
            return None
        try:
            info = await self.engine.call(self.engine.api.inspect_image, image)
        except docker.errors.ImageNotFound:
            if image.split(":")[0] == DEFAULT_IMAGE.split(":")[0]:
                return (
                    f"The runner image {image} is missing: build it with "
                    "`bash docker/build-images.sh` (or scripts/setup-docker.sh)."
                )
            return f"The image {image} is missing: pull or build it on the Docker host."
        except Exception as exc:
            return f"The Docker engine cannot be asked for image {image}: {exc}"
        self._images_ok[image] = time.monotonic()
        self._image_ids[image] = str(info.get("Id") or "")
        return None

    def _toolchain(self, image: str) -> str:
        """What compiles in ``image``: its id (a rebuilt image is a new toolchain) and
        the runtime."""
        return f"docker:{self.runtime}:{self._image_ids.get(image) or image}"

    # -- jobs

    def _job_context(self) -> JobContext:
        assert self.containers is not None
        return JobContext(
            containers=self.containers,
            take=self._take,
            image=self.image or None,
            work_dir_mb=self.work_dir_mb,
            track=self._track,
            builds=self.build_cache,
            toolchain=self._toolchain,
        )

    async def _take(self, profile: Profile) -> Slot:
        """A started container of ``profile`` for one step."""
        pools = await self._ensure_init()
        return await pools.take(profile)

    def _track(self, future: asyncio.Future[Any]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    def _make_job_dir(self) -> Path:
        root = self.job_root
        assert root is not None
        job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=root))
        (job_dir / "files").mkdir(mode=0o755)
        return job_dir
