"""The local sandbox's directories on the host: the work root, and in it one private
directory per job whose ``box`` holds the job's files (sources, then its build).

When the server is root, the work root is ``root:nogroup`` with mode 0710 (the sandbox
user may pass through, nobody else may list it) and each job directory belongs to the
sandbox user with mode 0700: bwrap, running as that user, must reach the job's files
to bind them; no other host user may, not even one of the ``nogroup`` group. (Another
run cannot reach them either: a sandboxed run sees no host path but its own binds.)
The files in it stay root's, readable by the group, so the sandbox user reads but
cannot change them.
Directory names carry the owning server's pid, so that what a server that died without
cleaning up (SIGKILL, power loss) left behind is removed at the next start, without
touching what a server still running uses.

Unless configured, the work root is made on a memory file system (``/dev/shm``) when
there is a large enough one: every run makes and removes a job directory, and on a
disk file system (ext4 here) that costs 1-3 ms of the server's time per run, on a busy
disk more; on tmpfs 0.15 ms.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ..base import Job
from ..box import SANDBOX_GID, SANDBOX_UID
from ..hostfiles import HostModes, remove_tree, write_sources

log = logging.getLogger(__name__)


#: Where the default work root goes first: a memory file system, if it is one.
MEMORY_TMP = "/dev/shm"  # noqa: S108 - a private 0700 directory is made in it
#: Free space it must have to be used (a job's build can take ``work_dir_mb``).
MEMORY_TMP_MIN_FREE = 1024 * 1024 * 1024


def default_parent(candidate: str = MEMORY_TMP, min_free: int = MEMORY_TMP_MIN_FREE) -> Path:
    """Where the default work root is made: ``candidate`` when it is a tmpfs we may
    write with at least ``min_free`` bytes free, else the system temp dir."""
    try:
        st = os.statvfs(candidate)
        usable = (
            is_tmpfs(candidate)
            and os.access(candidate, os.W_OK | os.X_OK)
            and st.f_bavail * st.f_frsize >= min_free
        )
    except OSError:
        usable = False
    return Path(candidate) if usable else Path(tempfile.gettempdir())


def is_tmpfs(path: str) -> bool:
    """Whether ``path`` is the mount point of a tmpfs (from /proc/self/mounts)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            return any(
                fields[1] == path and fields[2] == "tmpfs"
                for fields in (line.split() for line in mounts)
                if len(fields) > 2
            )
    except OSError:
        return False


class JobDirs:
    """Where per-job directories are made: ``configured``, or a private directory made by
    :meth:`open` (see :func:`default_parent`) and removed by :meth:`close`."""

    def __init__(self, configured: str | None, as_root: bool) -> None:
        self.configured = configured
        self.as_root = as_root
        #: The work root, once open.
        self.root: Path | None = None
        self._own = False
        #: The host's copies of job files: readable by the sandbox group, by no other
        #: host user.
        self.modes = HostModes(
            directory=0o750,
            file=0o640,
            executable=0o750,
            owner=(0, SANDBOX_GID) if as_root else None,
        )

    def open(self) -> Path:
        """Make the work root, removing what dead servers left in it (blocking)."""
        if self.configured:
            root = Path(self.configured)
            root.mkdir(parents=True, exist_ok=True)
            remove_dead_owners(root, "job-")
        else:
            prefix = f"muscode-local-{os.getuid()}-"
            parent = default_parent()
            # Both: a server that died may have used the other one.
            for tmp in {parent, Path(tempfile.gettempdir())}:
                remove_dead_owners(tmp, prefix)
            root = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
            self._own = True
        if self.as_root:
            os.chown(root, 0, SANDBOX_GID)
            root.chmod(0o710)
        self.root = root
        return root

    def close(self) -> None:
        """Remove the work root if it is our own (blocking)."""
        if self._own and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def unreachable(self) -> str | None:
        """Why the sandbox user cannot reach the work root (bwrap binds job files from
        it as that user), or None."""
        assert self.root is not None
        if not self.as_root:
            return None
        path = self.root.resolve()
        for directory in [path, *path.parents]:
            st = directory.stat()
            if st.st_mode & stat.S_IXOTH:
                continue
            if st.st_gid == SANDBOX_GID and st.st_mode & stat.S_IXGRP:
                continue
            if st.st_uid == SANDBOX_UID and st.st_mode & stat.S_IXUSR:
                continue
            return (
                f"the work root {path} is not reachable by the sandbox user (uid {SANDBOX_UID}): "
                f"{directory} is not searchable by it; choose a work root whose parent "
                "directories are world-searchable (chmod o+x)"
            )
        return None

    def new(self, job: Job | None = None, *, for_sandbox_user: bool = False) -> Path:
        """A private job directory, with ``job``'s sources written into its ``box``.
        ``for_sandbox_user``: the program works in the box itself, as the sandbox user
        (the unsafe mode of a root server), so it owns the files."""
        assert self.root is not None
        job_dir = Path(tempfile.mkdtemp(prefix=f"job-{os.getpid()}-", dir=self.root))
        box = job_dir / "box"
        box.mkdir()
        if self.as_root:
            os.chown(box, 0, SANDBOX_GID)
            box.chmod(0o750)
            os.chown(job_dir, SANDBOX_UID, SANDBOX_GID)
        job_dir.chmod(0o700)  # mkdtemp's mode already; said again for clarity
        if job is not None:
            try:
                write_sources(job, box, self.modes)
                if for_sandbox_user:
                    for dirpath, dirnames, filenames in os.walk(box):
                        for name in [*dirnames, *filenames, ""]:
                            os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_GID)
            except BaseException:
                remove_tree(job_dir)
                raise
        return job_dir


def remove_dead_owners(directory: Path, prefix: str) -> None:
    """Remove ``<prefix><pid>-*`` entries of ``directory`` whose pid is not running."""
    try:
        entries = list(directory.glob(prefix + "*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or entry.is_symlink() or not entry.is_dir():
            continue
        if int(pid_text) == os.getpid() or Path(f"/proc/{pid_text}").exists():
            continue
        log.info("removing %s, left behind by a server that is gone", entry)
        remove_tree(entry)
