"""The script a parked launcher sources for one local run: the run's rlimits, set with
the launcher's own ``ulimit`` (setting them from the server with prlimit(2) would need
CAP_SYS_RESOURCE, which containers often lack), then ``exec`` of bwrap and the
language's command; in the unsafe mode, ``exec env -i`` and the command in the job's
directory instead. Every step ``exec``\\s the next: no exec on a run's critical path
but bwrap's and the program's own."""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..archives import ARCHIVE_BOX
from ..base import Job, Limits
from ..box import BASE_ENV, PRIVATE_TMP
from ..rlimits import ShellUlimit, cpu_rlimits
from .bwrap import Bwrap
from .cgroups import RunCgroup

#: The compile step inside the sandbox (``sh -c COMPILE_SCRIPT name argv...``): compiler
#: messages go to stderr, and after a successful compile the work dir goes to stdout as
#: a tar archive.
COMPILE_SCRIPT = '"$@" >&2 && exec ' + ARCHIVE_BOX


@dataclass(frozen=True)
class ScriptSetup:
    """What every launch script of one sandbox shares."""

    #: How the launchers' shell spells ``ulimit``.
    ulimit: ShellUlimit
    #: RLIMIT_NOFILE of programs.
    open_files: int
    #: Size of each writable tmpfs, in MiB.
    work_dir_mb: int
    #: bubblewrap, or None in the unsafe mode.
    bwrap: Bwrap | None
    #: The uid programs run as (RLIMIT_NPROC counts that uid's processes on the host).
    uid: int


@dataclass(frozen=True)
class LaunchScript:
    text: str
    #: The hard RLIMIT_CPU it sets, in seconds.
    cpu_hard_s: int


def launch_script(
    setup: ScriptSetup,
    argv: Sequence[str],
    job: Job,
    box: Path,
    limits: Limits,
    cgroup: RunCgroup | None,
    fds: dict[str, int],
) -> LaunchScript:
    """The script running ``argv`` of ``job`` (whose files are in ``box`` on the host)
    under ``limits``, for a launcher in ``cgroup`` holding ``fds`` for bwrap."""
    watchdog = cgroup is not None and cgroup.has_cpu
    nproc: int | None = None
    if cgroup is None or not cgroup.has_pids:
        # Only a fallback: RLIMIT_NPROC counts every process of the uid on the host,
        # so allow for those that already exist.
        nproc = limits.processes + count_processes(setup.uid)
    lines = setup.ulimit.run_limits(
        limits, job.language, watchdog=watchdog, open_files=setup.open_files, processes=nproc
    )
    env = {**BASE_ENV, **job.language.env}
    if setup.bwrap is not None:
        # Paths inside the sandbox's own private tmpfs, not the host's /tmp.
        env.update({"HOME": PRIVATE_TMP, "TMPDIR": PRIVATE_TMP})
        command = setup.bwrap.command(box, env, fds, setup.work_dir_mb, argv)
    else:
        # Unsafe mode: no bwrap to clear the environment and change directory.
        env.update({"HOME": str(box), "TMPDIR": str(box)})
        command = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        lines.append(f"cd {shlex.quote(str(box))} || exit 125")
    lines.append("exec " + " ".join(shlex.quote(arg) for arg in command))
    text = "".join(line + "\n" for line in lines)
    return LaunchScript(text, cpu_rlimits(limits, watchdog=watchdog)[1])


def write_script(path: Path, script: LaunchScript) -> None:
    """Write the script where the launcher will read it: readable by the sandbox user
    that sources it. (A few hundred bytes: cheaper on the event loop than a thread.)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, script.text.encode())
    finally:
        os.close(fd)


def count_processes(uid: int) -> int:
    """How many processes ``uid`` has on this host."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid == uid:
                        count += 1
    return count
