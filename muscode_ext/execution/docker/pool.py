"""Pools of started, idle containers: ``docker start`` alone costs about 0.2 s (runc's
and the shim's set-up), most of a plain ``docker run``, so a run takes a container that
is already started and idle, its PID 1 blocked on stdin until the run's go line.

Each pooled container serves exactly one run; the pool refills in the background.
Container-level limits are fixed at creation, so pools are keyed by (image, memory,
processes) (:class:`~.containers.Profile`); the per-run limits are set by ``run.sh``.
Pooled containers die with the engine; one whose attach socket has anything to read
(an idle one prints nothing) is discarded instead of handed out, so runs work again as
soon as the engine is back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any

from ...aio import wait_ended
from .containers import Containers, Profile, Slot

log = logging.getLogger(__name__)


class Pools:
    """One pool per profile in use, at most ``max_profiles`` (the least recently used
    goes), for one event loop."""

    def __init__(
        self,
        containers: Containers,
        *,
        size: int,
        max_idle_s: float,
        max_profiles: int,
        fill_concurrency: int,
        track: Callable[[asyncio.Future[Any]], None],
    ) -> None:
        self.containers = containers
        self.size = size
        self.max_idle_s = max_idle_s
        self.max_profiles = max_profiles
        #: Background refills at once (each is a create + start, 0.2-0.5 s of dockerd).
        self.gate = asyncio.Semaphore(fill_concurrency)
        self._track = track
        self._pools: OrderedDict[Profile, Pool] = OrderedDict()

    def __iter__(self) -> Iterator[Pool]:
        return iter(list(self._pools.values()))

    def get(self, profile: Profile) -> Pool:
        """The pool of ``profile`` (made now if needed), refilling."""
        pool = self._pools.get(profile)
        if pool is None:
            pool = Pool(self.containers, profile, self.size, self.max_idle_s, self.gate)
            self._pools[profile] = pool
            while len(self._pools) > self.max_profiles:
                _, old = self._pools.popitem(last=False)
                self._track(asyncio.ensure_future(old.close()))
        self._pools.move_to_end(profile)
        pool.refill()
        return pool

    async def take(self, profile: Profile) -> Slot:
        """A started container of ``profile`` for one run."""
        if self.size:
            return await self.get(profile).take()
        return await self.containers.new(profile)

    async def close(self) -> None:
        """Stop refilling and remove the idle containers."""
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.close()

    def abandon(self) -> None:
        """Forget the pools of a loop that is gone (their tasks died with it); what
        they held is removed with the rest of this instance's containers."""
        for pool in self._pools.values():
            pool.closed = True
        self._pools.clear()


class Pool:
    """Started, idle containers of one profile, each handed out once."""

    def __init__(
        self,
        containers: Containers,
        profile: Profile,
        size: int,
        max_idle_s: float,
        gate: asyncio.Semaphore,
    ) -> None:
        self.containers = containers
        self.gate = gate
        self.profile = profile
        self.size = size
        self.max_idle_s = max_idle_s
        self.idle: deque[Slot] = deque()
        self.filling = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def take(self) -> Slot:
        slot: Slot | None = None
        now = time.monotonic()
        while self.idle:
            candidate = self.idle.popleft()
            fresh = not self.max_idle_s or now - candidate.ready_at < self.max_idle_s
            if fresh and still_idle(candidate):
                slot = candidate
                break
            self.containers.discard(candidate)
        self.refill()
        if slot is None:
            slot = await self.containers.new(self.profile)
        return slot

    def refill(self) -> None:
        while not self.closed and len(self.idle) + self.filling < self.size:
            self.filling += 1
            task = asyncio.get_running_loop().create_task(self._fill_one())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _fill_one(self) -> None:
        try:
            async with self.gate:
                if self.closed:
                    return
                slot = await self.containers.new(self.profile)
            if self.closed:
                self.containers.discard(slot)
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
            self.containers.discard(self.idle.popleft())


def still_idle(slot: Slot) -> bool:
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
