"""Build archives from the sandbox (hostile input): what the host keeps of them."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Job, SourceFile
from muscode_ext.execution.archives import unpack_build
from muscode_ext.execution.hostfiles import WORLD_READABLE, HostModes


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _entry(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw: object
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in kw.items():
        setattr(info, key, value)
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def test_unpacking_compile_output_takes_only_plain_files(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    (box / "main.c").write_text("original source")
    outside = tmp_path / "outside"
    outside.mkdir()
    job = Job(
        language=DEFAULT_LANGUAGES["c"],
        files=(SourceFile("main.c", b"original source"),),
        main="main.c",
    )
    archive = _tar(
        [
            _entry("./prog", data=b"\x7fELF", mode=0o755),
            _entry("./pkg", tarfile.DIRTYPE, mode=0o755),
            _entry("./pkg/A.class", data=b"cafe", mode=0o644),
            _entry("./main.c", data=b"replaced by the compiler"),  # sources stay the host's
            _entry("./link", tarfile.SYMTYPE, linkname=str(outside)),
            _entry("./hard", tarfile.LNKTYPE, linkname="prog"),
            _entry("./fifo", tarfile.FIFOTYPE),
            _entry("./dev", tarfile.CHRTYPE, devmajor=1, devminor=3),
            # a file "through" the symlink: must land in a real dir inside the box
            _entry("./link/owned", data=b"x"),
        ]
    )
    unpack_build(archive, box, job, WORLD_READABLE)
    assert (box / "prog").read_bytes() == b"\x7fELF"
    assert os.access(box / "prog", os.X_OK)
    assert (box / "pkg" / "A.class").read_bytes() == b"cafe"
    assert (box / "main.c").read_text() == "original source"
    assert not (box / "link").is_symlink() and (box / "link" / "owned").read_bytes() == b"x"
    for name in ("hard", "fifo", "dev"):
        assert not (box / name).exists() and not (box / name).is_symlink()
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a/../../b", "./../x"])
def test_unpacking_refuses_paths_outside_the_box(tmp_path: Path, name: str) -> None:
    box = tmp_path / "box"
    box.mkdir()
    job = Job(language=DEFAULT_LANGUAGES["c"], files=(), main="main.c")
    with pytest.raises(ValueError):
        unpack_build(_tar([_entry(name, data=b"x")]), box, job, WORLD_READABLE)
    assert not (tmp_path / "escape").exists()


def test_unpacking_restores_a_pax_archives_modification_times(tmp_path: Path) -> None:
    """A build's artefacts keep the mtime the compiler gave them, to the nanosecond."""
    info = tarfile.TarInfo("prog")
    info.size = 4
    info.mode = 0o755
    info.pax_headers = {"mtime": "1795998776.907711236"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"\x7fELF"))
    job = Job(language=DEFAULT_LANGUAGES["c"], files=(), main="main.c")
    modes = HostModes(directory=0o750, file=0o640, executable=0o750)
    unpack_build(buf.getvalue(), tmp_path, job, modes)
    st = (tmp_path / "prog").stat()
    assert st.st_mtime_ns == 1795998776_907711236
    assert st.st_mode & 0o777 == 0o750
