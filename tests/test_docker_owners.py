"""Who owns a Docker sandbox's leftovers, when several MUSCode processes share an engine.

Workers and API replicas in their own containers, and servers on the host, all start
runner containers on one engine and sweep the leftovers of crashed owners. An owner is
a process token; a process in another PID namespace (another container, or the host
seen from a container) cannot be looked up, so its things must never be swept as dead.
On the host the token is ``pid.start`` as it always was; in a container it also names
the container's PID namespace.
"""

from __future__ import annotations

import os
import subprocess
import sys

from muscode_ext.execution.docker.owners import owner_alive, pid_namespace, process_token


def finished_process_token() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = process_token(child.pid)
    child.wait()
    assert token is not None
    return token


def test_a_live_process_of_this_namespace_is_alive() -> None:
    token = process_token(os.getpid())
    assert token is not None
    namespace = pid_namespace()
    assert token.count(".") == (2 if namespace else 1)
    assert owner_alive(token)


def test_a_finished_process_of_this_namespace_is_dead() -> None:
    assert not owner_alive(finished_process_token())
    assert not owner_alive("1.0" + (f".{pid_namespace()}" if pid_namespace() else ""))


def test_an_owner_in_another_namespace_is_never_taken_for_dead() -> None:
    # The same pid and start time as a finished process here, seen from another
    # container: nothing here can tell, so it is left alone.
    pid, start = finished_process_token().split(".")[:2]
    assert owner_alive(f"{pid}.{start}.4026532999")
    if pid_namespace():  # in a container, the host's processes cannot be seen either
        assert owner_alive(f"{pid}.{start}")
