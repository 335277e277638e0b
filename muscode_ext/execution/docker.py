"""The Docker sandbox: every run in its own throw-away container, through the Engine API.

How one run goes, and why:

- **One container per run** (and one per compile step), used once and removed. Runs share
  nothing but the read-only image. The one exception: under runc with host cgroups, a
  compiled job's first run takes over its build's container (``_build_then_wait``):
  the compiler's limits apply in a subshell, a successful build ends with every
  process but PID 1 killed, the engine lowers the memory limit to the run's, and PID 1
  waits for the go line of ``next.sh``. A C run costs one container instead of two.
  Every container has no network, a read-only root, a size-capped tmpfs work dir
  (``/box``, the cwd) and ``/tmp``, a memory limit with no swap, a pids limit, one CPU,
  no capabilities, ``no-new-privileges``, uid 65534, ulimits, the ``none`` log driver (a
  flood would otherwise fill the json log on the host disk) and the label
  ``muscode.sandbox=1``.
- **Latency**: ``docker start`` alone costs about 0.2 s (runc's and the shim's set-up),
  most of a plain ``docker run``. So the pool keeps containers that are *already started*
  and idle: their PID 1 is ``sh -c 'read -r go && exec sh /muscode/run.sh'``, blocked on
  stdin. A run writes its script and files into that container's private host directory
  (bind-mounted read-only at ``/muscode``), attaches, and sends the go line; the rest of
  stdin is the program's. Each pooled container serves exactly one run; the pool refills
  in the background. Container-level limits are fixed at creation, so pools are keyed by
  (image, memory, processes); the per-run limits (CPU seconds, file size, address space,
  and under gVisor the process count) are set by ``run.sh`` with ``ulimit``.
- **Files**: ``run.sh`` copies ``/muscode/files`` into the tmpfs ``/box`` (under gVisor
  the relay copies them itself: a ``cp`` costs a fork and an exec, about 12 ms there)
  and runs the command there as a child (PID 1 stays ``sh``, so a program can signal
  itself; when PID 1 exits the kernel kills whatever the program left behind).
  Compilers write only into the tmpfs; after a successful compile ``run.sh`` streams
  ``/box`` out as a tar archive on stdout (compiler messages go to stderr), and the host
  unpacks regular files and directories only into the job's directory. Nothing in a
  container ever writes to the host's disk.
- **Output** is read from the attach socket on the event loop, demultiplexed, capped;
  on the cap, the wall limit, the CPU limit or cancellation the socket is closed *first*
  and the container killed through the API (a kill while an attach stream is open can
  block for a minute).
- **The end**: once the program has exited, ``run.sh`` writes an end marker (with a
  per-run nonce, its status and the cgroup's OOM and refused-fork counts) on both
  streams; the host stops there instead of waiting ~50 ms for the engine to notice the
  exit. Without a marker (a kill, gVisor's OOM) the engine's wait and inspect decide.
  A run's container is removed in the background; the job awaits every removal before
  its context exits, so a job's runs and removals overlap but nothing outlives the job.
- **Accounting**: when this process can read the host's cgroupfs (root, cgroupfs driver),
  each container gets its own cgroup parent ``/muscode.docker/<slot>``; its hierarchical
  counters survive the container's own cgroup, which the runtime deletes at exit, so CPU
  time and peak memory are exact after the run, and a watchdog polls the CPU counter.
  Otherwise the watchdog polls the Engine's stats (runc only: gVisor's shim reports
  none) and the final figures come from the container's own cgroup, read by ``run.sh``.
- **Engine outages**: ``check()`` pings the engine every time (the services cache it for a
  few seconds), so runs are refused with a reason while dockerd is down. Pooled
  containers die with the engine; a pooled container whose attach socket has anything
  to read (an idle one prints nothing) is discarded instead of handed out, so runs work
  again as soon as the engine is back. Containers stop with SIGKILL: nothing in them
  needs a clean stop, and dockerd shutting down does not wait 10 s for each.
- **gVisor** (``runtime="runsc"``): the memory limit covers the sandbox's kernel too, so
  it is raised by the idle container's use (which is not reported as the program's);
  gVisor breaks copy-on-write in 2 MB units, so each forked process of a big runtime
  (Python: about 3.5 MB) costs more memory than under runc. The host pids limit only
  bounds gVisor's own threads and the program's processes are limited with
  RLIMIT_NPROC inside; RLIMIT_CPU is not enforced there, the watchdog is. PID 1 is a
  small output relay instead of sh (``_RELAY``): a write to a host pipe returns short
  under gVisor, and programs that do not retry would lose output.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import importlib
import logging
import math
import os
import re
import secrets
import shlex
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from ..aio import wait_ended
from .base import (
    CompileOutcome,
    Job,
    LimitHit,
    Limits,
    OutputCallback,
    Program,
    RunOutcome,
    Sandbox,
    SandboxUnavailable,
    StdinSource,
    Stream,
)
from .common import (
    OutputCaps,
    OutputCapture,
    SandboxProgram,
    build_entries,
    compile_command,
    compile_result,
    heap_mb_for,
    manages_own_heap,
    probed_version,
    remove_tree,
)
from .common import (
    safe_relpath as _safe_relpath,
)
from .languages import Language

log = logging.getLogger(__name__)

T = TypeVar("T")

SANDBOX_UID = 65534
SANDBOX_GID = 65534
#: The work dir inside the container (a tmpfs, the program's cwd); the same path as the
#: local backend's, so paths in messages do not depend on the backend.
BOX = "/box"
#: Where the container's private host directory (script and files) is mounted, read-only.
CONTROL = "/muscode"
DEFAULT_IMAGE = "muscode-runner:latest"
#: Every container MUSCode creates carries this label (tests and sweeps look for it).
LABEL = "muscode.sandbox"
#: Which live MUSCode process owns the container: "<pid>.<process start time>".
OWNER_LABEL = "muscode.owner"
#: Which DockerSandbox instance in that process (several may share one engine).
INSTANCE_LABEL = "muscode.instance"
#: Under this cgroup each container gets its own parent (host cgroupfs accounting).
CGROUP_ROOT = "muscode.docker"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

# PID 1 of a pooled container: wait for the go line, then become the run's script.
_IDLE_COMMAND = ["/bin/sh", "-c", f"read -r go && exec /bin/sh {CONTROL}/run.sh"]
_GO = b"go\n"
# run.sh ends each stream with "\0muscode-end <nonce> <status> <oom kills> <refused
# forks>\n" once the program has exited: the host learns the end ~50 ms sooner than from
# the engine (container exit -> shim -> containerd -> dockerd -> attach EOF). The two
# counters come from the container's own cgroup files, read before it goes away. The
# nonce arrives on stdin after the go line and lives only in PID 1's shell variables; a
# program that forged the marker anyway would gain nothing it could not get by exiting
# with that status itself.
_MARK = b"\0muscode-end "
# Reads the counters with builtins only (no fork): cgroup v1 paths, then v2. Under
# gVisor the files may be missing: the counters stay 0 and the engine's OOMKilled (the
# whole sandbox dies there) decides.
_COUNTERS_SCRIPT = [
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
# The work dir after a build, as an archive on stdout. pax keeps each file's mtime to the
# nanosecond, which the host restores: every run of the job, in the build's own container
# or in a fresh one, sees the build's artefacts as the compiler left them.
_TAR_BOX = f"tar --format=posix -C {BOX} -cf - ."
# The end marker, written by run.sh to both streams.
_END_LINE = (
    "printf '\\000muscode-end %s %s %s %s %s %s\\n'"
    ' "$MUSCODE_NONCE" "$MUSCODE_STATUS" "$MUSCODE_OOM" "$MUSCODE_PIDS"'
    ' "$MUSCODE_CPU" "$MUSCODE_MEM"'
)
# Tasks in the container that are not the program: PID 1's sh (cp and tar run alone,
# before and after the program).
_PIDS_OVERHEAD = 1
# gVisor's own threads (sentry, gofer, and on the ptrace platform stub processes and
# tracer threads: about 8 host tasks per sandboxed process, and a fork bomb held at 33
# processes inside peaked at 908 on the host, measured) count against the host pids
# limit, and the sentry dies (exit 2) when it cannot make one. So the host limit only
# bounds gVisor (the threads' kernel stacks also count against the memory limit); the
# program's processes are limited inside the sandbox with RLIMIT_NPROC, which gVisor
# counts per sandbox (runc would count every process of uid 65534 on the host).
_RUNSC_MIN_PIDS = 4096
_RUNSC_PIDS_PER_PROCESS = 64
# What an idle gVisor container uses, which the host's memory limit counts but is not
# the program's: the sentry and gofer (about 12 MB) and the relay (below; 2 MB), measured
# 14-16 MB. The limit is raised by a little less, so a program gets its limit, as under
# runc, and its reported peak (above the idle use) never passes it.
_RUNSC_IDLE_MB = 12
# PID 1 of a container under gVisor, in place of sh: the output relay. gVisor hands the
# engine's pipes to the sandbox as host fds, and a write to one returns short once the
# host pipe is full, where Linux blocks until everything is written: programs that trust
# one write() to take it all lose output (Python run with -u writes each print with one
# write() and drops the rest: a 200 KB line arrived as 64 KB). So run.sh writes into
# pipes of gVisor's own, which block as Linux pipes do, and the relay copies them out
# with full writes. As PID 1 it cannot be killed by the program (kill(-1) spares init).
# It forks run.sh's process while the container idles (a fork under gVisor copies
# memory in 2 MB units: tens of ms), reads the go and nonce lines byte by byte (the rest
# of stdin is the program's), and ends both streams with the same marker as run.sh
# does under runc. Perl because every Debian image has it (perl-base is essential) and
# it starts in milliseconds; builtins only.
_RELAY = r"""
use strict;
my ($script, $files, $box) = @ARGV;
pipe(my $out_r, my $out_w) or exit 125;
pipe(my $err_r, my $err_w) or exit 125;
pipe(my $go_r, my $go_w) or exit 125;
open(my $real_err, ">&", \*STDERR) or exit 125;
$SIG{CHLD} = sub {};  # wakes select() when run.sh ends
my $pid = fork();
exit 125 unless defined $pid;
if ($pid == 0) {
    # Becomes a small sh at once (a copy of perl would hold its memory) that waits for
    # the go on the go pipe, in a process group of its own: killpg(0) from the program
    # must not reach PID 1.
    $SIG{CHLD} = "DEFAULT";
    setpgrp(0, 0);
    open(STDOUT, ">&", $out_w) or exit 125;
    open(STDERR, ">&", $err_w) or exit 125;
    fcntl($go_r, 2, 0) or exit 125;  # F_SETFD: no close-on-exec for the go pipe
    my $fd = fileno($go_r);
    exec("/bin/sh", "-c", "read -r go <&$fd && exec $fd<&- && . \"\$0\"", $script);
    exit 127;
}
close($out_w);
close($err_w);
close($go_r);
$SIG{PIPE} = "IGNORE";
sub line {
    my $text = "";
    while (sysread(STDIN, my $c, 1)) {
        return $text if $c eq "\n";
        $text .= $c;
    }
    return undef;
}
# The job's files into the work dir, as cp -R --preserve=mode,timestamps would (only
# regular files and directories are there): in this process, since a cp would cost
# a fork and an exec, each some milliseconds under gVisor.
sub copy_tree {
    my ($from, $to) = @_;
    opendir(my $dir, $from) or return 0;
    my @names = grep { $_ ne "." && $_ ne ".." } readdir($dir);
    closedir($dir);
    for my $name (@names) {
        my ($src, $dst) = ("$from/$name", "$to/$name");
        my @st = lstat($src) or return 0;
        if (-d _) {
            mkdir($dst, 0700) or return 0;
            copy_tree($src, $dst) or return 0;
        } elsif (-f _) {
            sysopen(my $in, $src, 0) or return 0;  # O_RDONLY
            sysopen(my $out, $dst, 1 | 64 | 128, 0600) or return 0;  # O_WRONLY|O_CREAT|O_EXCL
            while (1) {
                my $n = sysread($in, my $buf, 1 << 16);
                return 0 unless defined $n;
                last unless $n;
                while (length $buf) {
                    my $w = syswrite($out, $buf);
                    return 0 unless $w;
                    substr($buf, 0, $w, "");
                }
            }
            close($out) or return 0;
        } else {
            next;
        }
        chmod($st[2] & 07777, $dst) or return 0;
        utime($st[8], $st[9], $dst) or return 0;
    }
    return 1;
}
my $go = line();
my $nonce = line();
exit 125 unless defined $go && $go eq "go" && defined $nonce && length $nonce;
copy_tree($files, $box) or exit 125;
syswrite($go_w, "go\n");
close($go_w);
sub put {
    my ($fh, $data) = @_;
    while (length $data) {
        my $n = syswrite($fh, $data);
        if (!defined $n) {
            return unless $!{EINTR} || $!{EAGAIN};
            my $w = "";
            vec($w, fileno($fh), 1) = 1;
            select(undef, $w, undef, 0.1);
            next;
        }
        substr($data, 0, $n, "");
    }
}
my %from = (fileno($out_r) => [$out_r, \*STDOUT], fileno($err_r) => [$err_r, $real_err]);
my ($status, $after) = (undef, 0);
# Until both pipes end or, when children the program left behind hold them, until
# run.sh has ended and what it wrote before is copied (at most a pipe's worth each).
while (%from && $after < (4 << 20)) {
    my $rin = "";
    vec($rin, $_, 1) = 1 for keys %from;
    my $n = select(my $rout = $rin, undef, undef, defined $status ? 0 : 0.05);
    if ($n > 0) {
        for my $fd (keys %from) {
            next unless vec($rout, $fd, 1);
            my $got = sysread($from{$fd}[0], my $buf, 65536);
            if (!$got) {
                delete $from{$fd} unless !defined $got && $!{EINTR};
                next;
            }
            $after += $got if defined $status;
            put($from{$fd}[1], $buf);
        }
    } elsif (defined $status) {
        last if $n == 0;
    } elsif (waitpid($pid, 1) == $pid) {
        $status = $?;
    }
}
if (!defined $status) {
    waitpid($pid, 0);
    $status = $?;
}
my $code = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
sub first {
    my ($pattern, @files) = @_;
    for my $f (@files) {
        open(my $h, "<", $f) or next;
        local $/;
        my $text = <$h>;
        return $1 if defined $text && $text =~ $pattern;
    }
    return 0;
}
my $oom = first(qr/^oom_kill (\d+)/m, "/sys/fs/cgroup/memory/memory.oom_control",
    "/sys/fs/cgroup/memory.events");
my $forks = first(qr/^max (\d+)/m, "/sys/fs/cgroup/pids/pids.events",
    "/sys/fs/cgroup/pids.events");
my $cpu = first(qr/^(\d+)/, "/sys/fs/cgroup/cpuacct/cpuacct.usage")
    || 1000 * first(qr/^usage_usec (\d+)/m, "/sys/fs/cgroup/cpu.stat");
my $mem = first(qr/^(\d+)/, "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",
    "/sys/fs/cgroup/memory.peak");
my $end = "\0muscode-end $nonce $code $oom $forks $cpu $mem\n";
put(\*STDOUT, $end);
put($real_err, $end);
exit $code;
"""
# Extra address space over the memory limit for runtimes under RLIMIT_AS (the same
# rule as the local backend: libraries, thread stacks and malloc arenas are reserved).
_AS_FACTOR = 2
_AS_SLACK_MB = 256
# How often the CPU watchdog looks, at most and at least.
_CPU_POLL_MAX_S = 0.05
_CPU_POLL_MIN_S = 0.005
# The Engine's stats endpoint is slow (a request per sample): poll it less often.
_API_POLL_S = 0.2
# How long an idle pooled container is kept before it is replaced (image updates,
# and a bound on how long a container that is never used costs memory).
_MAX_IDLE_S = 600.0
# Pools of limit profiles that are no longer used are dropped beyond this many.
_MAX_PROFILES = 6
# Background pool refills at once (each is a create + start, ~0.2-0.5 s of dockerd).
_FILL_CONCURRENCY = 2
# Bound on how long we wait for a killed container to report its exit.
_WAIT_EXIT_S = 30
# Version probes use the default memory and processes, so they share the default pool.
_PROBE_LIMITS = Limits(cpu_time_ms=10_000, wall_time_ms=30_000)
# How long a successful image check is trusted (it costs a round trip per job).
_IMAGE_CHECK_TTL_S = 10.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = struct.Struct(">BxxxL")
_STREAM_IDS: dict[int, Stream] = {1: "stdout", 2: "stderr"}


# --------------------------------------------------------------------------- helpers


def _process_token(pid: int) -> str | None:
    """``<pid>.<start time>`` of a live process (a pid alone can be reused)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: field 22 counts from the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return f"{pid}.{fields[19].decode()}"


def _owner_alive(token: str) -> bool:
    pid, _, _start = token.partition(".")
    return pid.isdigit() and _process_token(int(pid)) == token


def _owner_of(name: str) -> str:
    """The owner token of a name made by :meth:`DockerSandbox._name` (or a dir's)."""
    return name.split("-", 1)[0]


def _write_file(
    base: Path,
    rel: PurePosixPath,
    content: bytes,
    *,
    executable: bool,
    mtime_ns: int | None = None,
) -> None:
    """Write one file below ``base`` (made by us), never following a symlink."""
    parent = base
    for part in rel.parts[:-1]:
        parent = parent / part
        try:
            parent.mkdir(mode=0o755)
        except FileExistsError:
            if parent.is_symlink() or not parent.is_dir():
                raise ValueError(f"{rel} is below something that is not a directory") from None
    mode = 0o755 if executable else 0o644
    fd = os.open(parent / rel.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # not narrowed by our umask: uid 65534 must read it
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
    finally:
        os.close(fd)


def _unpack_build(archive: bytes, files: Path, job: Job) -> None:
    """Unpack what to keep of the compile step's archive into ``files``."""
    for entry in build_entries(archive, job):
        if entry.content is not None:
            _write_file(
                files,
                entry.path,
                entry.content,
                executable=entry.executable,
                mtime_ns=entry.mtime_ns,
            )
            continue
        path = files
        for part in entry.path.parts:
            path = path / part
            if path.is_symlink():
                raise ValueError(f"{entry.path} crosses a symlink")
            if not path.exists():
                path.mkdir(mode=0o755)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link the tree ``src`` (written by us) into the empty dir ``dst``."""
    for entry in os.scandir(src):
        target = dst / entry.name
        if entry.is_dir(follow_symlinks=False):
            target.mkdir(mode=0o755)
            _link_tree(Path(entry.path), target)
        elif entry.is_file(follow_symlinks=False):
            try:
                os.link(entry.path, target, follow_symlinks=False)
            except OSError:
                shutil.copyfile(entry.path, target, follow_symlinks=False)
                shutil.copymode(entry.path, target, follow_symlinks=False)


def _sdk() -> Any:
    """The ``docker`` SDK, imported on first use: only this backend needs it. (Through
    importlib because this module is itself called ``docker``.)"""
    return importlib.import_module("docker")


# --------------------------------------------------------------------------- accounting


class _HostCgroups:
    """Reads (and removes) the per-container cgroup parents on the host's cgroupfs."""

    def __init__(self, root: Path, version: int) -> None:
        self.root = root
        self.version = version

    @classmethod
    def discover(cls, info: dict[str, Any], local: bool) -> _HostCgroups | None:
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
                if entry.is_dir() and not alive(_owner_of(entry.name)):
                    with contextlib.suppress(OSError):
                        entry.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()  # only when empty: another server may be using it


# --------------------------------------------------------------------------- pool


@dataclass(frozen=True)
class _Profile:
    """What a container's creation fixes: the pool key."""

    image: str
    memory_mb: int
    processes: int


@dataclass
class _Slot:
    """One container and its private host directory; used for exactly one run."""

    name: str
    dir: Path
    profile: _Profile
    cgroup_parent: str | None
    container_id: str | None = None
    ready_at: float = 0.0
    #: The attach socket, opened while the container idles (saves a round trip a run).
    sock: Any = None
    #: Handed to a run (never back to a pool).
    in_use: bool = False


class _Pool:
    """Started, idle containers of one profile, each handed out once."""

    def __init__(self, sandbox: DockerSandbox, profile: _Profile, size: int) -> None:
        self.sandbox = sandbox
        self.profile = profile
        self.size = size
        self.idle: deque[_Slot] = deque()
        self.filling = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def take(self) -> _Slot:
        slot: _Slot | None = None
        now = time.monotonic()
        while self.idle:
            candidate = self.idle.popleft()
            if now - candidate.ready_at < _MAX_IDLE_S and _still_idle(candidate):
                slot = candidate
                break
            self.sandbox._discard(candidate)
        self.refill()
        if slot is None:
            slot = await self.sandbox._new_slot(self.profile)
        return slot

    def refill(self) -> None:
        while not self.closed and len(self.idle) + self.filling < self.size:
            self.filling += 1
            task = asyncio.get_running_loop().create_task(self._fill_one())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _fill_one(self) -> None:
        try:
            async with self.sandbox._fill_gate():
                if self.closed:
                    return
                slot = await self.sandbox._new_slot(self.profile)
            if self.closed:
                self.sandbox._discard(slot)
            else:
                self.idle.append(slot)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The next take() creates one in the foreground and reports the error there.
            log.warning("could not refill the docker sandbox pool: %s", exc)
        finally:
            self.filling -= 1

    async def close(self) -> None:
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        await wait_ended(*self.tasks)
        while self.idle:
            self.sandbox._discard(self.idle.popleft())


def _still_idle(slot: _Slot) -> bool:
    """Whether a pooled container still waits for its go line.

    An idle container prints nothing, so anything to read on its attach socket (the
    end of the stream: the container or the engine went away, as when dockerd
    restarts) means it cannot serve a run. Costs no round trip to the engine.
    """
    if slot.sock is None:
        return True  # not attached ahead (no pool): its run attaches afresh
    raw = getattr(slot.sock, "_sock", slot.sock)
    if not isinstance(raw, socket.socket):
        return True
    try:
        raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


# --------------------------------------------------------------------------- one run


@dataclass
class _RunSpec:
    script: str
    files: Path  # the tree to show at /muscode/files
    limits: Limits
    caps: OutputCaps
    profile: _Profile
    stdin: StdinSource = b""
    on_output: OutputCallback | None = None
    #: A compile step whose container waits for the job's first run if it succeeds.
    keep: bool = False


class _Execution:
    """One container's run: attach, go, stream, enforce, kill, measure."""

    def __init__(self, sandbox: DockerSandbox, slot: _Slot, spec: _RunSpec) -> None:
        self.sandbox = sandbox
        self.slot = slot
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        assert slot.container_id is not None
        self.cid: str = slot.container_id
        self.output = OutputCapture(spec.caps, spec.on_output)
        self.kill_reason: LimitHit | None = None
        self.killed = False
        self.sock: Any = None
        self.raw: socket.socket | None = None
        self.t0 = 0.0
        self.t_end = 0.0
        self.cpu_base = 0
        self.cpu_used: int | None = None
        self.mem_base = 0
        self.mem_peak: int | None = None
        self.pids_hit = False
        #: Set when the output streams ended or the container was killed.
        self.streams_done = asyncio.Event()
        #: Set once the engine reported the container stopped.
        self.exited = False
        self.tasks: list[asyncio.Task[Any]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.kill_task: asyncio.Future[None] | None = None
        self.nonce = secrets.token_hex(8).encode()
        self.marker = _MARK + self.nonce + b" "
        self.pending: dict[Stream, bytes] = {"stdout": b"", "stderr": b""}
        #: The status each stream's end marker reported.
        self.ended: dict[Stream, int | None] = {"stdout": None, "stderr": None}
        #: The cgroup counters of the marker: OOM kills, forks refused by the pids limit.
        self.oom_kills = 0
        self.forks_refused = 0
        #: CPU ns and peak memory the container's cgroup saw, from the marker (0: unknown).
        self.inside_cpu_ns = 0
        self.inside_mem_peak = 0
        #: The container lives on, attached, for the job's first run (``spec.keep``).
        self.kept = False

    async def run(self) -> RunOutcome:
        sb = self.sandbox
        self.sock, self.slot.sock = self.slot.sock, None
        if self.sock is None:
            self.sock = await sb._call(sb._attach, self.cid)
        raw = getattr(self.sock, "_sock", self.sock)
        if not isinstance(raw, socket.socket):
            raise RuntimeError("the docker connection does not expose a socket (TLS?)")
        # Nothing can have been buffered past the upgrade response: the container is
        # idle until the go line below.
        raw.setblocking(False)
        self.raw = raw
        cg, parent = sb._cgroups, self.slot.cgroup_parent
        if cg is not None and parent is not None:
            # What PID 1's sh (and gVisor's sentry) used while idle is not the run's.
            self.cpu_base = cg.cpu_ns(parent) or 0
            self.mem_base = cg.memory_bytes(parent, peak=False) or 0
            cg.reset_peak(parent)
        self.t0 = time.monotonic()
        self.output.start()
        self.tasks.append(self.loop.create_task(self._read()))
        self.tasks.append(self.loop.create_task(self._feed_stdin()))
        self.tasks.append(self.loop.create_task(self._watch()))
        self.timer = self.loop.call_later(
            self.spec.limits.wall_time_ms / 1000, self._kill, "wall_time"
        )
        await self.streams_done.wait()
        status = self.ended["stdout"]
        # The fast path: run.sh saw the program end (and the cgroup's OOM count). A
        # SIGKILL without an OOM count asks the engine: under gVisor the host's OOM
        # killer kills a stub process, the program dies of SIGKILL, and the sandbox's
        # own cgroup files do not count it.
        if (
            not self.killed
            and status is not None
            and status == self.ended["stderr"]
            and (status != 128 + 9 or self.oom_kills > 0)
        ):
            self.exited = True
            # A build that succeeded and hit no limit: its container waits, attached,
            # for the job's first run.
            self.kept = (
                self.spec.keep
                and status == 0
                and not (self.oom_kills or self.forks_refused or self.pids_hit)
            )
            if self.kept:
                self.slot.sock, self.sock, self.raw = self.sock, None, None
            await self._stop_tasks()
            self._measure_final()
            return self._outcome({"ExitCode": status, "OOMKilled": self.oom_kills > 0})
        # The streams can end before the container does (a program that closes its
        # stdout and stderr): the wall timer and the CPU watchdog stay armed until the
        # engine says the container stopped.
        await sb._call(
            sb._api().wait, self.cid, timeout=self.spec.limits.wall_time_ms / 1000 + _WAIT_EXIT_S
        )
        self.exited = True
        if not self.killed:
            self.t_end = self.t_end or time.monotonic()
        await self._stop_tasks()
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await self.kill_task
        info = await sb._call(sb._api().inspect_container, self.cid)
        self._measure_final()
        state = dict(info.get("State") or {})
        if status is not None and status == self.ended["stderr"]:
            state["ExitCode"] = status  # the program's, even if PID 1 died after it
        return self._outcome(state)

    async def abort(self) -> None:
        """Kill and stop everything after a cancellation or an error (idempotent)."""
        self._kill(None)
        await self._stop_tasks()
        if self.kill_task is not None:
            with contextlib.suppress(Exception):
                await self.kill_task

    # -- streams

    async def _read(self) -> None:
        assert self.raw is not None
        raw = self.raw
        buf = b""
        stream: Stream | None = None
        remaining = 0
        try:
            while True:
                data = await self.loop.sock_recv(raw, 65536)
                if not data:
                    break
                buf += data
                while buf:
                    if remaining == 0:
                        if len(buf) < _HEADER.size:
                            break
                        kind, remaining = _HEADER.unpack_from(buf)
                        stream = _STREAM_IDS.get(kind)
                        buf = buf[_HEADER.size :]
                        continue
                    # Hand partial frames over at once: a huge line must meet the cap
                    # as it arrives, not after it was buffered whole.
                    piece, buf = buf[:remaining], buf[remaining:]
                    remaining -= len(piece)
                    if stream is not None:
                        self._take(stream, piece)
                    if self.killed or self.streams_done.is_set():
                        return
            for name in _STREAM_IDS.values():
                # End of the streams without a marker: what was held back is output.
                held, self.pending[name] = self.pending[name], b""
                if held and self.ended[name] is None:
                    self._accept(name, held)
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.killed:
                self.t_end = time.monotonic()
            self.streams_done.set()

    def _take(self, stream: Stream, piece: bytes) -> None:
        """Pass output on, up to this stream's end marker (which is never output)."""
        if self.ended[stream] is not None:
            return  # after the marker: what orphans of the program print as it ends
        data = self.pending[stream] + piece
        self.pending[stream] = b""
        while data:
            at = data.find(self.marker)
            if at < 0:
                break
            end = data.find(b"\n", at)
            if end < 0:
                if len(data) - at > len(self.marker) + 48:
                    at = -1  # too long for the status and counters: not a marker
                break
            fields = data[at + len(self.marker) : end].split(b" ")
            if len(fields) == 5 and all(f.isdigit() for f in fields):
                self._accept(stream, data[:at])
                self.ended[stream] = int(fields[0])
                self.oom_kills = max(self.oom_kills, int(fields[1]))
                self.forks_refused = max(self.forks_refused, int(fields[2]))
                self.inside_cpu_ns, self.inside_mem_peak = int(fields[3]), int(fields[4])
                if all(v is not None for v in self.ended.values()):
                    self.t_end = time.monotonic()
                    self.streams_done.set()
                return
            # Not ours after all: it is output.
            self._accept(stream, data[: end + 1])
            data = data[end + 1 :]
        else:
            return
        if at >= 0:
            self._accept(stream, data[:at])
            self.pending[stream] = data[at:]
            return
        # Hold back a tail that could be the start of the marker.
        zero = data.rfind(b"\0", max(0, len(data) - len(self.marker) + 1))
        if zero >= 0 and self.marker.startswith(data[zero:]):
            self._accept(stream, data[:zero])
            self.pending[stream] = data[zero:]
        else:
            self._accept(stream, data)

    def _accept(self, stream: Stream, data: bytes) -> None:
        if not self.output.accept(stream, data):
            self._kill("output")

    async def _feed_stdin(self) -> None:
        raw = self.raw
        assert raw is not None
        try:
            stdin = self.spec.stdin
            go = _GO + self.nonce + b"\n"
            if isinstance(stdin, (bytes, bytearray, memoryview)):
                await self.loop.sock_sendall(raw, go + bytes(stdin))
            else:
                await self.loop.sock_sendall(raw, go)
                async for chunk in stdin:
                    if chunk:
                        await self.loop.sock_sendall(raw, chunk)
        except (ConnectionError, OSError):
            return  # the program exited (or was killed) without reading it all
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reading the run's stdin failed")
        if self.spec.keep:
            return  # the job's first run, in this container, feeds (and ends) stdin
        # End of input: the container was created with StdinOnce, so the engine closes
        # the program's stdin when we close our half.
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)

    # -- limits

    async def _watch(self) -> None:
        """The CPU-time watchdog; on the way it samples the pids limit (and, without
        host cgroups, the Engine's stats)."""
        sb = self.sandbox
        cg, parent = sb._cgroups, self.slot.cgroup_parent
        limit_ns = self.spec.limits.cpu_time_ms * 1_000_000
        while not self.exited and not self.killed:
            wait = _API_POLL_S
            if cg is not None and parent is not None:
                used = cg.cpu_ns(parent)
                if used is not None:
                    self.cpu_used = max(0, used - self.cpu_base)
                    # One CPU of quota: at most 1 ns of CPU per ns; sleep half the rest.
                    wait = min(
                        _CPU_POLL_MAX_S, max(_CPU_POLL_MIN_S, (limit_ns - self.cpu_used) / 2e9)
                    )
                if not self.pids_hit:
                    self.pids_hit = cg.pids_limit_hit(parent, self.cid)
            else:
                sample = await sb._api_stats(self.cid)
                if sample is not None:
                    self.cpu_used, peak = sample
                    if peak is not None:
                        self.mem_peak = max(self.mem_peak or 0, peak)
            if self.cpu_used is not None and self.cpu_used > limit_ns:
                self._kill("cpu_time")
                return
            await asyncio.sleep(wait)

    def _kill(self, reason: LimitHit | None) -> None:
        """Stop the container now (idempotent); ``reason`` is the limit that fired."""
        if self.killed or self.exited:
            return
        self.killed = True
        self.kill_reason = reason
        self.t_end = time.monotonic()
        self.streams_done.set()
        # Close the attach socket *before* the kill: the engine can block a kill for a
        # minute while an attach stream is open.
        self._close_socket()
        self.kill_task = asyncio.ensure_future(self.sandbox._kill_container(self.slot))

    def _close_socket(self) -> None:
        raw, sock = self.raw, self.sock
        self.raw = self.sock = None
        if raw is not None:
            # The reader and writer may wait in sock_recv/sock_sendall on this fd: take
            # it out of the selector before the fd is closed (and maybe reused).
            with contextlib.suppress(Exception):
                self.loop.remove_reader(raw.fileno())
            with contextlib.suppress(Exception):
                self.loop.remove_writer(raw.fileno())
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                raw.close()
        if sock is not None:
            # The SDK's file object holds a reference to the socket: close it too, or
            # the fd stays open.
            with contextlib.suppress(Exception):
                sock.close()

    async def _stop_tasks(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for task in self.tasks:
            task.cancel()
        await wait_ended(*self.tasks)
        self.tasks.clear()
        self._close_socket()
        await self.output.close()  # what was already read is delivered

    # -- result

    def _measure_final(self) -> None:
        cg, parent = self.sandbox._cgroups, self.slot.cgroup_parent
        if cg is None or parent is None:
            # No host cgroupfs: the container's own view at the program's end beats the
            # Engine's last sample (it includes the idle shell's few ms and KB).
            if self.inside_cpu_ns:
                self.cpu_used = max(self.cpu_used or 0, self.inside_cpu_ns)
            if self.inside_mem_peak:
                self.mem_peak = max(self.mem_peak or 0, self.inside_mem_peak)
            return
        # The container's own cgroup is gone by now; its parent's hierarchical counters
        # still hold everything it used.
        used = cg.cpu_ns(parent)
        if used is not None:
            self.cpu_used = max(0, used - self.cpu_base)
        peak = cg.memory_bytes(parent, peak=True)
        if peak is not None:
            self.mem_peak = max(0, peak - self.mem_base)

    def _outcome(self, state: dict[str, Any]) -> RunOutcome:
        out = self.output.outcome()
        out.wall_time_ms = max(0, round((self.t_end - self.t0) * 1000))
        out.time_ms = (self.cpu_used or 0) // 1_000_000
        out.memory_kb = (self.mem_peak or 0) // 1024
        code = state.get("ExitCode")
        if self.killed:
            out.signal = 9  # our own SIGKILL through the engine
        elif isinstance(code, int) and 128 < code <= 128 + 64:
            # sh (PID 1) reports a program killed by signal N as 128+N, and so does the
            # engine when PID 1 itself is killed.
            out.signal = code - 128
        elif isinstance(code, int):
            out.exit_code = code
        hard_cpu_ms = _cpu_rlimits(self.spec.limits)[1] * 1000
        if state.get("OOMKilled"):
            out.limit_hit = "memory"
        elif self.kill_reason is not None:
            out.limit_hit = self.kill_reason
        elif out.signal == 24 or (out.signal == 9 and out.time_ms >= hard_cpu_ms):  # SIGXCPU
            out.limit_hit = "cpu_time"
        elif out.signal == 25:  # SIGXFSZ
            out.limit_hit = "file_size"
        elif self.pids_hit or self.forks_refused:
            out.limit_hit = "processes"
        if not self.killed and state.get("Error"):
            out.error = f"The container failed: {state['Error']}"
        return out


def _cpu_rlimits(limits: Limits) -> tuple[int, int]:
    """RLIMIT_CPU soft and hard seconds: the backstop behind the cgroup watchdog."""
    soft = max(1, math.ceil(limits.cpu_time_ms / 1000)) + 1
    return soft, soft + 1


# --------------------------------------------------------------------------- the backend


class DockerSandbox(Sandbox):
    """Runs each program in a fresh, locked-down container of the runner image.

    ``runtime``
        the OCI runtime dockerd uses: ``runc``, or gVisor's ``runsc`` registered in
        ``/etc/docker/daemon.json`` (``scripts/setup-docker.sh`` does that).
    ``image``
        the image for every language; None uses each language's ``image``.
    ``pool_size``
        started, idle containers kept per (image, memory, processes) profile; 0 starts
        a container per run on demand (about 0.2 s slower a run).
    ``docker_url``
        the Engine's address (default: ``DOCKER_HOST`` or the local socket). The engine
        must be on this machine: per-run directories are bind-mounted from here.
    ``work_dir_mb``
        size of each writable tmpfs in a container (``/box`` and ``/tmp``; ``/dev/shm``
        gets a quarter); all of it also counts against the memory limit.
    ``open_files``
        RLIMIT_NOFILE in the container (the JVM needs a few dozen).
    ``work_root``
        where per-run host directories are made (default: under the system temp dir).
    """

    name = "docker"

    def __init__(
        self,
        *,
        runtime: str = "runc",
        image: str | None = None,
        pool_size: int = 2,
        docker_url: str | None = None,
        work_dir_mb: int = 64,
        open_files: int = 256,
        work_root: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.image = image
        self.pool_size = max(0, pool_size)
        self.docker_url = docker_url
        self.work_dir_mb = work_dir_mb
        self.open_files = open_files
        self._work_root_arg = work_root
        self._owner = _process_token(os.getpid()) or f"{os.getpid()}.0"
        self._instance = secrets.token_hex(4)
        self._token = f"{self._owner}-{self._instance}"
        self._client: Any = None
        self._cgroups: _HostCgroups | None = None
        self._root: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._init_lock: asyncio.Lock | None = None
        self._pools: OrderedDict[_Profile, _Pool] = OrderedDict()
        self._gate: asyncio.Semaphore | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._versions: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._counter = 0
        self._counter_lock = threading.Lock()
        # Every container this instance created and has not removed, by id: what stop()
        # and the exit hook remove even if the loop that made it is gone.
        self._live: dict[str, _Slot] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._atexit_registered = False
        self._images_ok: dict[str, float] = {}
        #: Container creations under way (in threads): stop() waits for them.
        self._creating: set[asyncio.Future[_Slot]] = set()

    # -- the contract

    async def start(self) -> None:
        await self._ensure_init()
        if self.pool_size:
            # Warm the default profile of the default image: the common case.
            default = Limits()
            self._pool(_Profile(self.image or DEFAULT_IMAGE, default.memory_mb, default.processes))

    async def stop(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        same_loop = self._loop is asyncio.get_running_loop()
        for pool in pools:
            if same_loop:
                await pool.close()
            else:
                pool.closed = True  # its tasks died with their loop; the sweep below
        # A refill cancelled above still creates its container in a thread, and removes
        # it once made: wait for both, so that nothing is half removed when we return.
        for _ in range(5):
            pending = [f for f in (*self._creating, *self._background) if not f.done()]
            if not pending or not same_loop:
                break
            await asyncio.wait(pending, timeout=60)
            await asyncio.sleep(0)  # the done-callbacks may start removals
        if self._client is not None:
            await self._call(self._remove_all_owned)
            if self._root is not None:
                await self._call(remove_tree, self._root)
            if self._cgroups is not None:
                mine = self._owner
                await self._call(self._cgroups.sweep, lambda o: o != mine and _owner_alive(o))
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None
        self._root = None
        self._loop = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def leftover_containers(self) -> list[str]:
        """Names of this sandbox's containers that are not idle in its pool.

        Between jobs this is empty: every run's container is removed when its job ends.
        (For tests and health checks; pooled, never-used containers are not leftovers.)
        """
        if self._client is None:
            return []
        listed = await self._call(
            self._api().containers,
            all=True,
            filters={"label": f"{INSTANCE_LABEL}={self._instance}"},
        )
        pooled = {f"muscode-{slot.name}" for slot in list(self._live.values()) if not slot.in_use}
        names = [(c.get("Names") or ["?"])[0].lstrip("/") for c in listed]
        return sorted(name for name in names if name not in pooled)

    async def check(self) -> str | None:
        try:
            await self._ensure_init()
            # Asked every time (a millisecond): the image check below is cached.
            await self._call(self._api().ping)
        except SandboxUnavailable as exc:
            return str(exc)
        except Exception as exc:
            return (
                f"The Docker engine is not answering ({exc}); "
                "start it with scripts/setup-docker.sh."
            )
        return await self._check_image(self.image or DEFAULT_IMAGE)

    async def language_version(self, language: Language) -> str | None:
        if not language.version:
            return None
        image = self.image or language.image
        key = (image, language.version)
        if key in self._versions:
            return self._versions[key]
        try:
            await self._ensure_init()
        except SandboxUnavailable:
            return None
        if await self._check_image(image) is not None:
            return None  # not cached: the image may be built later
        job = Job(language=language, files=(), main=language.main_path())
        limits = _PROBE_LIMITS
        argv = language.command(
            language.version, main=job.main, heap_mb=heap_mb_for(limits.memory_mb)
        )
        job_dir = await self._call(self._make_job_dir)
        try:
            outcome, _ = await self._run_in_container(
                job,
                argv,
                files=job_dir / "files",
                limits=limits,
                caps=OutputCaps(total=limits.output_kb * 1024),
                stdin=b"",
                on_output=None,
            )
        finally:
            await self._call(remove_tree, job_dir)
        version = probed_version(outcome)
        if version is not None:  # a miss is probed again next time
            self._versions[key] = version
        return version

    @contextlib.asynccontextmanager
    async def prepare(self, job: Job) -> AsyncIterator[Program]:
        await self._ensure_init()
        image = self.image or job.language.image
        problem = await self._check_image(image)
        if problem is not None:
            raise SandboxUnavailable(problem)
        job_dir = await self._call(self._make_job_dir)
        program = _DockerProgram(self, job, job_dir)
        try:
            await self._call(self._write_sources, job, job_dir / "files")
            if job.language.compiled:
                program.compile = await self._compile(program)
            yield program
        finally:
            # Shielded: a second cancellation must not leave the job's files behind.
            await asyncio.shield(self._end_job(program, job_dir))

    async def _end_job(self, program: _DockerProgram, job_dir: Path) -> None:
        # Every container of the job is gone before the job is.
        await self._drop_kept(program)
        if program.cleanups:
            await asyncio.wait(program.cleanups)
        await self._call(remove_tree, job_dir)

    # -- initialisation

    async def _ensure_init(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new event loop (asyncio.run per test): the old loop's pools, runs and
            # tasks died with it. Remove every container this instance made, start afresh.
            for pool in self._pools.values():
                pool.closed = True
            self._pools.clear()
            had_loop = self._loop is not None
            self._loop = loop
            self._init_lock = asyncio.Lock()
            self._gate = asyncio.Semaphore(_FILL_CONCURRENCY)
            self._background = set()
            if had_loop and self._client is not None:
                await self._call(self._remove_all_owned)
        if self._client is not None:
            return
        assert self._init_lock is not None
        async with self._init_lock:
            if self._client is not None:
                return
            if self._executor is None:
                # Our own threads: pool refills (0.2-0.5 s each) must not starve the
                # application's default executor, nor the other way round.
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=16, thread_name_prefix="muscode-docker"
                )
            client, info = await self._call(self._connect)
            local = self._is_local()
            self._cgroups = _HostCgroups.discover(info, local)
            runtimes = info.get("Runtimes") or {}
            if self.runtime not in runtimes:
                with contextlib.suppress(Exception):
                    client.close()
                raise SandboxUnavailable(
                    f"The Docker engine has no {self.runtime!r} runtime "
                    f"(it has: {', '.join(sorted(runtimes)) or 'none'}); "
                    "scripts/setup-docker.sh registers runsc."
                )
            self._root = await self._call(self._make_root)
            self._client = client
            await self._call(self._sweep)
            if not self._atexit_registered:
                atexit.register(self._remove_all_owned_quietly)
                self._atexit_registered = True

    def _connect(self) -> tuple[Any, dict[str, Any]]:
        docker = _sdk()
        try:
            if self.docker_url:
                client = docker.APIClient(base_url=self.docker_url, version="auto", timeout=60)
            else:
                client = docker.from_env(version="auto", timeout=60).api
            info = client.info()
        except Exception as exc:
            where = self.docker_url or os.environ.get("DOCKER_HOST") or "the local socket"
            raise SandboxUnavailable(
                f"The Docker engine is unreachable at {where} ({exc}); "
                "start it with scripts/setup-docker.sh."
            ) from exc
        return client, info

    def _is_local(self) -> bool:
        url = self.docker_url or os.environ.get("DOCKER_HOST") or "unix://"
        return url.startswith(("unix://", "http+unix://"))

    def _make_root(self) -> Path:
        if self._work_root_arg is not None:
            base = Path(self._work_root_arg)
            base.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(tempfile.gettempdir()) / f"muscode-docker-{os.getuid()}"
            with contextlib.suppress(FileExistsError):
                base.mkdir(mode=0o700)
            st = os.lstat(base)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                raise SandboxUnavailable(f"{base} is not a directory of ours")
        # Only we (and the engine, as root) need to reach the per-run directories; the
        # containers see their own directory through the bind mount alone.
        base.chmod(0o700)
        root = base / self._token
        root.mkdir(mode=0o700, exist_ok=True)
        return root

    def _api(self) -> Any:
        if self._client is None:
            raise SandboxUnavailable("the docker sandbox is stopped")
        return self._client

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (the SDK, file work) in our threads."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def _check_image(self, image: str) -> str | None:
        docker = _sdk()
        checked = self._images_ok.get(image)
        if checked is not None and time.monotonic() - checked < _IMAGE_CHECK_TTL_S:
            return None
        try:
            await self._call(self._api().inspect_image, image)
        except docker.errors.ImageNotFound:
            if image.split(":")[0] == DEFAULT_IMAGE.split(":")[0]:
                return (
                    f"The runner image {image} is missing: build it with "
                    "`bash docker/build-images.sh` (or scripts/setup-docker.sh)."
                )
            return f"The image {image} is missing: pull or build it on the Docker host."
        except Exception as exc:
            return f"The Docker engine cannot be asked for image {image}: {exc}"
        self._images_ok[image] = time.monotonic()
        return None

    # -- leftovers

    def _sweep(self) -> None:
        """Remove what crashed MUSCode processes left behind: containers, dirs, cgroups."""
        api = self._api()
        for info in api.containers(all=True, filters={"label": f"{LABEL}=1"}):
            owner = (info.get("Labels") or {}).get(OWNER_LABEL, "")
            if owner == self._owner or _owner_alive(owner):
                continue  # ours, or a live server's (several workers share one engine)
            with contextlib.suppress(Exception):
                api.remove_container(info["Id"], force=True)
        assert self._root is not None
        for entry in self._root.parent.iterdir():
            owner = _owner_of(entry.name)
            if owner != self._owner and not _owner_alive(owner):
                remove_tree(entry)
        if self._cgroups is not None:
            self._cgroups.sweep(lambda owner: owner == self._owner or _owner_alive(owner))

    def _remove_all_owned(self) -> None:
        if self._client is None:
            return
        api = self._client
        mine = {"label": f"{INSTANCE_LABEL}={self._instance}"}
        with contextlib.suppress(Exception):
            for info in api.containers(all=True, filters=mine):
                with contextlib.suppress(Exception):
                    api.remove_container(info["Id"], force=True)
        for slot in list(self._live.values()):
            self._remove_slot(slot)
        # A removal another thread started may still be under way in the engine.
        deadline = time.monotonic() + 15
        with contextlib.suppress(Exception):
            while api.containers(all=True, filters=mine) and time.monotonic() < deadline:
                time.sleep(0.05)

    def _remove_all_owned_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._remove_all_owned()

    # -- slots (containers)

    def _pool(self, profile: _Profile) -> _Pool:
        pool = self._pools.get(profile)
        if pool is None:
            pool = _Pool(self, profile, self.pool_size)
            self._pools[profile] = pool
            while len(self._pools) > _MAX_PROFILES:
                _, old = self._pools.popitem(last=False)
                self._track(asyncio.ensure_future(old.close()))
        self._pools.move_to_end(profile)
        pool.refill()
        return pool

    def _fill_gate(self) -> asyncio.Semaphore:
        assert self._gate is not None
        return self._gate

    def _track(self, future: asyncio.Future[Any]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    async def _take(self, profile: _Profile) -> _Slot:
        if self.pool_size:
            return await self._pool(profile).take()
        return await self._new_slot(profile)

    async def _new_slot(self, profile: _Profile) -> _Slot:
        made = asyncio.ensure_future(self._call(self._create_slot, profile))
        self._creating.add(made)
        made.add_done_callback(self._creating.discard)
        try:
            return await asyncio.shield(made)
        except asyncio.CancelledError:
            # The thread goes on creating the container: remove it once it exists.
            def discard(done: asyncio.Future[_Slot]) -> None:
                if not done.cancelled() and done.exception() is None:
                    self._discard(done.result())

            made.add_done_callback(discard)
            raise

    def _create_slot(self, profile: _Profile) -> _Slot:
        docker = _sdk()
        assert self._root is not None
        with self._counter_lock:
            self._counter += 1
            name = f"{self._token}-{self._counter}"
        slot_dir = self._root / f"slot-{self._counter}"
        slot_dir.mkdir(mode=0o755)
        slot_dir.chmod(0o755)  # the mount's root: uid 65534 lists it in the container
        idle_command = _IDLE_COMMAND
        if self._relays:
            relay = slot_dir / "relay.pl"
            relay.write_text(_RELAY)
            relay.chmod(0o644)
            idle_command = [
                "perl",
                f"{CONTROL}/relay.pl",
                f"{CONTROL}/run.sh",
                f"{CONTROL}/files",
                BOX,
            ]
        parent = f"/{CGROUP_ROOT}/{name}" if self._cgroups is not None else None
        slot = _Slot(name=name, dir=slot_dir, profile=profile, cgroup_parent=parent)
        api = self._api()
        # Under gVisor the sandbox's kernel and the relay share this limit with the
        # program: it is raised by (a little less than) what they use idle, and the run's
        # memory is reported above what the idle container used.
        mem = profile.memory_mb * 1024 * 1024
        if self.runtime == "runsc":
            mem += _RUNSC_IDLE_MB * 1024 * 1024
        work = self.work_dir_mb
        pids = profile.processes + _PIDS_OVERHEAD
        if self.runtime == "runsc":
            pids = max(_RUNSC_MIN_PIDS, _RUNSC_PIDS_PER_PROCESS * pids)
        # RLIMIT_FSIZE here is only a ceiling: run.sh lowers it to the run's limit.
        fsize = work * 1024 * 1024
        host_config = api.create_host_config(
            network_mode="none",
            read_only=True,
            runtime=self.runtime,
            binds={str(slot_dir): {"bind": CONTROL, "mode": "ro"}},
            tmpfs={
                BOX: f"rw,exec,nosuid,nodev,size={work}m,nr_inodes=16384,"
                f"mode=0700,uid={SANDBOX_UID},gid={SANDBOX_GID}",
                "/tmp": f"rw,noexec,nosuid,nodev,size={work}m,nr_inodes=16384,mode=1777",  # noqa: S108
            },
            shm_size=max(1, work // 4) * 1024 * 1024,
            ipc_mode="private",
            mem_limit=mem,
            memswap_limit=mem,  # equal: no swap
            pids_limit=pids,
            cpu_period=100_000,
            cpu_quota=100_000,  # one CPU
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[
                docker.types.Ulimit(name="nofile", soft=self.open_files, hard=self.open_files),
                docker.types.Ulimit(name="core", soft=0, hard=0),
                docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize),
            ],
            log_config=docker.types.LogConfig(type="none"),
            cgroup_parent=parent,
            oom_score_adj=1000,  # if the host runs short, the sandbox dies first
        )
        self._live[name] = slot
        try:
            created = api.create_container(
                profile.image,
                idle_command,
                user=f"{SANDBOX_UID}:{SANDBOX_GID}",
                working_dir=BOX,
                hostname="muscode",
                stdin_open=True,  # with attach: StdinOnce, our close is the program's EOF
                network_disabled=True,
                environment={
                    "PATH": SANDBOX_PATH,
                    "LANG": "C.UTF-8",
                    "LC_ALL": "C.UTF-8",
                    "HOME": "/tmp",  # noqa: S108 - the container's private tmpfs
                    "TMPDIR": "/tmp",  # noqa: S108
                },
                name=f"muscode-{slot.name}",
                # Nothing in it needs a clean stop: a docker stop (or dockerd shutting
                # down) kills it at once instead of waiting 10 s for PID 1.
                stop_signal="SIGKILL",
                labels={LABEL: "1", OWNER_LABEL: self._owner, INSTANCE_LABEL: self._instance},
                host_config=host_config,
            )
            slot.container_id = created["Id"]
            api.start(slot.container_id)
            if self.pool_size:
                slot.sock = self._attach(slot.container_id)
        except Exception:
            self._remove_slot(slot)
            raise
        slot.ready_at = time.monotonic()
        return slot

    def _attach(self, cid: str) -> Any:
        return self._api().attach_socket(
            cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )

    def _remove_slot(self, slot: _Slot) -> None:
        """Remove the container, its host dir and its cgroup parent (blocking)."""
        docker = _sdk()
        if slot.sock is not None:
            # Closed before the removal: the engine stalls on a container with an open
            # attach stream.
            with contextlib.suppress(Exception):
                slot.sock.close()
            slot.sock = None
        if slot.container_id is not None and self._client is not None:
            try:
                self._client.remove_container(slot.container_id, force=True)
            except docker.errors.NotFound:
                pass
            except Exception as exc:
                if "already in progress" not in str(exc):
                    log.warning("could not remove container %s: %s", slot.container_id, exc)
                    return  # keep it in _live: stop() and the exit hook try again
        self._live.pop(slot.name, None)
        remove_tree(slot.dir)
        if self._cgroups is not None and slot.cgroup_parent is not None:
            # The runtime removes the container's own cgroup as it stops; give it a moment.
            for _ in range(20):
                if self._cgroups.remove(slot.cgroup_parent):
                    break
                time.sleep(0.01)

    def _discard(self, slot: _Slot) -> None:
        """Remove an unused slot in the background."""
        self._track(asyncio.ensure_future(self._call(self._remove_slot, slot)))

    async def _kill_container(self, slot: _Slot) -> None:
        docker = _sdk()
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            await self._call(self._api().kill, slot.container_id)

    async def _api_stats(self, cid: str) -> tuple[int, int | None] | None:
        """(CPU ns, peak memory bytes) from the Engine, or None when it has none."""
        try:
            stats = await self._call(self._api().stats, cid, stream=False, one_shot=True)
        except Exception:
            return None
        cpu = (stats.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
        memory = stats.get("memory_stats") or {}
        if not cpu:
            return None
        return int(cpu), memory.get("max_usage") or memory.get("usage")

    # -- jobs

    def _make_job_dir(self) -> Path:
        assert self._root is not None
        job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=self._root))
        (job_dir / "files").mkdir(mode=0o755)
        return job_dir

    def _write_sources(self, job: Job, files: Path) -> None:
        for source in job.files:
            _write_file(files, _safe_relpath(source.path), source.content, executable=False)

    def _script(
        self,
        job: Job,
        argv: list[str],
        limits: Limits,
        *,
        compile_step: bool,
        then_wait: bool = False,
        copy_files: bool = True,
    ) -> str:
        """The shell script PID 1 runs for one step. ``then_wait``: a compile step whose
        container, once the build succeeded, waits for the job's first run
        (``next.sh``) instead of ending. ``copy_files``: False for that run, whose
        files (and build) are already in the work dir."""
        soft, hard = _cpu_rlimits(limits)
        lines = ["# Written by MUSCode for one run; PID 1 of the container runs it."]
        if not self._relays and copy_files:
            # Copies keep the build's timestamps: every run of a job sees the same
            # artefact, as it would in the compiler's own directory. (The relay copies
            # them itself.)
            lines.append(f"cp -R --preserve=mode,timestamps {CONTROL}/files/. {BOX}/ || exit 125")
        limit_at = len(lines)
        lines += [
            # RLIMIT_CPU per process: the backstop behind the cgroup CPU watchdog.
            f"ulimit -S -t {soft}",
            f"ulimit -H -t {hard}",
            f"ulimit -f {max(1, limits.file_size_kb * 2)}",  # 512-byte blocks
        ]
        if not manages_own_heap(job.language):
            # A huge allocation fails at once (MemoryError, bad_alloc, NULL) instead of
            # succeeding untouched; the cgroup bounds what is actually used.
            address_space_kb = (limits.memory_mb * _AS_FACTOR + _AS_SLACK_MB) * 1024
            lines.append(f"ulimit -v {address_space_kb}")
        if self.runtime == "runsc":
            # gVisor counts processes per sandbox; the host pids limit counts its threads.
            lines.append(f"ulimit -p {limits.processes + _PIDS_OVERHEAD}")
        for key, value in job.language.env.items():
            if not _ENV_NAME.fullmatch(key):
                raise ValueError(f"invalid environment variable name {key!r}")
            lines.append(f"export {key}={shlex.quote(value)}")
        command = " ".join(shlex.quote(part) for part in argv)
        if then_wait and not self._relays:
            return self._build_then_wait(lines, limit_at, command)
        if self._relays:
            # PID 1 (the relay) read the nonce and writes the end markers; stdout and
            # stderr are its pipes.
            if compile_step:
                lines += [
                    "exec 3>&2 2>/dev/null",
                    f"(exec {command} >&3 2>&3 3>&-) && exec {_TAR_BOX} 2>&3 3>&-",
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
            lines.append(f"(exec {command} >&3 2>&3 3>&-) && (exec {_TAR_BOX} 2>&3 3>&-)")
        else:
            lines.append(f"(exec {command} 2>&3 3>&-)")
        lines += ["MUSCODE_STATUS=$?", *_COUNTERS_SCRIPT]
        lines += [_END_LINE, f"{_END_LINE} >&3", 'exit "$MUSCODE_STATUS"']
        return "\n".join(lines) + "\n"

    @staticmethod
    def _build_then_wait(lines: list[str], limit_at: int, command: str) -> str:
        """A compile step that hands its container on to the job's first run.

        The limits and environment apply to the compiler only (a subshell), so that
        the run sets its own; nothing reads the live stdin (kept open for the run).
        After a build that succeeded, every process but PID 1 is killed (as uid 65534,
        ``kill -1`` reaches all of them: nothing the compiler started lives on), fd 2
        is restored, and PID 1 waits for the next go line to run ``next.sh``.
        """
        head, limits = lines[:limit_at], lines[limit_at:]
        out = [head[0], "read -r MUSCODE_NONCE || exit 125", *head[1:]]
        out.append("exec 3>&2 2>/dev/null")
        build = "; ".join([*limits, f"exec {command} </dev/null >&3 2>&3 3>&-"])
        out.append(f"({build}) && (exec {_TAR_BOX} </dev/null 2>&3 3>&-)")
        out += ["MUSCODE_STATUS=$?", *_COUNTERS_SCRIPT]
        out += [
            _END_LINE,
            f"{_END_LINE} >&3",
            '[ "$MUSCODE_STATUS" = 0 ] || exit "$MUSCODE_STATUS"',
            "kill -s KILL -- -1",
            "exec 2>&3 3>&-",
            "read -r go || exit 125",
            f"exec /bin/sh {CONTROL}/next.sh",
        ]
        return "\n".join(out) + "\n"

    @property
    def _relays(self) -> bool:
        """Whether PID 1 of a container is the output relay (under gVisor)."""
        return self.runtime == "runsc"

    async def _run_in_container(
        self,
        job: Job,
        argv: list[str],
        *,
        files: Path,
        limits: Limits,
        caps: OutputCaps,
        stdin: StdinSource,
        on_output: OutputCallback | None,
        compile_step: bool = False,
        cleanups: set[asyncio.Future[None]] | None = None,
        keep: bool = False,
        reuse: _Slot | None = None,
    ) -> tuple[RunOutcome, _Slot | None]:
        """Run ``argv`` in a fresh container, or in ``reuse`` (a build's container that
        waits for the job's first run; removed here if it cannot take this run).

        The container's removal is awaited here, or, when ``cleanups`` is given and the
        run ended normally, added to it (the job awaits those as it ends, so a job's
        runs and removals overlap). With ``keep`` (a compile step), a build that
        succeeded leaves its container waiting and returns it, to be reused or removed
        by the caller; otherwise the second item is None.
        """
        profile = _Profile(self.image or job.language.image, limits.memory_mb, limits.processes)
        spec = _RunSpec(
            script=self._script(
                job,
                argv,
                limits,
                compile_step=compile_step,
                then_wait=keep,
                copy_files=reuse is None,
            ),
            files=files,
            limits=limits,
            caps=caps,
            profile=profile,
            stdin=stdin,
            on_output=on_output,
            keep=keep,
        )
        slot = None
        if reuse is not None:
            slot = await self._ready_for_run(reuse, spec)
            if slot is None:  # it cannot take this run: a fresh container can
                spec.script = self._script(job, argv, limits, compile_step=compile_step)
        if slot is None:
            try:
                slot = await self._take(profile)
            except _sdk().errors.ImageNotFound as exc:
                raise SandboxUnavailable(str(exc)) from exc
            except importlib.import_module("requests").exceptions.ConnectionError as exc:
                raise SandboxUnavailable(f"The Docker engine is not answering ({exc}).") from exc
            slot.in_use = True
            await self._call(self._fill_slot, slot, spec)
        execution: _Execution | None = None
        removal: asyncio.Future[None] | None = None
        handed_on = False
        try:
            execution = _Execution(self, slot, spec)
            outcome = await execution.run()
            if execution.kept:
                handed_on = True
                return outcome, slot
            if cleanups is not None:
                removal = asyncio.ensure_future(self._call(self._remove_slot, slot))
                cleanups.add(removal)
                self._track(removal)
            return outcome, None
        except asyncio.CancelledError:
            if execution is not None:
                await asyncio.shield(execution.abort())
            raise
        except Exception as exc:
            if execution is not None:
                await execution.abort()
            docker = _sdk()
            if isinstance(exc, docker.errors.ImageNotFound):
                raise SandboxUnavailable(str(exc)) from exc
            log.exception("docker sandbox run failed")
            return RunOutcome(error=f"The docker sandbox failed: {exc}"), None
        finally:
            if removal is None and not handed_on:
                # Awaited even when the run was cancelled: nothing may outlive it.
                await asyncio.shield(self._call(self._remove_slot, slot))

    async def _ready_for_run(self, slot: _Slot, spec: _RunSpec) -> _Slot | None:
        """Make a build's waiting container ready for the job's first run: the run's
        memory limit and its script. None (and the container removed) if it cannot take
        the run: another pids limit, or the engine refused the new memory limit."""
        try:
            if slot.profile.processes != spec.profile.processes:
                raise ValueError("the run has another process limit than the build")
            await self._call(self._set_run_limits, slot, spec)
        except BaseException as exc:
            # Removed even when the run is cancelled here: nothing may outlive it.
            await asyncio.shield(self._call(self._remove_slot, slot))
            if not isinstance(exc, Exception):
                raise
            log.debug("a fresh container for the run: %s", exc)
            return None
        return slot

    def _set_run_limits(self, slot: _Slot, spec: _RunSpec) -> None:
        if slot.profile.memory_mb != spec.profile.memory_mb:
            mem = spec.profile.memory_mb * 1024 * 1024
            self._api().update_container(slot.container_id, mem_limit=mem, memswap_limit=mem)
            slot.profile = spec.profile
        script = slot.dir / "next.sh"
        script.write_text(spec.script)
        script.chmod(0o644)

    def _fill_slot(self, slot: _Slot, spec: _RunSpec) -> None:
        files = slot.dir / "files"
        files.mkdir(mode=0o755)
        _link_tree(spec.files, files)
        script = slot.dir / "run.sh"
        script.write_text(spec.script)
        script.chmod(0o644)

    async def _compile(self, program: _DockerProgram) -> CompileOutcome:
        """Build the job in a container. Where the host reads the containers' cgroups
        (so the run's CPU and memory are told apart from the build's) and no relay is
        PID 1, a build that succeeds keeps its container, waiting, for the job's first
        run: one container fewer per run of a compiled language."""
        job, files = program.job, program.job_dir / "files"
        limits = job.compile_limits
        # The archive of a full work dir, plus the headers of many small files.
        tar_cap = (2 * self.work_dir_mb + 1) * 1024 * 1024
        outcome, kept = await self._run_in_container(
            job,
            compile_command(job),
            files=files,
            limits=limits,
            caps=OutputCaps(stdout=tar_cap, stderr=limits.output_kb * 1024),
            stdin=b"",
            on_output=None,
            compile_step=True,
            cleanups=program.cleanups,
            keep=not self._relays and self._cgroups is not None,
        )
        program.kept = kept
        archive, outcome.stdout = outcome.stdout, b""

        async def collect() -> None:
            await self._call(_unpack_build, archive, files, job)

        result = await compile_result(outcome, outcome.stderr, limits, collect)
        if not result.ok:
            await self._drop_kept(program)
        return result

    async def _drop_kept(self, program: _DockerProgram) -> None:
        """Remove the build's waiting container if no run took it."""
        kept, program.kept = program.kept, None
        if kept is not None:
            await asyncio.shield(self._call(self._remove_slot, kept))


class _DockerProgram(SandboxProgram):
    def __init__(self, sandbox: DockerSandbox, job: Job, job_dir: Path) -> None:
        super().__init__(job)
        self.sandbox = sandbox
        self.job_dir = job_dir
        #: Removals of this job's finished containers, awaited when the job ends.
        self.cleanups: set[asyncio.Future[None]] = set()
        #: The build's container, waiting for the job's first run.
        self.kept: _Slot | None = None

    async def _run(
        self,
        argv: list[str],
        stdin: StdinSource,
        limits: Limits,
        caps: OutputCaps,
        on_output: OutputCallback | None,
    ) -> RunOutcome:
        reuse, self.kept = self.kept, None
        outcome, _ = await self.sandbox._run_in_container(
            self.job,
            argv,
            files=self.job_dir / "files",
            limits=limits,
            caps=caps,
            stdin=stdin,
            on_output=on_output,
            cleanups=self.cleanups,
            reuse=reuse,
        )
        return outcome
