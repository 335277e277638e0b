"""Build archives: how a compile step's work dir leaves the sandbox and lands on the host.

Compilers write only into the sandbox's size-capped tmpfs. After a successful compile
the sandbox streams its work dir out on stdout as a tar archive (:data:`ARCHIVE_BOX`);
the host keeps only regular files and directories with plain relative names, below the
job's own directory (:func:`unpack_build`). The archive is hostile input: the compile
step may run anything (``gcc -wrapper`` is one way), so nothing it plants — links,
FIFOs, devices, paths that climb out — is ever followed or opened on the host, and a
source the compiler touched keeps the host's copy.
"""

from __future__ import annotations

import decimal
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .base import Job
from .box import BOX
from .hostfiles import HostModes, make_dirs, safe_relpath, write_file

#: The shell command that writes the work dir to stdout as an archive. pax keeps each
#: file's mtime to the nanosecond, which the host restores: every run of the job sees
#: the build's artefacts as the compiler left them.
ARCHIVE_BOX = f"tar --format=posix -C {BOX} -cf - ."

#: Most entries a compile step's archive may hold.
MAX_BUILD_ENTRIES = 10_000


def archive_cap_bytes(work_dir_mb: int) -> int:
    """The most a build archive may weigh: a full work dir, plus the headers of many
    small files."""
    return (2 * work_dir_mb + 1) * 1024 * 1024


@dataclass(frozen=True)
class BuildEntry:
    """A directory (``content`` None) or regular file of a compile step's work dir."""

    path: PurePosixPath
    content: bytes | None
    executable: bool = False
    #: The file's modification time to the nanosecond, where the archive has it (pax).
    mtime_ns: int | None = None


def build_entries(archive: bytes, job: Job) -> Iterator[BuildEntry]:
    """What to keep of the compile step's tar archive of its work dir (hostile input).

    Only regular files and directories with plain relative names; the sources are
    skipped (the host's copies stay authoritative); links, FIFOs and devices are
    ignored, so nothing the compiler planted is ever followed or opened on the host.
    Raises ValueError (a path that could leave the work dir, too many entries) or
    tarfile.TarError.
    """
    sources = {str(safe_relpath(f.path)) for f in job.files}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for count, member in enumerate(tar):
            if count > MAX_BUILD_ENTRIES:
                raise ValueError("too many files")
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            if not name or name == ".":
                continue
            rel = safe_relpath(name)
            if str(rel) in sources:
                continue
            if member.isdir():
                yield BuildEntry(rel, None)
            elif member.isfile():
                data = tar.extractfile(member)
                if data is not None:
                    executable = bool(member.mode & 0o111)
                    yield BuildEntry(rel, data.read(), executable, _exact_mtime_ns(member))


def _exact_mtime_ns(member: tarfile.TarInfo) -> int | None:
    """A pax archive's mtime as written ("1795998776.907711236"), without a float's
    rounding; None if the archive has none or it is not a plain decimal."""
    text = member.pax_headers.get("mtime")
    if text is None:
        return None
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or not 0 <= value < 2**40:
        return None
    return int(value.scaleb(9))


def unpack_build(archive: bytes, dest: Path, job: Job, modes: HostModes) -> None:
    """Unpack what to keep of the compile step's archive below ``dest`` (the job's
    files on the host). Raises ValueError, tarfile.TarError or OSError."""
    for entry in build_entries(archive, job):
        if entry.content is None:
            make_dirs(dest, entry.path, modes)
        else:
            write_file(
                dest,
                entry.path,
                entry.content,
                modes,
                executable=entry.executable,
                mtime_ns=entry.mtime_ns,
            )
