"""The Redis queue: a stream with one consumer group, drained by ``muscode-worker``\\s.

The server only adds entries (``consume=False``); each worker process runs
``concurrency`` consumer tasks that read one entry at a time (XREADGROUP), call the
handler, then acknowledge and delete the entry. What keeps a run from being lost:

- a run is a database row before it is an entry, and duplicates are harmless (the
  runner claims a run with one conditional UPDATE), so putting an id twice is safe;
- an entry stays in the group's pending list until the handler returned; a worker that
  dies leaves it there, and after ``claim_after`` seconds without renewal another worker
  takes it over (XAUTOCLAIM) and runs the handler with ``redelivered=True``;
- a worker renews its own in-flight entries every ``claim_after / 3`` seconds (XCLAIM
  ... JUSTID), so a long run is not taken over while its worker is alive;
- a handler that raised (the database was down) leaves its entry pending, so it is
  redelivered later instead of dropped;
- when the consumer group is missing (Redis restarted without persistence, or the
  very first start), the worker that recreates it calls ``on_reset``: the worker
  re-queues the runs its database still has as ``queued``.

Redis being down never crashes anything: ``put`` and ``check`` report it
(``DependencyDown("redis")``, a sentence), consumers log once and retry with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ResponseError

from ..redis_common import (
    BLOCK_MS,
    REDIS_DOWN,
    REDIS_DOWN_OR_SLOW,
    Backoff,
    JobMessage,
    Outage,
    RedisKeys,
    cancel_all,
    close_client,
    connect,
    redis_down,
    stop_if_cancelled,
    stream_entries,
    where,
)
from .base import JobHandler, Queue

log = logging.getLogger(__name__)

Entry = tuple[str, JobMessage]

#: How often a worker looks for consumers of workers long gone, and how long one must
#: have been silent (a live one polls every BLOCK_MS) before it is forgotten.
SWEEP_EVERY = 300.0
GONE_AFTER_MS = 3_600_000


def _queue_gone(error: ResponseError) -> bool:
    """The stream or its group vanished (Redis lost its data, or the key was deleted
    while a read was blocked on it)."""
    return str(error).startswith(("NOGROUP", "UNBLOCKED"))


class RedisQueue(Queue):
    """Redis streams with a consumer group (see the module docstring)."""

    name = "redis"
    runs_in_process = False

    def __init__(
        self,
        url: str,
        *,
        concurrency: int = 2,
        consume: bool = False,
        claim_after: float = 30.0,
        prefix: str = "muscode",
        depth_every: float = 1.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if claim_after <= 0:
            raise ValueError("claim_after must be positive")
        self.url = url
        self.concurrency = concurrency
        self.consume = consume
        self.claim_after = claim_after
        self.keys = RedisKeys(prefix)
        self.depth_every = depth_every
        #: Unique per process start: a restarted worker never mistakes a dead one's
        #: pending entries for its own.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        #: Called (by one worker) when the consumer group had to be created: the jobs
        #: Redis held may be gone, so the caller re-queues what its database has queued.
        self.on_reset: Callable[[], Awaitable[None]] | None = None
        self._redis = connect(url)
        self._handler: JobHandler | None = None
        self._consumers: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._inflight: dict[str, str] = {}  # entry id -> execution id
        self._draining = False
        self._stopped = False
        self._group_ready = False
        self._group_lock = asyncio.Lock()
        self._next_claim = 0.0
        self._next_sweep = 0.0
        self._depth = 0
        self._outage = Outage(log, f"queue consumer {self.consumer}")

    # -- the contract -----------------------------------------------------------------

    async def start(self, handler: JobHandler) -> None:
        self._handler = handler
        self._draining = False
        self._stopped = False
        self._background.append(
            asyncio.create_task(self._refresh_depth(), name="muscode-queue-depth")
        )
        if not self.consume:
            return
        self._consumers = [
            asyncio.create_task(self._consume(), name=f"muscode-consumer-{i}")
            for i in range(self.concurrency)
        ]
        self._background.append(asyncio.create_task(self._renew(), name="muscode-queue-renew"))

    async def stop(self) -> None:
        """Stop at once: runs in flight are cancelled (the runner records that), and
        their entries stay pending for another worker to look at after ``claim_after``."""
        self._draining = self._stopped = True
        tasks = self._consumers + self._background
        self._consumers, self._background = [], []
        await cancel_all(tasks, log)
        await close_client(self._redis)

    async def drain(self, timeout: float) -> int:
        """Stop taking jobs and let those in flight finish, for at most ``timeout``
        seconds. Returns how many were still running (``stop`` cancels those)."""
        self._draining = True
        if self._consumers:
            await asyncio.wait(self._consumers, timeout=timeout)
        return len(self._inflight)

    async def put(self, execution_id: str, handoff: Any = None) -> None:
        try:
            await self._redis.xadd(self.keys.jobs, JobMessage(execution_id, time.time()).fields())
        except REDIS_DOWN as e:
            raise redis_down(self.url, e, "the run queue (Redis)") from e

    def depth(self) -> int:
        """Jobs waiting, as of the last refresh (at most ``depth_every`` seconds ago):
        reading Redis here would block the caller."""
        return self._depth

    async def check(self) -> str | None:
        try:
            await asyncio.wait_for(self._redis.ping(), 3)
        except REDIS_DOWN_OR_SLOW as e:
            return f"Redis at {where(self.url)} does not answer: {e or 'timed out'}"
        return None

    def in_flight(self) -> list[str]:
        """Execution ids this process is running now."""
        return list(self._inflight.values())

    async def live_consumers(self) -> int:
        """How many worker consumers read the queue lately (0: nobody runs programs).

        A live consumer polls at least every ``BLOCK_MS``; one silent for three times
        that is taken for gone."""
        try:
            consumers = await self._redis.xinfo_consumers(self.keys.jobs, self.keys.group)
        except ResponseError:
            return 0  # no stream or group yet: no worker ever started
        except REDIS_DOWN as e:
            raise redis_down(self.url, e, "the run queue (Redis)") from e
        return sum(1 for c in consumers if int(c.get("idle", 0)) < 3 * BLOCK_MS)

    # -- consuming --------------------------------------------------------------------

    async def _consume(self) -> None:
        backoff = Backoff()
        while not self._draining:
            try:
                await self._ensure_group()
                entry, redelivered = await self._take()
                self._outage.ok()
                backoff.reset()
            except ResponseError as e:
                if _queue_gone(e):
                    self._group_ready = False  # make the group again
                    continue
                stop_if_cancelled()
                log.error("the queue consumer failed: %s; retrying", e)
                await backoff.sleep()
                continue
            except REDIS_DOWN as e:
                stop_if_cancelled()
                self._outage.failed(e)
                await backoff.sleep()
                continue
            except Exception:
                stop_if_cancelled()
                log.exception("the queue consumer failed; retrying")
                await backoff.sleep()
                continue
            if entry is None:
                continue
            if self._draining:
                if not redelivered:
                    await self._hand_back(entry)
                # A taken-over entry stays pending (with its redelivery meaning) and is
                # taken over again after claim_after.
                return
            await self._handle(entry, redelivered)

    async def _take(self) -> tuple[Entry | None, bool]:
        """One job: first one a dead worker left (when a check is due), else a new one."""
        claimed = await self._claim_one()
        if claimed is not None:
            return claimed, True
        reply = await self._redis.xreadgroup(
            self.keys.group,
            self.consumer,
            {self.keys.jobs: ">"},
            count=1,
            block=BLOCK_MS,
        )
        for entry_id, fields in stream_entries(reply):
            return await self._parsed(entry_id, fields), False
        return None, False

    async def _claim_one(self) -> Entry | None:
        now = time.monotonic()
        if now < self._next_claim:
            return None
        self._next_claim = now + self.claim_after / 3
        reply = await self._redis.xautoclaim(
            self.keys.jobs,
            self.keys.group,
            self.consumer,
            min_idle_time=int(self.claim_after * 1000),
            start_id="0-0",
            count=1,
        )
        entries = reply[1] if reply and len(reply) > 1 else []
        if not entries and now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            await self._forget_gone_consumers()
        for entry_id, fields in entries:
            if entry_id in self._inflight:
                # Our own run, not renewed in time (Redis was away): it is running here
                # and now renewed by this claim.
                return None
            # Look again at once: a dead worker may have left several.
            self._next_claim = 0.0
            entry = await self._parsed(entry_id, fields)
            if entry is not None:
                log.warning(
                    "execution %s: its worker stopped answering; taking it over",
                    entry[1].execution_id,
                )
            return entry
        return None

    async def _forget_gone_consumers(self) -> None:
        """Drop the group's record of workers long gone that hold nothing: every worker
        start adds a consumer name, and the list would otherwise only grow. One that
        still holds entries stays until they are taken over."""
        consumers = await self._redis.xinfo_consumers(self.keys.jobs, self.keys.group)
        for c in consumers:
            if int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) > GONE_AFTER_MS:
                await self._redis.xgroup_delconsumer(self.keys.jobs, self.keys.group, c["name"])

    async def _parsed(self, entry_id: str, fields: dict[str, str] | None) -> Entry | None:
        job = JobMessage.parse(fields)
        if job is None:
            log.warning("dropping queue entry %s: not a MUSCode job (%r)", entry_id, fields)
            await self._ack(entry_id)
            return None
        return entry_id, job

    async def _handle(self, entry: Entry, redelivered: bool) -> None:
        entry_id, job = entry
        assert self._handler is not None
        self._inflight[entry_id] = job.execution_id
        finished = False
        try:
            await self._handler(job.execution_id, redelivered=redelivered)
            finished = True
        except asyncio.CancelledError:
            raise  # left pending: another worker looks at it after claim_after
        except Exception:
            log.exception(
                "execution %s: the worker failed; it will be handed out again",
                job.execution_id,
            )
        finally:
            self._inflight.pop(entry_id, None)
        if finished:
            await self._ack(entry_id)

    async def _ack(self, entry_id: str) -> None:
        """Acknowledge and delete in one transaction: the stream keeps only waiting and
        in-flight jobs, so its length minus the pending count is the queue depth."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.keys.jobs, self.keys.group, entry_id)
                pipe.xdel(self.keys.jobs, entry_id)
                await pipe.execute()
        except REDIS_DOWN as e:
            stop_if_cancelled()
            # Harmless: the entry is handed out again later and the runner sees the
            # run is finished.
            log.warning("could not acknowledge queue entry %s: %s", entry_id, e)

    async def _hand_back(self, entry: Entry) -> None:
        """A job read while stopping: queue it again for another worker, at once."""
        entry_id, job = entry
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self.keys.jobs, job.fields())
                pipe.xack(self.keys.jobs, self.keys.group, entry_id)
                pipe.xdel(self.keys.jobs, entry_id)
                await pipe.execute()
        except REDIS_DOWN as e:
            stop_if_cancelled()
            log.warning("could not hand back execution %s: %s", job.execution_id, e)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        async with self._group_lock:
            if self._group_ready:
                return
            try:
                # From id 0: jobs the server queued before any worker existed count.
                await self._redis.xgroup_create(
                    self.keys.jobs, self.keys.group, id="0", mkstream=True
                )
                created = True
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
                created = False
            self._group_ready = True
        if created:
            log.warning(
                "created the job queue's consumer group in Redis at %s (first start, or "
                "Redis lost its data)",
                where(self.url),
            )
            if self.on_reset is not None:
                self._background.append(
                    asyncio.create_task(self._reset(self.on_reset), name="muscode-queue-reset")
                )

    async def _reset(self, on_reset: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff(first=0.5, cap=10.0)
        while True:
            try:
                await on_reset()
                return
            except Exception as e:  # the database may be down too: keep trying
                stop_if_cancelled()
                log.warning("re-queuing after a Redis reset failed (%s); retrying", e)
                await backoff.sleep()

    async def _renew(self) -> None:
        """Reset the idle time of this worker's in-flight entries, so that other workers
        do not take over a long run of a live worker."""
        while not self._stopped:
            await asyncio.sleep(self.claim_after / 3)
            ids = list(self._inflight)
            if not ids:
                continue
            try:
                # Only entries still ours: one another worker took over (we were cut
                # off longer than claim_after) stays with it.
                pending = await self._redis.xpending_range(
                    self.keys.jobs,
                    self.keys.group,
                    min=min(ids, key=_entry_order),
                    max=max(ids, key=_entry_order),
                    count=len(ids) + 100,
                    consumername=self.consumer,
                )
                mine: list[Any] = [
                    p["message_id"] for p in pending if p["message_id"] in self._inflight
                ]
                if mine:
                    await self._redis.xclaim(
                        self.keys.jobs,
                        self.keys.group,
                        self.consumer,
                        min_idle_time=0,
                        message_ids=mine,
                        justid=True,
                    )
            except REDIS_DOWN as e:
                stop_if_cancelled()
                log.warning("could not renew %d in-flight jobs: %s", len(ids), e)
            except ResponseError as e:
                log.warning("could not renew in-flight jobs: %s", e)

    async def _refresh_depth(self) -> None:
        while not self._stopped:
            try:
                self._depth = await self._measure_depth()
            except REDIS_DOWN:
                stop_if_cancelled()  # else keep the last figure; put() and check() report it
            except Exception:
                stop_if_cancelled()
                log.exception("could not measure the queue depth")
            await asyncio.sleep(self.depth_every)

    async def _measure_depth(self) -> int:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.jobs)
            pipe.xpending(self.keys.jobs, self.keys.group)
            length, pending = await pipe.execute(raise_on_error=False)
        if isinstance(length, BaseException):
            raise length
        in_flight = _pending_count(pending)
        return max(0, int(length) - in_flight)


def _pending_count(reply: Any) -> int:
    if isinstance(reply, dict):
        return int(reply.get("pending") or 0)
    return 0  # no group yet (NOGROUP): nothing is in flight


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
