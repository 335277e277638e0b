"""The Docker sandbox: every run in its own throw-away container, through the Engine API.

How one run goes, and why:

- **One container per run** (and one per compile step), used once and removed. Runs share
  nothing but the read-only image. The one exception: under runc with host cgroups, a
  compiled job's first run takes over its build's container (``jobs.py``):
  the compiler's limits apply in a subshell, a successful build ends with every
  process but PID 1 killed, the engine lowers the memory limit to the run's, and PID 1
  waits for the go line of ``next.sh``. A C run costs one container instead of two.
  Every container has no network, a read-only root, a size-capped tmpfs work dir
  (``/box``, the cwd) and ``/tmp``, a memory limit with no swap, a pids limit, one CPU,
  no capabilities, ``no-new-privileges``, uid 65534, ulimits, the ``none`` log driver (a
  flood would otherwise fill the json log on the host disk) and the label
  ``muscode.sandbox=1`` (``containers.py``).
- **Latency**: ``docker start`` alone costs about 0.2 s (runc's and the shim's set-up),
  most of a plain ``docker run``. So the pool keeps containers that are *already started*
  and idle: their PID 1 is ``sh -c 'read -r go && exec sh /muscode/run.sh'``, blocked on
  stdin. A run writes its script and files into that container's private host directory
  (bind-mounted read-only at ``/muscode``), attaches, and sends the go line; the rest of
  stdin is the program's. Each pooled container serves exactly one run; the pool refills
  in the background. Container-level limits are fixed at creation, so pools are keyed by
  (image, memory, processes) (``pool.py``); the per-run limits (CPU seconds, file size,
  address space, and under gVisor the process count) are set by ``run.sh`` with
  ``ulimit`` (``scripts.py``).
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
  block for a minute) (``attach.py``).
- **The end**: once the program has exited, ``run.sh`` writes an end marker (with a
  per-run nonce) on both streams: the program's output ends there. The result comes
  from channels the program cannot write: the exit status, the OOM kill and the time
  the container stopped from the engine (wait, inspect), CPU time, peak memory and the
  pids limit from the host's cgroups; a SIGKILL nobody sent, with the container's peak
  at its memory limit, is an OOM kill even when the engine's OOM event came too late
  (it races with the exit, under gVisor more often). PID 1 runs as the program's uid,
  so a program can read its memory and learn the nonce: a forged marker only ends its
  own output.
  A run's container is removed in the background; the job awaits every removal before
  its context exits, so a job's runs and removals overlap but nothing outlives the job.
- **Accounting**: when this process can read the host's cgroupfs (root, cgroupfs driver),
  each container gets its own cgroup parent ``/muscode.docker/<slot>``; its hierarchical
  counters survive the container's own cgroup, which the runtime deletes at exit, so CPU
  time and peak memory are exact after the run, and a watchdog polls the CPU counter.
  Otherwise the watchdog polls the Engine's stats (runc only: gVisor's shim reports
  none) and its last samples are the final figures (``cgroups.py``).
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
  small output relay instead of sh (``relay.py``): a write to a host pipe returns short
  under gVisor, and programs that do not retry would lose output.

``sandbox.py`` holds :class:`DockerSandbox` itself (its settings, its connection to the
engine, ``client.py``, and what it owns there, ``owners.py``).
"""

from .sandbox import DEFAULT_IMAGE, DockerSandbox

__all__ = ["DEFAULT_IMAGE", "DockerSandbox"]
