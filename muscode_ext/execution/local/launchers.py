r"""Launchers of the local sandbox: shells parked ahead of runs, and their pool.

A launcher starts as ``sh`` as the server's user, joins the cgroups of the run it will
start (named in its arguments up to ``--``), drops to the sandbox user with ``setpriv``
when the server is root, and waits for one line on stdin: the path of the script that
sets the run's rlimits and ``exec``\s bwrap (see :mod:`.scripts`). Everything after that
line on stdin is the program's; EOF instead of a line (the server went away) ends it.
Every step ``exec``\s the next, so the launcher's pid is the run's.

Parking launchers ahead takes the cgroup join off a run's critical path: on cgroup v1
the first migration after a pause waits for an RCU grace period (10-15 ms here), the
largest cost of a run. The uid drop happens while parked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from dataclasses import dataclass, field

from ..box import SANDBOX_GID, SANDBOX_UID
from .cgroups import CgroupV1, RunCgroup

log = logging.getLogger(__name__)

#: What a parked launcher runs once it is the sandbox user: wait for the script's path.
WAIT_SCRIPT = 'IFS= read -r script || exit 0; . "$script"'
#: A launcher joins the cgroups named up to ``--``, then either ``exec``\s what follows
#: ``--`` (the uid drop, which ends in a ``sh`` running WAIT_SCRIPT) or runs it itself.
LAUNCH_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
    '[ $# -eq 0 ] || exec "$@"; ' + WAIT_SCRIPT
)


@dataclass(frozen=True)
class LaunchSetup:
    """How launchers start on this host."""

    #: The POSIX shell of the launchers.
    sh: str
    #: setpriv, to drop to the sandbox user before bwrap starts; None when the server
    #: is not root (bwrap then maps the user itself).
    setpriv: str | None
    #: Data bwrap reads from fds the launcher holds (``passwd``, ``group``, ``hosts``,
    #: ``seccomp``), and a status pipe; None without bwrap (the unsafe mode).
    bwrap_data: dict[str, bytes] | None


@dataclass
class Launcher:
    """A parked ``sh`` (see ``LAUNCH_SCRIPT``) with the pipes of the run it will start.

    Parking it ahead of time takes the cgroup join off a run's critical path: on cgroup
    v1 the first migration after a pause waits for an RCU grace period (~10 ms here).
    """

    proc: subprocess.Popen[bytes]
    cgroup: RunCgroup | None
    stdin_w: int
    stdout_r: int
    stderr_r: int
    status_r: int | None  # read end of bwrap's --json-status-fd pipe
    #: fd numbers the launcher holds for bwrap: "status", "passwd", "group", ...
    child_fds: dict[str, int] = field(default_factory=dict)

    def close_stdio(self) -> None:
        for fd in (self.stdin_w, self.stdout_r, self.stderr_r):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdin_w = self.stdout_r = self.stderr_r = -1

    def close_fds(self) -> None:
        self.close_stdio()
        if self.status_r is not None:
            with contextlib.suppress(OSError):
                os.close(self.status_r)
            self.status_r = None

    def discard(self) -> None:
        """Kill an unused launcher and release everything it holds."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(ChildProcessError):
                self.proc.wait()  # SIGKILLed while parked in read(): immediate
        self.close_fds()
        if self.cgroup is not None:
            self.cgroup.remove()


class LauncherPool:
    """Launchers parked in fresh cgroups, ``prestart`` of them, each used by one run.

    Without cgroups nothing is parked: a launcher is then just a shell, started when a
    run needs it.
    """

    def __init__(self, setup: LaunchSetup, cgroups: CgroupV1 | None, prestart: int) -> None:
        self.setup = setup
        self.cgroups = cgroups
        self.prestart = prestart
        #: The parked launchers, oldest first.
        self.parked: list[Launcher] = []
        self._refill: asyncio.Handle | None = None

    def take(self) -> Launcher:
        """A parked launcher for the next run (spawned now if none is ready); on the
        event loop, which refills the pool once the run is under way."""
        launcher: Launcher | None = None
        while self.parked:
            candidate = self.parked.pop(0)
            if candidate.proc.poll() is None:
                launcher = candidate
                break
            candidate.discard()
        if launcher is None:
            launcher = self.spawn()
        if self._refill is None:
            # Once this run is under way: a spawn costs the event loop about a ms.
            self._refill = asyncio.get_running_loop().call_soon(self._refill_now)
        return launcher

    def idle_cgroups(self) -> set[str]:
        """Names of the cgroups of the parked launchers."""
        return {
            path.name
            for launcher in self.parked
            if launcher.cgroup is not None
            for path in launcher.cgroup.dirs.values()
        }

    def cancel_refill(self) -> None:
        """No more refills (on the event loop, before :meth:`discard_all`)."""
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None

    def discard_all(self) -> None:
        """Kill every parked launcher and remove its cgroups (blocking)."""
        while self.parked:
            self.parked.pop().discard()

    def _refill_now(self) -> None:
        self._refill = None
        if self.cgroups is None:
            return
        while len(self.parked) < self.prestart:
            try:
                self.parked.append(self.spawn())
            except OSError:
                log.exception("could not pre-start a sandbox launcher")
                return

    def spawn(self) -> Launcher:
        """Start a launcher in fresh cgroups (blocking, about a millisecond)."""
        cgroup = self.cgroups.new_run() if self.cgroups is not None else None
        parent_ends: list[int] = []
        child_ends: list[int] = []
        child_fds: dict[str, int] = {}
        status_r: int | None = None
        try:
            stdin_r, stdin_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            parent_ends += [stdin_w, out_r, err_r]
            child_ends += [stdin_r, out_w, err_w]
            if self.setup.bwrap_data is not None:
                status_r, status_w = os.pipe()
                parent_ends.append(status_r)
                child_ends.append(status_w)
                child_fds["status"] = status_w
                for name, content in self.setup.bwrap_data.items():
                    child_fds[name] = _data_fd(content, child_ends)
            joins = cgroup.procs_files() if cgroup is not None else []
            drop: list[str] = []
            if self.setup.setpriv is not None:
                drop = [
                    self.setup.setpriv,
                    f"--reuid={SANDBOX_UID}",
                    f"--regid={SANDBOX_GID}",
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--no-new-privs",
                    "--",
                    self.setup.sh,
                    "-c",
                    WAIT_SCRIPT,
                    "muscode-launch",
                ]
            proc = subprocess.Popen(
                [self.setup.sh, "-c", LAUNCH_SCRIPT, "muscode-launch", *joins, "--", *drop],
                stdin=stdin_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=tuple(child_fds.values()),
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                # bwrap's pid 1 stays visible to the program: keep host paths out of its
                # environment (the shell exports PWD).
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            for fd in parent_ends:
                os.close(fd)
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        return Launcher(
            proc=proc,
            cgroup=cgroup,
            stdin_w=stdin_w,
            stdout_r=out_r,
            stderr_r=err_r,
            status_r=status_r,
            child_fds=child_fds,
        )


def _data_fd(data: bytes, fds: list[int]) -> int:
    """A pipe holding ``data`` for bwrap to read (small: fits the pipe buffer)."""
    read_end, write_end = os.pipe()
    fds.append(read_end)
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end
