"""The Redis queue: a stream per lane with one consumer group each, drained by
``muscode-worker``\\s.

The server only adds entries (``consume=False``); each worker process runs
``concurrency`` consumer tasks that read one entry at a time (XREADGROUP), call the
handler, then acknowledge and delete the entry. A consumer looks at the interactive
stream first and reads the bulk stream only while fewer than ``bulk_slots`` of its
process's consumers hold a bulk job (see ``base``). What keeps a run from being lost:

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
from traitlets import Float, TraitError, validate

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
    where,
)
from .base import BULK, INTERACTIVE, LANES, JobHandler, Lane, Queue

log = logging.getLogger(__name__)

#: A job taken from a lane's stream: (lane, entry id, job). Entry ids are unique per
#: stream only, so the lane goes with them.
Entry = tuple[Lane, str, JobMessage]

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

    claim_after = Float(
        30.0,
        help="""Seconds after which a job whose worker stopped sending heartbeats (it was
        killed) is handed to another worker. Workers renew their claim every third of it.""",
    ).tag(config=True)

    depth_every = Float(
        1.0,
        help="""Seconds between two readings of the queue depth (the `muscode_queue_depth`
        metric and the queue-full check read the last one).""",
    ).tag(config=True)

    @validate("claim_after", "depth_every")
    def _positive(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if value <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive, not {value}")
        return value

    def __init__(
        self, url: str, *, consume: bool = False, prefix: str = "muscode", **kwargs: Any
    ) -> None:
        """``url`` and ``prefix``: where the queue lives (shared with the event bus);
        ``consume``: this process runs jobs (a worker), or only adds them (a server)."""
        super().__init__(**kwargs)
        self.url = url
        self.consume = consume
        self.keys = RedisKeys(prefix)
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
        self._inflight: dict[tuple[Lane, str], str] = {}  # (lane, entry id) -> execution id
        #: Bulk jobs this process runs, or a consumer is reading one: at most bulk_slots.
        self._bulk_taken = 0
        self._draining = False
        self._stopped = False
        self._group_ready = False
        self._group_lock = asyncio.Lock()
        self._next_claim = 0.0
        self._next_sweep = 0.0
        self._depths: dict[Lane, int] = dict.fromkeys(LANES, 0)
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

    def stream(self, lane: Lane) -> str:
        """The key of ``lane``'s stream."""
        return self.keys.bulk_jobs if lane == BULK else self.keys.jobs

    async def put(self, execution_id: str, handoff: Any = None, lane: Lane = INTERACTIVE) -> None:
        try:
            await self._redis.xadd(
                self.stream(lane), JobMessage(execution_id, time.time()).fields()
            )
        except REDIS_DOWN as e:
            raise redis_down(self.url, e, "the run queue (Redis)") from e

    def depth(self, lane: Lane | None = None) -> int:
        """Jobs waiting, as of the last refresh (at most ``depth_every`` seconds ago):
        reading Redis here would block the caller."""
        if lane is None:
            return sum(self._depths.values())
        return self._depths[lane]

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
            try:
                if self._draining:
                    if not redelivered:
                        await self._hand_back(entry)
                    # A taken-over entry stays pending (with its redelivery meaning) and
                    # is taken over again after claim_after.
                    return
                await self._handle(entry, redelivered)
            finally:
                if entry[0] == BULK:
                    self._bulk_taken -= 1

    async def _take(self) -> tuple[Entry | None, bool]:
        """One job: first one a dead worker left (when a check is due), else a new one;
        interactive before bulk, and bulk only while a bulk slot is free.

        The slot is reserved before the bulk stream is read (and freed again when no
        bulk job came), so this process's consumers never hold more than
        ``bulk_slots`` bulk jobs."""
        bulk = self._bulk_taken < self.bulk_slots
        if bulk:
            self._bulk_taken += 1
        entry: Entry | None = None
        try:
            entry = await self._claim_one(bulk)
            if entry is not None:
                return entry, True
            lanes = LANES if bulk else (INTERACTIVE,)
            for lane in lanes:  # what waits now, in lane order
                entry = await self._read((lane,), block=None)
                if entry is not None:
                    return entry, False
            entry = await self._read(lanes, block=BLOCK_MS)
            return entry, False
        finally:
            if bulk and (entry is None or entry[0] != BULK):
                self._bulk_taken -= 1

    async def _read(self, lanes: tuple[Lane, ...], block: int | None) -> Entry | None:
        """One new entry of ``lanes`` (waiting up to ``block`` ms for one; None: not at
        all). A blocking read of two streams may bring one of each: the interactive
        one is taken and the bulk one handed back."""
        reply: Any = await self._redis.xreadgroup(
            self.keys.group,
            self.consumer,
            {self.stream(lane): ">" for lane in lanes},
            count=1,
            block=block,
        )
        got: dict[Lane, Entry | None] = {}
        for stream, entries in reply or []:
            lane = BULK if stream == self.keys.bulk_jobs else INTERACTIVE
            for entry_id, fields in entries:
                got[lane] = await self._parsed(lane, str(entry_id), fields or {})
        taken = got.pop(INTERACTIVE, None) or got.pop(BULK, None)
        for spare in got.values():
            if spare is not None:
                await self._hand_back(spare)
        return taken

    async def _claim_one(self, bulk: bool) -> Entry | None:
        now = time.monotonic()
        if now < self._next_claim:
            return None
        self._next_claim = now + self.claim_after / 3
        for lane in LANES if bulk else (INTERACTIVE,):
            reply = await self._redis.xautoclaim(
                self.stream(lane),
                self.keys.group,
                self.consumer,
                min_idle_time=int(self.claim_after * 1000),
                start_id="0-0",
                count=1,
            )
            entries = reply[1] if reply and len(reply) > 1 else []
            for entry_id, fields in entries:
                if (lane, entry_id) in self._inflight:
                    # Our own run, not renewed in time (Redis was away): it is running
                    # here and now renewed by this claim.
                    return None
                # Look again at once: a dead worker may have left several.
                self._next_claim = 0.0
                entry = await self._parsed(lane, entry_id, fields)
                if entry is not None:
                    log.warning(
                        "execution %s: its worker stopped answering; taking it over",
                        entry[2].execution_id,
                    )
                return entry
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            await self._forget_gone_consumers()
        return None

    async def _forget_gone_consumers(self) -> None:
        """Drop the group's record of workers long gone that hold nothing: every worker
        start adds a consumer name, and the list would otherwise only grow. One that
        still holds entries stays until they are taken over."""
        for lane in LANES:
            stream = self.stream(lane)
            consumers = await self._redis.xinfo_consumers(stream, self.keys.group)
            for c in consumers:
                if int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) > GONE_AFTER_MS:
                    await self._redis.xgroup_delconsumer(stream, self.keys.group, c["name"])

    async def _parsed(
        self, lane: Lane, entry_id: str, fields: dict[str, str] | None
    ) -> Entry | None:
        job = JobMessage.parse(fields)
        if job is None:
            log.warning("dropping queue entry %s: not a MUSCode job (%r)", entry_id, fields)
            await self._ack(lane, entry_id)
            return None
        return lane, entry_id, job

    async def _handle(self, entry: Entry, redelivered: bool) -> None:
        lane, entry_id, job = entry
        assert self._handler is not None
        self._inflight[lane, entry_id] = job.execution_id
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
            self._inflight.pop((lane, entry_id), None)
        if finished:
            await self._ack(lane, entry_id)

    async def _ack(self, lane: Lane, entry_id: str) -> None:
        """Acknowledge and delete in one transaction: the stream keeps only waiting and
        in-flight jobs, so its length minus the pending count is the queue depth."""
        stream = self.stream(lane)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(stream, self.keys.group, entry_id)
                pipe.xdel(stream, entry_id)
                await pipe.execute()
        except REDIS_DOWN as e:
            stop_if_cancelled()
            # Harmless: the entry is handed out again later and the runner sees the
            # run is finished.
            log.warning("could not acknowledge queue entry %s: %s", entry_id, e)

    async def _hand_back(self, entry: Entry) -> None:
        """A job read but not run (while stopping, or a second one of a read of two
        lanes): queue it again for another consumer, at once."""
        lane, entry_id, job = entry
        stream = self.stream(lane)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(stream, job.fields())
                pipe.xack(stream, self.keys.group, entry_id)
                pipe.xdel(stream, entry_id)
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
            created = False
            for lane in LANES:
                try:
                    # From id 0: jobs the server queued before any worker existed count.
                    await self._redis.xgroup_create(
                        self.stream(lane), self.keys.group, id="0", mkstream=True
                    )
                    created = True
                except ResponseError as e:
                    if "BUSYGROUP" not in str(e):
                        raise
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
            for lane in LANES:
                ids = [entry_id for (of, entry_id) in self._inflight if of == lane]
                if ids:
                    await self._renew_lane(lane, ids)

    async def _renew_lane(self, lane: Lane, ids: list[str]) -> None:
        stream = self.stream(lane)
        try:
            # Only entries still ours: one another worker took over (we were cut off
            # longer than claim_after) stays with it.
            pending = await self._redis.xpending_range(
                stream,
                self.keys.group,
                min=min(ids, key=_entry_order),
                max=max(ids, key=_entry_order),
                count=len(ids) + 100,
                consumername=self.consumer,
            )
            mine: list[Any] = [
                p["message_id"] for p in pending if (lane, p["message_id"]) in self._inflight
            ]
            if mine:
                await self._redis.xclaim(
                    stream,
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
                self._depths = await self._measure_depths()
            except REDIS_DOWN:
                stop_if_cancelled()  # else keep the last figure; put() and check() report it
            except Exception:
                stop_if_cancelled()
                log.exception("could not measure the queue depth")
            await asyncio.sleep(self.depth_every)

    async def _measure_depths(self) -> dict[Lane, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for lane in LANES:
                pipe.xlen(self.stream(lane))
                pipe.xpending(self.stream(lane), self.keys.group)
            replies = await pipe.execute(raise_on_error=False)
        depths: dict[Lane, int] = {}
        for i, lane in enumerate(LANES):
            length, pending = replies[2 * i], replies[2 * i + 1]
            if isinstance(length, BaseException):
                raise length
            depths[lane] = max(0, int(length) - _pending_count(pending))
        return depths


def _pending_count(reply: Any) -> int:
    if isinstance(reply, dict):
        return int(reply.get("pending") or 0)
    return 0  # no group yet (NOGROUP): nothing is in flight


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
