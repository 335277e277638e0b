"""Exact accounting of the Docker backend's containers, where this process can read the
host's cgroupfs (root, the engine's ``cgroupfs`` driver, the same machine).

Each container gets its own cgroup parent ``/muscode.docker/<container name>``. The
runtime deletes the container's own cgroup as it stops, but the parent's hierarchical
counters survive it: CPU time and peak memory are exact after the run, and the CPU
watchdog polls the parent's counter. Parents of servers that are gone are swept at
start. Without this, the watchdog polls the Engine's stats and its last samples are
the final figures (what the container's own cgroup says, read by ``run.sh``, is not
taken: the program could forge it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .owners import owner_of

#: Under this cgroup each container gets its own parent.
CGROUP_ROOT = "muscode.docker"


class HostCgroups:
    """Reads (and removes) the per-container cgroup parents on the host's cgroupfs."""

    def __init__(self, root: Path, version: int) -> None:
        self.root = root
        self.version = version

    @classmethod
    def discover(cls, info: dict[str, Any], local: bool) -> HostCgroups | None:
        if not local or os.geteuid() != 0 or info.get("CgroupDriver") != "cgroupfs":
            return None
        root = Path("/sys/fs/cgroup")
        if str(info.get("CgroupVersion", "1")) == "2":
            if (root / "cgroup.controllers").exists():
                return cls(root, 2)
            return None
        if (root / "cpuacct").is_dir() and (root / "memory").is_dir():
            return cls(root, 1)
        return None

    def _dir(self, controller: str, parent: str) -> Path:
        rel = parent.lstrip("/")
        return self.root / rel if self.version == 2 else self.root / controller / rel

    def _read(self, path: Path) -> str | None:
        try:
            return path.read_text()
        except OSError:
            return None

    def cpu_ns(self, parent: str) -> int | None:
        if self.version == 1:
            text = self._read(self._dir("cpuacct", parent) / "cpuacct.usage")
            return int(text) if text and text.strip().isdigit() else None
        text = self._read(self._dir("", parent) / "cpu.stat")
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdigit():
                return int(value) * 1000
        return None

    def memory_bytes(self, parent: str, peak: bool) -> int | None:
        if self.version == 1:
            name = "memory.max_usage_in_bytes" if peak else "memory.usage_in_bytes"
            text = self._read(self._dir("memory", parent) / name)
        else:
            text = self._read(self._dir("", parent) / ("memory.peak" if peak else "memory.current"))
        return int(text) if text and text.strip().isdigit() else None

    def reset_peak(self, parent: str) -> bool:
        """Start the peak afresh (cgroup v1 only); False when that is not possible."""
        if self.version != 1:
            return False
        try:
            (self._dir("memory", parent) / "memory.max_usage_in_bytes").write_text("0")
        except OSError:
            return False
        return True

    def pids_limit_hit(self, parent: str, container_id: str) -> bool:
        """True when the container's own pids cgroup refused a fork (while it exists)."""
        child = self._dir("pids", parent) / container_id
        text = self._read(child / "pids.events")
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def remove(self, parent: str) -> bool:
        """rmdir the parent in every hierarchy; False when one is still busy."""
        ok = True
        dirs = (
            [self._dir("", parent)]
            if self.version == 2
            else [p / parent.lstrip("/") for p in self.root.iterdir() if p.is_dir()]
        )
        for path in dirs:
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok

    def sweep(self, alive: Callable[[str], bool]) -> None:
        """Remove the empty parents of owners that are gone (a crashed server's)."""
        tops = (
            [self.root / CGROUP_ROOT]
            if self.version == 2
            else [p / CGROUP_ROOT for p in self.root.iterdir() if p.is_dir()]
        )
        for top in tops:
            if not top.is_dir():
                continue
            for entry in top.iterdir():
                if entry.is_dir() and not alive(owner_of(entry.name)):
                    with contextlib.suppress(OSError):
                        entry.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()  # only when empty: another server may be using it
