"""The local sandbox: bubblewrap namespaces, cgroup v1 limits and rlimits, host runtimes.

How one run is started (every step ``exec``\\s the next, so it is one process id)::

    sh (a launcher, parked ahead)    joins the run's cgroups              launchers.py
    -> setpriv --reuid=65534 ...     (only when the server runs as root)
    -> sh                            waits for one line on stdin: the path of a
                                     host-written script, which sets the run's rlimits
                                     with ``ulimit`` (CPU, file size, open files, core,
                                     [address space], [processes]) and then  scripts.py
    -> bwrap --unshare-all ...       (fresh namespaces, read-only system, tmpfs work dir,
                                     seccomp filter)                      bwrap.py, seccomp.py
    -> the language's command

Why this shape:

- The uid is dropped *before* bwrap: bwrap started by root with ``--uid`` maps the
  sandbox user to root outside the namespace. Neither it nor the rlimits cost an exec
  on a run's critical path: the uid is dropped while the launcher is parked, and the
  limits are set by the shell's own ``ulimit`` (setting them from outside, with
  prlimit(2), would need CAP_SYS_RESOURCE, which containers often lack).
- Processes are put into their cgroups (``cgroups.py``) by the launcher itself, before
  anything runs, so no child can be forked outside them (cgroup v1 has no
  ``CLONE_INTO_CGROUP``). A few launchers are started ahead of time: on cgroup v1 the
  first migration after a pause waits for an RCU grace period (10-15 ms here), the
  largest cost of a run.
- bwrap runs the program under a pid-1 init in a new pid namespace with
  ``--die-with-parent``: when the program exits, or when we SIGKILL bwrap, the kernel
  kills everything left in that namespace (daemons, ``setsid`` children, stopped
  processes). The cgroup kill (freeze, SIGKILL, thaw) is the second line
  (``process.py``).
- Compiled output never lands on the host disk from inside the sandbox: the compiler
  works in a size-capped tmpfs and the result is streamed out as a tar archive, which
  the host unpacks (regular files and directories only) into the job's private
  directory (``workdirs.py``, ``..archives``). Runs see that directory read-only, bound
  file by file into a fresh size-capped tmpfs.

``sandbox.py`` holds :class:`LocalSandbox` itself: its settings and a job's life.
"""

from .sandbox import LocalProgram, LocalSandbox

__all__ = ["LocalProgram", "LocalSandbox"]
