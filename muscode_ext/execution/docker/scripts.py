"""The scripts a Docker sandbox container runs, and the protocol between them and the
host.

A pooled container idles with PID 1 blocked on stdin (:data:`IDLE_COMMAND`). A run
writes its script (``run.sh``, :func:`step_script`) and files into the container's
private host directory, which the container sees read-only at :data:`CONTROL`, and
sends the go line and a per-run nonce (:data:`GO`); the rest of stdin is the
program's. ``run.sh`` copies the files into the tmpfs work dir, sets the run's rlimits
with ``ulimit``, runs the command as a child (PID 1 stays ``sh``, so a program can
signal itself; when PID 1 exits the kernel kills whatever the program left behind),
and ends both streams with an end marker (:data:`END_MARK`) carrying the nonce, the
status and the container cgroup's counters: where the program's output ends. The host
takes the result from the engine and its own cgroups, never from the marker (only a
build that hands its container on is judged by it). After a successful compile it
streams the work dir out as a tar archive on stdout.
"""

from __future__ import annotations

import re
import shlex

from ..archives import ARCHIVE_BOX
from ..base import Job, Limits
from ..box import BOX
from ..rlimits import ShellUlimit

#: Where the container's private host directory (script and files) is mounted, read-only.
CONTROL = "/muscode"

#: PID 1 of a pooled container (under runc): wait for the go line, then become run.sh.
IDLE_COMMAND = ["/bin/sh", "-c", f"read -r go && exec /bin/sh {CONTROL}/run.sh"]
#: The first line a run sends on stdin; the nonce follows on the next.
GO = b"go\n"
# run.sh ends each stream with "\0muscode-end <nonce> <status> <oom kills> <refused
# forks> <cpu ns> <peak memory bytes>\n" once the program has exited: the end of its
# output (what orphans print after it is dropped). The nonce arrives on stdin after the
# go line and lives only in PID 1's shell variables, but PID 1 runs as the program's
# uid and a program can read its memory (/proc/1/mem): the host trusts nothing of a
# marker but where the output ends. Status, OOM kill and end time come from the engine,
# CPU, memory and the pids limit from the host's cgroups. Only a build that keeps its
# container for the job's first run (which never exits) is judged by its marker's
# status and counters.
END_MARK = b"\0muscode-end "
# Reads the counters with builtins only (no fork): cgroup v1 paths, then v2. Under
# gVisor the files may be missing: the counters stay 0 and the engine's OOMKilled (the
# whole sandbox dies there) decides.
_COUNTERS = [
    "MUSCODE_OOM=0; MUSCODE_PIDS=0; MUSCODE_CPU=0; MUSCODE_MEM=0",
    "for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do",
    '  [ -r "$f" ] && while read -r k v; do [ "$k" = oom_kill ] && MUSCODE_OOM=$v; done < "$f"',
    "done",
    "for f in /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids.events; do",
    '  [ -r "$f" ] && while read -r k v; do [ "$k" = max ] && MUSCODE_PIDS=$v; done < "$f"',
    "done",
    # CPU ns and peak memory bytes as the container's own cgroup saw them: what the host
    # uses when it cannot read the host's cgroupfs (the Engine's stats are only samples).
    "f=/sys/fs/cgroup/cpuacct/cpuacct.usage; [ -r $f ] && read -r MUSCODE_CPU < $f",
    "f=/sys/fs/cgroup/cpu.stat; [ -r $f ] && while read -r k v; do",
    '  [ "$k" = usage_usec ] && MUSCODE_CPU=$((v * 1000)); done < $f',
    "for f in /sys/fs/cgroup/memory/memory.max_usage_in_bytes /sys/fs/cgroup/memory.peak; do",
    '  [ -r "$f" ] && read -r MUSCODE_MEM < "$f"',
    "done",
]
# The end marker, written by run.sh to both streams.
_END_LINE = (
    "printf '\\000muscode-end %s %s %s %s %s %s\\n'"
    ' "$MUSCODE_NONCE" "$MUSCODE_STATUS" "$MUSCODE_OOM" "$MUSCODE_PIDS"'
    ' "$MUSCODE_CPU" "$MUSCODE_MEM"'
)
# Tasks in the container that are not the program: PID 1's sh (cp and tar run alone,
# before and after the program).
PIDS_OVERHEAD = 1
# How the runner images' /bin/sh (dash) spells ulimit; the container's limits are the
# engine's, not this process's.
_ULIMIT = ShellUlimit(within_own_limits=False)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def step_script(
    job: Job,
    argv: list[str],
    limits: Limits,
    *,
    relays: bool,
    compile_step: bool,
    then_wait: bool = False,
    copy_files: bool = True,
) -> str:
    """The shell script PID 1 runs for one step of ``job``. ``relays``: PID 1 is the
    output relay (gVisor). ``then_wait``: a compile step whose container, once the
    build succeeded, waits for the job's first run (``next.sh``) instead of ending.
    ``copy_files``: False for that run, whose files (and build) are already in the
    work dir."""
    lines = ["# Written by MUSCode for one run; PID 1 of the container runs it."]
    if not relays and copy_files:
        # Copies keep the build's timestamps: every run of a job sees the same
        # artefact, as it would in the compiler's own directory. (The relay copies
        # them itself.)
        lines.append(f"cp -R --preserve=mode,timestamps {CONTROL}/files/. {BOX}/ || exit 125")
    limit_at = len(lines)
    # The engine set RLIMIT_NOFILE at creation. gVisor counts processes per sandbox
    # (the host pids limit counts its threads); under runc the pids cgroup counts them.
    nproc = limits.processes + PIDS_OVERHEAD if relays else None
    lines += _ULIMIT.run_limits(limits, job.language, watchdog=True, processes=nproc)
    for key, value in job.language.env.items():
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(f"invalid environment variable name {key!r}")
        lines.append(f"export {key}={shlex.quote(value)}")
    command = " ".join(shlex.quote(part) for part in argv)
    if then_wait and not relays:
        return _build_then_wait(lines, limit_at, command)
    if relays:
        # PID 1 (the relay) read the nonce and writes the end markers; stdout and
        # stderr are its pipes.
        if compile_step:
            lines += [
                "exec 3>&2 2>/dev/null",
                f"(exec {command} >&3 2>&3 3>&-) && exec {ARCHIVE_BOX} 2>&3 3>&-",
            ]
        else:
            lines.append(f"exec {command}")
        return "\n".join(lines) + "\n"
    # sh's own notices ("Killed") must not land in the program's stderr: fd 3 is the
    # real stderr, sh's fd 2 is /dev/null. Each command runs in a subshell that
    # execs it, so sh (PID 1) waits for it: the program can signal itself (PID 1
    # ignores such signals), and its status is ours (128+N for signal N).
    lines.insert(1, "read -r MUSCODE_NONCE || exit 125")
    lines.append("exec 3>&2 2>/dev/null")
    if compile_step:
        # Compiler messages to stderr; after a successful compile, the work dir goes
        # out on stdout as a tar archive.
        lines.append(f"(exec {command} >&3 2>&3 3>&-) && (exec {ARCHIVE_BOX} 2>&3 3>&-)")
    else:
        lines.append(f"(exec {command} 2>&3 3>&-)")
    lines += ["MUSCODE_STATUS=$?", *_COUNTERS]
    lines += [_END_LINE, f"{_END_LINE} >&3", 'exit "$MUSCODE_STATUS"']
    return "\n".join(lines) + "\n"


def _build_then_wait(lines: list[str], limit_at: int, command: str) -> str:
    """A compile step that hands its container on to the job's first run.

    The limits and environment apply to the compiler only (a subshell), so that
    the run sets its own; nothing reads the live stdin (kept open for the run).
    After a build that succeeded, every process but PID 1 is killed (as uid 65534,
    ``kill -1`` reaches all of them: nothing the compiler started lives on) and
    reaped, fd 2 is restored, and PID 1 waits for the next go line to run ``next.sh``.
    """
    head, limits = lines[:limit_at], lines[limit_at:]
    out = [head[0], "read -r MUSCODE_NONCE || exit 125", *head[1:]]
    out.append("exec 3>&2 2>/dev/null")
    build = "; ".join([*limits, f"exec {command} </dev/null >&3 2>&3 3>&-"])
    out.append(f"({build}) && (exec {ARCHIVE_BOX} </dev/null 2>&3 3>&-)")
    out += ["MUSCODE_STATUS=$?", *_COUNTERS]
    out += [
        _END_LINE,
        f"{_END_LINE} >&3",
        '[ "$MUSCODE_STATUS" = 0 ] || exit "$MUSCODE_STATUS"',
        "kill -s KILL -- -1",
        # The killed orphans are PID 1's children: unreaped, they would show in the run's
        # /proc. sh reaps any child while it waits for an external command; 'kill -s 0
        # -1' fails once no other process, zombies included, is left.
        'n=0; while kill -s 0 -- -1 && [ "$n" -lt 100 ]; do /bin/sleep 0.01; n=$((n + 1)); done',
        "exec 2>&3 3>&-",
        "read -r go || exit 125",
        f"exec /bin/sh {CONTROL}/next.sh",
    ]
    return "\n".join(out) + "\n"
