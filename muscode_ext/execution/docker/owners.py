"""Who owns what the Docker backend leaves on the engine and the host: containers,
per-run directories and cgroups carry the owning MUSCode process's token,
``<pid>.<process start time>[.<PID namespace>]`` (a pid alone can be reused; in a
container, pids are the container's own), so that a server sweeps
what dead servers left behind and never touches a live one's (several workers may
share one engine)."""

from __future__ import annotations

import os

#: Every container MUSCode creates carries this label (tests and sweeps look for it).
LABEL = "muscode.sandbox"
#: Which live MUSCode process owns the container: its token.
OWNER_LABEL = "muscode.owner"
#: Which DockerSandbox instance in that process (several may share one engine).
INSTANCE_LABEL = "muscode.instance"


#: The PID namespace of the host's own processes (the kernel's PROC_PID_INIT_INO).
HOST_PID_NAMESPACE = "4026531836"


def pid_namespace() -> str:
    """This process's PID namespace, "" for the host's (or where it cannot be read)."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    namespace = link[link.find("[") + 1 : link.rfind("]")]
    return "" if namespace == HOST_PID_NAMESPACE else namespace


def process_token(pid: int) -> str | None:
    """``<pid>.<start time>`` of a live process (a pid alone can be reused), and
    ``.<PID namespace>`` in a container, where pids are the container's own."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: field 22 counts from the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    namespace = pid_namespace()
    return f"{pid}.{fields[19].decode()}" + (f".{namespace}" if namespace else "")


def owner_alive(token: str) -> bool:
    """Whether the owner of ``token`` may still be running. One in another PID namespace
    (a worker in another container, or a server on the host seen from a container, on
    the same engine) cannot be looked up from here: it counts as alive, and cleans up
    after itself."""
    pid, _, rest = token.partition(".")
    _start, _, namespace = rest.partition(".")
    if namespace != pid_namespace():
        return True
    return pid.isdigit() and process_token(int(pid)) == token


def owner_of(name: str) -> str:
    """The owner token of a container, directory or cgroup name: ``<token>-...``."""
    return name.split("-", 1)[0]
