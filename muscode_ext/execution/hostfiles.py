"""The host's side of a job's files: writing sources and build outputs below a job
directory, and removing job directories.

Everything here runs with the server's privileges on paths below a directory the
server made itself, and a program may have planted links in what it handed back (a
build archive): nothing here follows a symlink, opens a FIFO or leaves the directory
it was given.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .base import Job


@dataclass(frozen=True)
class HostModes:
    """Who owns the host's copies of a job's files, and who may read them."""

    directory: int = 0o755
    file: int = 0o644
    executable: int = 0o755
    #: ``(uid, gid)`` given to every file and directory made here; None keeps the
    #: server's own (and a directory's mode then goes through the umask).
    owner: tuple[int, int] | None = None

    def file_mode(self, executable: bool) -> int:
        return self.executable if executable else self.file


#: Readable by anyone: the Docker backend's run directories, which only the server and
#: the engine can reach, and which uid 65534 reads through a bind mount.
WORLD_READABLE = HostModes()


def safe_relpath(path: str) -> PurePosixPath:
    """A job path as a relative path that cannot leave the work dir (or raise)."""
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in pure.parts)
        or "\0" in path
        or len(path.encode()) > 4096
    ):
        raise ValueError(f"unsafe file path {path!r}")
    return pure


def _new_dir(path: Path, modes: HostModes) -> None:
    path.mkdir(mode=modes.directory)
    if modes.owner is not None:
        os.chown(path, *modes.owner)
        path.chmod(modes.directory)


def make_dirs(base: Path, rel: PurePosixPath, modes: HostModes) -> None:
    """Make the directory ``base/rel`` and its missing parents; never through a symlink."""
    path = base
    for part in rel.parts:
        path = path / part
        if path.is_symlink():
            raise ValueError(f"{rel} crosses a symlink")
        if not path.exists():
            _new_dir(path, modes)
        elif not path.is_dir():
            raise ValueError(f"{rel} is below something that is not a directory")


def write_file(
    base: Path,
    rel: PurePosixPath,
    content: bytes,
    modes: HostModes,
    *,
    executable: bool = False,
    mtime_ns: int | None = None,
) -> None:
    """Write the new file ``base/rel`` (and its missing parents), following no symlink.

    ``mtime_ns`` sets its modification time to the nanosecond (a build's artefact, as
    the compiler left it).
    """
    parent = base
    for part in rel.parts[:-1]:
        parent = parent / part
        try:
            _new_dir(parent, modes)
        except FileExistsError:
            if parent.is_symlink() or not parent.is_dir():
                raise ValueError(f"{rel} is below something that is not a directory") from None
    mode = modes.file_mode(executable)
    fd = os.open(parent / rel.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        if modes.owner is not None:
            os.fchown(fd, *modes.owner)
        os.fchmod(fd, mode)  # not narrowed by the umask: the sandbox user must read it
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
    finally:
        os.close(fd)


def write_sources(job: Job, dest: Path, modes: HostModes) -> None:
    """Write ``job``'s source files below ``dest``, refusing any path that could leave it."""
    for source in job.files:
        write_file(dest, safe_relpath(source.path), source.content, modes)


def remove_tree(path: Path) -> None:
    """Remove a job's directory tree. rmtree never follows symlinks and unlinks FIFOs
    without opening them; a directory inside the tree that the program made unwritable
    to us is made writable first. Nothing outside the tree is ever touched: when the
    tree's own root cannot be removed (already gone, say), its parent (``/tmp``) keeps
    its mode."""
    top = os.path.abspath(path)

    def onerror(func: Any, target: str, exc_info: Any) -> None:
        parent = os.path.dirname(os.path.abspath(target))
        if parent == top or parent.startswith(top + os.sep):
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(parent).st_mode):
                    os.chmod(parent, 0o700)
        with contextlib.suppress(OSError):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)
