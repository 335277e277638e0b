"""Cgroup v1 limits and accounting of the local sandbox.

Each run gets its own cgroup in the ``memory``, ``pids``, ``cpuacct`` and ``freezer``
controllers, below a parent made for this sandbox below the server's own cgroup (so
runs stay inside whatever limits the operator put on the server). The run's launcher
joins them before anything runs, so no child can be forked outside them. They set the
memory limit (no swap) and the process limit, count CPU time and peak memory for the
result, say whether the OOM killer or the pids limit struck, and kill the whole tree
atomically (freeze, SIGKILL, thaw).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Processes in a run's pids cgroup that are not the program: bwrap's monitor and the
#: pid-1 init of the new pid namespace.
PIDS_OVERHEAD = 2
#: How long to wait for a killed cgroup to become empty before giving up on it.
EMPTY_TIMEOUT_S = 5.0


class CgroupV1:
    """This sandbox's parent cgroups in the v1 controllers it uses.

    The parents are created below the server's own cgroup in each hierarchy, so runs
    stay inside whatever limits the operator put on the server itself.
    """

    WANTED = ("memory", "pids", "cpuacct", "freezer")

    def __init__(self, parents: dict[str, Path]) -> None:
        self.parents = parents
        self._counter = 0

    @classmethod
    def discover(cls) -> tuple[CgroupV1 | None, str]:
        """The usable controllers, or None and why not."""
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
            membership = Path("/proc/self/cgroup").read_text()
        except OSError as exc:
            return None, f"cannot read /proc ({exc})"
        mounts: dict[str, Path] = {}
        for line in mountinfo.splitlines():
            left, _, right = line.partition(" - ")
            rparts = right.split()
            if len(rparts) < 3 or rparts[0] != "cgroup":
                continue
            mount_point = Path(left.split()[4])
            for opt in rparts[2].split(","):
                if opt in cls.WANTED:
                    mounts.setdefault(opt, mount_point)
        if "memory" not in mounts:
            return None, "no cgroup v1 memory controller is mounted"
        own: dict[str, str] = {}
        for line in membership.splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                for ctrl in parts[1].split(","):
                    own[ctrl] = parts[2]
        token = f"muscode-{os.getpid()}-{secrets.token_hex(4)}"
        parents: dict[str, Path] = {}
        for ctrl, mount in mounts.items():
            here = mount / own.get(ctrl, "/").lstrip("/")
            cls._remove_stale(here)
            parent = here / token
            try:
                parent.mkdir()
            except OSError as exc:
                if ctrl == "memory":
                    for made in parents.values():
                        with contextlib.suppress(OSError):
                            made.rmdir()
                    return None, f"cannot create a cgroup in {here} ({exc.strerror})"
                log.info("cgroup controller %s is not usable here (%s)", ctrl, exc.strerror)
                continue
            parents[ctrl] = parent
        return cls(parents), ""

    @staticmethod
    def _remove_stale(here: Path) -> None:
        """Remove empty leftovers of servers that died without cleaning up."""
        try:
            entries = list(here.glob("muscode-*-*"))
        except OSError:
            return
        for entry in entries:
            try:
                pid = int(entry.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or Path(f"/proc/{pid}").exists():
                continue
            for child in entry.glob("run-*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                entry.rmdir()

    def new_run(self) -> RunCgroup:
        self._counter += 1
        name = f"run-{self._counter}-{secrets.token_hex(3)}"
        dirs: dict[str, Path] = {}
        try:
            for ctrl, parent in self.parents.items():
                path = parent / name
                path.mkdir()
                dirs[ctrl] = path
        except OSError:
            RunCgroup(dirs).remove()
            raise
        return RunCgroup(dirs)

    def remove(self) -> None:
        for parent in self.parents.values():
            for child in parent.glob("run-*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                parent.rmdir()


class RunCgroup:
    """One run's cgroups (one directory per controller)."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    def _read(self, ctrl: str, name: str) -> str | None:
        path = self.dirs.get(ctrl)
        if path is None:
            return None
        try:
            return (path / name).read_text()
        except OSError:
            return None

    def _write(self, ctrl: str, name: str, value: str) -> bool:
        path = self.dirs.get(ctrl)
        if path is None:
            return False
        try:
            (path / name).write_text(value)
        except OSError:
            return False
        return True

    @property
    def has_pids(self) -> bool:
        return "pids" in self.dirs

    @property
    def has_cpu(self) -> bool:
        return "cpuacct" in self.dirs

    def activate(self) -> None:
        """A parked launcher's cgroup becomes a run's: its counters start from zero.

        (The name stays: renaming a cgroup directory costs about a millisecond each.)
        """
        # What the parked shell used before the run is not the program's.
        self._write("cpuacct", "cpuacct.usage", "0")
        self._write("memory", "memory.max_usage_in_bytes", "0")

    def set_limits(self, memory_mb: int, processes: int) -> None:
        limit = str(memory_mb * 1024 * 1024)
        if not self._write("memory", "memory.limit_in_bytes", limit):
            raise OSError("cannot set the cgroup memory limit")
        # No swap on top of the limit (the file is absent without swap accounting).
        self._write("memory", "memory.memsw.limit_in_bytes", limit)
        self._write("memory", "memory.swappiness", "0")
        self._write("pids", "pids.max", str(processes + PIDS_OVERHEAD))

    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def cpu_ns(self) -> int | None:
        text = self._read("cpuacct", "cpuacct.usage")
        return int(text) if text and text.strip().isdigit() else None

    def memory_peak_kb(self) -> int | None:
        text = self._read("memory", "memory.max_usage_in_bytes")
        return int(text) // 1024 if text and text.strip().isdigit() else None

    def oom_kills(self) -> int:
        text = self._read("memory", "memory.oom_control") or ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def pids_limit_hit(self) -> bool:
        text = self._read("pids", "pids.events") or ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value) > 0
        return False

    def pids(self) -> set[int]:
        found: set[int] = set()
        for ctrl in self.dirs:
            text = self._read(ctrl, "cgroup.procs") or ""
            found.update(int(p) for p in text.split() if p.isdigit())
        return found

    async def kill_all(self) -> None:
        """SIGKILL every process in the run's cgroups, atomically when a freezer exists.

        Frozen tasks cannot fork or exit, so the list read while frozen is complete and
        no pid in it can be reused before the kill lands.
        """
        frozen = self._write("freezer", "freezer.state", "FROZEN")
        if frozen:
            for _ in range(200):
                if (self._read("freezer", "freezer.state") or "").strip() == "FROZEN":
                    break
                await asyncio.sleep(0.001)
        for _ in range(100):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if frozen:
                break
            await asyncio.sleep(0.001)
        if frozen:
            self._write("freezer", "freezer.state", "THAWED")

    async def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            await self.kill_all()
            await asyncio.sleep(0.005)
        return True

    def remove(self) -> bool:
        ok = True
        for path in self.dirs.values():
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok
