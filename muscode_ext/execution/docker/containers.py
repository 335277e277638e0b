"""The Docker backend's containers: how each is created and locked down, filled for a
run, and removed; what this instance owns, and what dead servers left behind.

Every container has no network, a read-only root, size-capped tmpfs mounts for
``/box`` (the cwd) and ``/tmp``, a memory limit with no swap, a pids limit, one CPU, no
capabilities, ``no-new-privileges``, uid 65534, ulimits, the ``none`` log driver (a
flood would otherwise fill the json log on the host disk), SIGKILL as its stop signal
and the label ``muscode.sandbox=1``. Its private host directory is bind-mounted
read-only at ``/muscode``: the run's script and files go there (hard links of the
job's files), never into the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..box import BASE_ENV, BOX, PRIVATE_TMP, SANDBOX_GID, SANDBOX_UID
from ..hostfiles import remove_tree
from .cgroups import CGROUP_ROOT, HostCgroups
from .client import EngineClient, sdk
from .owners import INSTANCE_LABEL, LABEL, OWNER_LABEL, owner_alive, owner_of
from .relay import RELAY, RELAY_COMMAND, RELAY_NAME
from .scripts import CONTROL, IDLE_COMMAND, PIDS_OVERHEAD

log = logging.getLogger(__name__)

# gVisor's own threads (sentry, gofer, and on the ptrace platform stub processes and
# tracer threads: about 8 host tasks per sandboxed process, and a fork bomb held at 33
# processes inside peaked at 908 on the host, measured) count against the host pids
# limit, and the sentry dies (exit 2) when it cannot make one. So the host limit only
# bounds gVisor (the threads' kernel stacks also count against the memory limit); the
# program's processes are limited inside the sandbox with RLIMIT_NPROC, which gVisor
# counts per sandbox (runc would count every process of uid 65534 on the host).
RUNSC_MIN_PIDS = 4096
RUNSC_PIDS_PER_PROCESS = 64
# What an idle gVisor container uses, which the host's memory limit counts but is not
# the program's: the sentry and gofer (about 12 MB) and the relay (2 MB), measured
# 14-16 MB. The limit is raised by a little less, so a program gets its limit, as under
# runc, and its reported peak (above the idle use) never passes it.
RUNSC_IDLE_MB = 12


@dataclass(frozen=True)
class Profile:
    """What a container's creation fixes: the pool key."""

    image: str
    memory_mb: int
    processes: int


@dataclass
class Slot:
    """One container and its private host directory; used for exactly one run."""

    name: str
    dir: Path
    profile: Profile
    cgroup_parent: str | None
    container_id: str | None = None
    ready_at: float = 0.0
    #: The attach socket, opened while the container idles (saves a round trip a run).
    sock: Any = None
    #: Handed to a run (never back to a pool).
    in_use: bool = False


@dataclass(frozen=True)
class ContainerSetup:
    """What every container of one sandbox instance shares."""

    #: The OCI runtime: ``runc`` or gVisor's ``runsc``.
    runtime: str
    #: Size of each writable tmpfs, in MiB.
    work_dir_mb: int
    #: RLIMIT_NOFILE in the containers.
    open_files: int
    #: Attach to a container as soon as it is started (pooled containers: saves a
    #: round trip of the run that takes it).
    attach_ahead: bool
    #: The owning process's token and this instance's id (see :mod:`.owners`).
    owner: str
    instance: str

    @property
    def token(self) -> str:
        """The prefix of this instance's container and directory names."""
        return f"{self.owner}-{self.instance}"

    @property
    def relays(self) -> bool:
        """Whether PID 1 of a container is the output relay (under gVisor)."""
        return self.runtime == "runsc"


class Containers:
    """The containers of one sandbox instance, each with its host directory below
    ``root`` and, with host cgroups, its cgroup parent."""

    def __init__(
        self,
        engine: EngineClient,
        setup: ContainerSetup,
        root: Path,
        cgroups: HostCgroups | None,
        track: Callable[[asyncio.Future[Any]], None],
    ) -> None:
        self.engine = engine
        self.setup = setup
        self.root = root
        self.cgroups = cgroups
        #: Keeps a background removal until it is done (the sandbox awaits them).
        self._track = track
        #: Every container made and not removed, by name: what stop() and the exit hook
        #: remove even if the loop that made it is gone.
        self.live: dict[str, Slot] = {}
        #: Container creations under way (in threads): stop() waits for them.
        self.creating: set[asyncio.Future[Slot]] = set()
        self._counter = 0
        self._counter_lock = threading.Lock()

    async def new(self, profile: Profile) -> Slot:
        """A new started container of ``profile``, made in a thread."""
        made = asyncio.ensure_future(self.engine.call(self.create, profile))
        self.creating.add(made)
        made.add_done_callback(self.creating.discard)
        try:
            return await asyncio.shield(made)
        except asyncio.CancelledError:
            # The thread goes on creating the container: remove it once it exists.
            def discard(done: asyncio.Future[Slot]) -> None:
                if not done.cancelled() and done.exception() is None:
                    self.discard(done.result())

            made.add_done_callback(discard)
            raise

    def create(self, profile: Profile) -> Slot:
        """Create and start a container of ``profile`` with its host directory (blocking)."""
        docker = sdk()
        assert self.root is not None
        with self._counter_lock:
            self._counter += 1
            name = f"{self.setup.token}-{self._counter}"
        slot_dir = self.root / f"slot-{self._counter}"
        slot_dir.mkdir(mode=0o755)
        slot_dir.chmod(0o755)  # the mount's root: uid 65534 lists it in the container
        idle_command = IDLE_COMMAND
        if self.setup.relays:
            relay = slot_dir / RELAY_NAME
            relay.write_text(RELAY)
            relay.chmod(0o644)
            idle_command = RELAY_COMMAND
        parent = f"/{CGROUP_ROOT}/{name}" if self.cgroups is not None else None
        slot = Slot(name=name, dir=slot_dir, profile=profile, cgroup_parent=parent)
        api = self.engine.api
        # Under gVisor the sandbox's kernel and the relay share this limit with the
        # program: it is raised by (a little less than) what they use idle, and the run's
        # memory is reported above what the idle container used.
        mem = profile.memory_mb * 1024 * 1024
        if self.setup.relays:
            mem += RUNSC_IDLE_MB * 1024 * 1024
        work = self.setup.work_dir_mb
        pids = profile.processes + PIDS_OVERHEAD
        if self.setup.relays:
            pids = max(RUNSC_MIN_PIDS, RUNSC_PIDS_PER_PROCESS * pids)
        # RLIMIT_FSIZE here is only a ceiling: run.sh lowers it to the run's limit.
        fsize = work * 1024 * 1024
        host_config = api.create_host_config(
            network_mode="none",
            read_only=True,
            runtime=self.setup.runtime,
            binds={str(slot_dir): {"bind": CONTROL, "mode": "ro"}},
            tmpfs={
                BOX: f"rw,exec,nosuid,nodev,size={work}m,nr_inodes=16384,"
                f"mode=0700,uid={SANDBOX_UID},gid={SANDBOX_GID}",
                PRIVATE_TMP: f"rw,noexec,nosuid,nodev,size={work}m,nr_inodes=16384,mode=1777",
            },
            shm_size=max(1, work // 4) * 1024 * 1024,
            ipc_mode="private",
            mem_limit=mem,
            memswap_limit=mem,  # equal: no swap
            pids_limit=pids,
            cpu_period=100_000,
            cpu_quota=100_000,  # one CPU
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[
                docker.types.Ulimit(
                    name="nofile", soft=self.setup.open_files, hard=self.setup.open_files
                ),
                docker.types.Ulimit(name="core", soft=0, hard=0),
                docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize),
            ],
            log_config=docker.types.LogConfig(type="none"),
            cgroup_parent=parent,
            oom_score_adj=1000,  # if the host runs short, the sandbox dies first
        )
        self.live[name] = slot
        try:
            created = api.create_container(
                profile.image,
                idle_command,
                user=f"{SANDBOX_UID}:{SANDBOX_GID}",
                working_dir=BOX,
                hostname="muscode",
                stdin_open=True,  # with attach: StdinOnce, our close is the program's EOF
                network_disabled=True,
                # The container's private tmpfs: nothing of the host's.
                environment={**BASE_ENV, "HOME": PRIVATE_TMP, "TMPDIR": PRIVATE_TMP},
                name=f"muscode-{slot.name}",
                # Nothing in it needs a clean stop: a docker stop (or dockerd shutting
                # down) kills it at once instead of waiting 10 s for PID 1.
                stop_signal="SIGKILL",
                labels={
                    LABEL: "1",
                    OWNER_LABEL: self.setup.owner,
                    INSTANCE_LABEL: self.setup.instance,
                },
                host_config=host_config,
            )
            slot.container_id = created["Id"]
            api.start(slot.container_id)
            if self.setup.attach_ahead:
                slot.sock = self.engine.attach(slot.container_id)
        except Exception:
            self.remove(slot)
            raise
        slot.ready_at = time.monotonic()
        return slot

    def fill(self, slot: Slot, files: Path, script: str) -> None:
        """Give an idle container its run: the job's files (hard links of ``files``)
        and ``run.sh`` (blocking)."""
        target = slot.dir / "files"
        target.mkdir(mode=0o755)
        link_tree(files, target)
        path = slot.dir / "run.sh"
        path.write_text(script)
        path.chmod(0o644)

    def hand_on(self, slot: Slot, profile: Profile, script: str) -> None:
        """Ready a build's waiting container for the job's first run: the run's memory
        limit and its ``next.sh`` (blocking)."""
        if slot.profile.memory_mb != profile.memory_mb:
            mem = profile.memory_mb * 1024 * 1024
            self.engine.api.update_container(slot.container_id, mem_limit=mem, memswap_limit=mem)
            slot.profile = profile
        path = slot.dir / "next.sh"
        path.write_text(script)
        path.chmod(0o644)

    def remove(self, slot: Slot) -> None:
        """Remove the container, its host dir and its cgroup parent (blocking)."""
        docker = sdk()
        if slot.sock is not None:
            # Closed before the removal: the engine stalls on a container with an open
            # attach stream.
            with contextlib.suppress(Exception):
                slot.sock.close()
            slot.sock = None
        if slot.container_id is not None and self.engine.connected:
            try:
                self.engine.api.remove_container(slot.container_id, force=True)
            except docker.errors.NotFound:
                pass
            except Exception as exc:
                if "already in progress" not in str(exc):
                    log.warning("could not remove container %s: %s", slot.container_id, exc)
                    return  # keep it in live: stop() and the exit hook try again
        self.live.pop(slot.name, None)
        remove_tree(slot.dir)
        if self.cgroups is not None and slot.cgroup_parent is not None:
            # The runtime removes the container's own cgroup as it stops; give it a moment.
            for _ in range(20):
                if self.cgroups.remove(slot.cgroup_parent):
                    break
                time.sleep(0.01)

    def discard(self, slot: Slot) -> None:
        """Remove an unused slot in the background."""
        self._track(asyncio.ensure_future(self.engine.call(self.remove, slot)))

    async def kill(self, slot: Slot) -> None:
        """SIGKILL the container through the engine."""
        assert slot.container_id is not None
        await self.engine.kill(slot.container_id)

    def sweep(self) -> None:
        """Remove what crashed MUSCode processes left behind: containers, dirs, cgroups."""
        api = self.engine.api
        for info in api.containers(all=True, filters={"label": f"{LABEL}=1"}):
            owner = (info.get("Labels") or {}).get(OWNER_LABEL, "")
            if owner == self.setup.owner or owner_alive(owner):
                continue  # ours, or a live server's (several workers share one engine)
            with contextlib.suppress(Exception):
                api.remove_container(info["Id"], force=True)
        assert self.root is not None
        for entry in self.root.parent.iterdir():
            owner = owner_of(entry.name)
            if owner != self.setup.owner and not owner_alive(owner):
                remove_tree(entry)
        if self.cgroups is not None:
            self.cgroups.sweep(lambda owner: owner == self.setup.owner or owner_alive(owner))

    def remove_all(self) -> None:
        """Remove every container of this sandbox instance (blocking)."""
        if not self.engine.connected:
            return
        api = self.engine.api
        mine = {"label": f"{INSTANCE_LABEL}={self.setup.instance}"}
        with contextlib.suppress(Exception):
            for info in api.containers(all=True, filters=mine):
                with contextlib.suppress(Exception):
                    api.remove_container(info["Id"], force=True)
        for slot in list(self.live.values()):
            self.remove(slot)
        # A removal another thread started may still be under way in the engine.
        deadline = time.monotonic() + 15
        with contextlib.suppress(Exception):
            while api.containers(all=True, filters=mine) and time.monotonic() < deadline:
                time.sleep(0.05)


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link the tree ``src`` (written by us) into the empty dir ``dst``."""
    for entry in os.scandir(src):
        target = dst / entry.name
        if entry.is_dir(follow_symlinks=False):
            target.mkdir(mode=0o755)
            link_tree(Path(entry.path), target)
        elif entry.is_file(follow_symlinks=False):
            try:
                os.link(entry.path, target, follow_symlinks=False)
            except OSError:
                shutil.copyfile(entry.path, target, follow_symlinks=False)
                shutil.copymode(entry.path, target, follow_symlinks=False)
