"""The CPU-time watchdog of both backends.

RLIMIT_CPU counts each process alone, so a program that forks busy children would get
the limit once per process. The watchdog polls the CPU counter of the run's whole
process tree (its cgroup, or the engine's stats) and kills the tree the moment the
total passes the limit. It polls fast enough that the tree cannot burn what is left of
its limit between two looks, and no faster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: How often the watchdog looks, at most and at least.
POLL_MAX_S = 0.05
POLL_MIN_S = 0.005

#: One look at the counter: (CPU ns used so far or None if unknown, seconds until the
#: next look or None to stop watching).
Sample = tuple[int | None, float | None]


def next_poll(limit_ns: int, used_ns: int, cpus: float) -> float:
    """Seconds until the next look: the tree burns at most ``cpus`` ns of CPU per ns, so
    look before it could have used what is left."""
    return min(POLL_MAX_S, max(POLL_MIN_S, (limit_ns - used_ns) / (cpus * 1e9)))


async def watch_cpu(
    sample: Callable[[], Awaitable[Sample]],
    limit_ns: int,
    on_limit: Callable[[], None],
    running: Callable[[], bool],
) -> None:
    """Call ``on_limit`` once the CPU time ``sample`` reports passes ``limit_ns``; stop
    when ``running`` turns false or ``sample`` says so."""
    while running():
        used, wait = await sample()
        if used is not None and used > limit_ns:
            on_limit()
            return
        if wait is None:
            return
        await asyncio.sleep(wait)
