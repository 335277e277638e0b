"""The bubblewrap command of a local run: what a program sees, and nothing more.

Fresh namespaces (user, mount, pid, network with only ``lo``, IPC, UTS, cgroup), no
capabilities, no nested user namespaces, a new session; the host's ``/usr`` and the
few files of ``/etc`` runtimes need, read-only, with a generated ``passwd``, ``group``
and ``hosts``; bwrap's own ``/proc`` and a read-only minimal ``/dev``; size-capped
private tmpfs mounts for ``/box`` (the cwd), ``/tmp`` and ``/dev/shm``; the job's files
bound read-only into ``/box`` one by one; a read-only root; a cleared environment; the
seccomp filter. bwrap runs the program under a pid-1 init with ``--die-with-parent``:
when the program exits, or when bwrap is SIGKILLed, the kernel kills everything left
in the pid namespace.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..box import BOX, PRIVATE_TMP, SANDBOX_GID, SANDBOX_UID

# Host files a runtime needs from /etc (dynamic linker, alternatives symlinks, the
# JDK's configuration). The rest of /etc stays invisible: it is the host's business.
ETC_BINDS = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
)
ETC_GLOBS = ("/etc/java-*",)

#: The generated files of ``/etc`` a program sees, by name.
ETC_FILES = {
    "passwd": (
        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        f"nobody:x:{SANDBOX_UID}:{SANDBOX_GID}:nobody:/tmp:/usr/sbin/nologin\n"
    ).encode(),
    "group": f"root:x:0:\nnogroup:x:{SANDBOX_GID}:\n".encode(),
    "hosts": b"127.0.0.1\tlocalhost\n::1\tlocalhost\n",
}


def bwrap_options(bwrap: str) -> set[str]:
    """The options this bwrap understands (older versions lack --size and friends)."""
    try:
        result = subprocess.run(
            [bwrap, "--help"], capture_output=True, timeout=10, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return set(re.findall(r"--[a-z][a-z0-9-]*", result.stdout + result.stderr))


def host_binds(extra_ro_binds: Sequence[str]) -> list[str]:
    """bwrap arguments showing the host's system directories read-only, and
    ``extra_ro_binds`` (skipped where they do not exist)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    etc = [p for p in ETC_BINDS if os.path.exists(p)]
    for pattern in ETC_GLOBS:
        etc.extend(sorted(glob.glob(pattern)))
    for path in [*etc, *extra_ro_binds]:
        args += ["--ro-bind-try", path, path]
    return args


@dataclass(frozen=True)
class Bwrap:
    """This host's bwrap and what it shows a program; see :meth:`find`."""

    path: str
    #: The options this bwrap understands.
    options: frozenset[str]
    #: Arguments binding the host's system directories (see :func:`host_binds`).
    host_binds: tuple[str, ...]
    #: Whether the server runs as root (and has dropped to the sandbox user before
    #: bwrap starts: bwrap started by root with ``--uid`` would map it to root outside).
    as_root: bool

    @classmethod
    def find(cls, path: str, extra_ro_binds: Sequence[str], as_root: bool) -> Bwrap:
        """Ask ``path`` for its options and look up the host's directories (blocking;
        once per start: a runtime installed later needs a restart, as for its probe)."""
        return cls(path, frozenset(bwrap_options(path)), tuple(host_binds(extra_ro_binds)), as_root)

    def command(
        self,
        box: Path,
        env: dict[str, str],
        fds: dict[str, int],
        work_dir_mb: int,
        argv: Sequence[str],
    ) -> list[str]:
        """The command running ``argv`` in a new sandbox with the files of ``box``.

        ``fds`` are the launcher's fds bwrap reads: ``status`` (its JSON status),
        ``passwd``, ``group``, ``hosts`` and, where there is one, ``seccomp``.
        """
        size = work_dir_mb * 1024 * 1024
        sized = "--size" in self.options

        def tmpfs(dest: str, nbytes: int) -> list[str]:
            return (["--size", str(nbytes)] if sized else []) + ["--tmpfs", dest]

        args = [
            self.path,
            "--unshare-all",  # user, ipc, pid, net (loopback only), uts, cgroup
            "--unshare-user",
            "--die-with-parent",
            "--new-session",  # no TIOCSTI into a terminal we might have
            "--cap-drop",
            "ALL",
            "--hostname",
            "muscode",
        ]
        if "--disable-userns" in self.options:
            args.append("--disable-userns")  # no nested namespaces: less kernel surface
        if not self.as_root:
            args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        args += self.host_binds
        for name in ETC_FILES:
            if "--perms" in self.options:
                args += ["--perms", "0444"]
            args += ["--ro-bind-data", str(fds[name]), f"/etc/{name}"]
        if "seccomp" in fds:
            args += ["--seccomp", str(fds["seccomp"])]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # These are fresh private tmpfs mounts inside the sandbox's mount namespace.
        args += tmpfs("/dev/shm", max(1, size // 4))  # noqa: S108
        args += ["--remount-ro", "/dev"]  # bwrap's /dev is an unbounded writable tmpfs
        args += tmpfs(PRIVATE_TMP, size)
        args += tmpfs(BOX, size)
        for entry in sorted(os.scandir(box), key=lambda e: e.name):
            # Only what the host wrote itself: regular files and directories.
            if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                continue
            args += ["--ro-bind", entry.path, f"{BOX}/{entry.name}"]
        args += ["--remount-ro", "/"]
        args.append("--clearenv")
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--chdir", BOX, "--json-status-fd", str(fds["status"]), "--", *argv]
        return args
