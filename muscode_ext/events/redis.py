"""The Redis event bus: what a worker prints reaches websockets on any server process.

- A run's **output channel** is a stream whose entry ids are ``0-{seq}`` (XADD with
  ``0-*``: Redis numbers them 1, 2, ... itself, atomically). ``subscribe(after)`` reads
  with XREAD from ``0-{after}``: the stored events first (the replay), then, blocking,
  the live rest, in order, without gaps or duplicates; it ends after ``done``.
- A run's **control channel** is a stream too, read from its start, so stdin typed
  before the worker started listening is not lost. Its reader trims what it has
  taken, and an append is refused while ``max_control_backlog`` entries wait, so the
  stream holds only a bounded backlog.
- A user's **notices** go over pub/sub (live only): one subscription per channel and
  server process, fanned out to that process's websockets.

Publishing is idempotent: each call carries a random token and the script that appends
skips the append when the stream's last entry already has that token. So a publish that
is retried because its reply was lost (Redis restarted, the connection broke) does not
repeat an event.

Channels expire: ``live_ttl`` after their last event (a run whose worker vanished), and
``retention`` after ``finished``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from traitlets import Float, Int

from ..redis_common import (
    BLOCK_MS,
    REDIS_DOWN,
    REDIS_DOWN_OR_SLOW,
    Backoff,
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
from .base import Event, EventBus, backlog_full

log = logging.getLogger(__name__)

T = TypeVar("T")

# KEYS[1]: the stream. ARGV: token, JSON event, seconds to live, and (a control
# channel) how many entries may wait: refused (returns false) at that many. The reader
# of a control channel trims what it has taken, so the stream holds only what waits.
# Returns the entry id (the existing one when this token was already appended).
_APPEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 't' and fields[i + 1] == ARGV[1] then
      return last[1][1]
    end
  end
end
if ARGV[4] and redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  return false
end
local id = redis.call('XADD', KEYS[1], '0-*', 't', ARGV[1], 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return id
"""


def _seq(entry_id: str) -> int:
    return int(entry_id.partition("-")[2])


def _event(entry_id: str, fields: dict[str, str]) -> Event:
    event: Event = json.loads(fields["e"])
    event["seq"] = _seq(entry_id)
    return event


class RedisEventBus(EventBus):
    """The event bus of a server with Redis (see the module docstring)."""

    name = "redis"

    live_ttl = Int(
        3600,
        help="""Seconds a run's channels live after their last event while the run is not
        finished (its worker vanished).""",
    ).tag(config=True)

    retry_for = Float(
        5.0,
        help="""Seconds a publish or control message keeps retrying while Redis is down
        before it gives up (so a short outage does not fail a run).""",
    ).tag(config=True)

    subscribe_grace = Float(
        30.0,
        help="Seconds a websocket subscriber waits for Redis to come back before it gives up.",
    ).tag(config=True)

    def __init__(self, url: str, *, prefix: str = "muscode", **kwargs: Any) -> None:
        """``url`` and ``prefix``: where the channels live (shared with the queue)."""
        super().__init__(**kwargs)
        self.url = url
        self.keys = RedisKeys(prefix)
        self._redis = connect(url)
        self._append = self._redis.register_script(_APPEND)
        self._listeners: dict[str, set[asyncio.Queue[Event]]] = {}
        self._pubsub_task: asyncio.Task[None] | None = None
        self._stragglers: set[asyncio.Future[Any]] = set()

    # -- output channel ---------------------------------------------------------------

    async def publish(self, execution_id: str, event: Event) -> int:
        body = {k: v for k, v in event.items() if k != "seq"}
        entry_id = await self._add(self.keys.output(execution_id), body)
        return _seq(entry_id)

    async def subscribe(self, execution_id: str, after: int = 0) -> AsyncIterator[Event]:
        key = self.keys.output(execution_id)
        last = f"0-{after}"
        outage = Outage(log, f"output of execution {execution_id}")
        backoff = Backoff()
        while True:
            try:
                reply = await self._read({key: last}, 512)
            except REDIS_DOWN as e:
                stop_if_cancelled()
                outage.failed(e)
                if outage.lasted() > self.subscribe_grace:
                    raise redis_down(self.url, e, "the live channel (Redis)") from e
                await backoff.sleep()
                continue
            outage.ok()
            backoff.reset()
            for entry_id, fields in stream_entries(reply):
                last = entry_id
                event = _event(entry_id, fields)
                yield event
                if event.get("type") == "done":
                    return

    def known(self, execution_id: str) -> bool:
        """Always False: the service then answers a *finished* run from its database row
        instead of this channel. Asking Redis would need an await here, and a channel
        that expired would otherwise leave a subscriber waiting forever."""
        return False

    # -- control channel --------------------------------------------------------------

    async def control(self, execution_id: str, message: Event) -> None:
        key = self.keys.control(execution_id)
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        token = secrets.token_hex(8)

        async def append() -> Any:
            args: list[str | int] = [token, payload, self.live_ttl, self.max_control_backlog]
            return await self._append(keys=[key], args=args)

        try:
            added = await self._retrying(append)
        except REDIS_DOWN as e:
            stop_if_cancelled()
            raise redis_down(self.url, e, "the live channel (Redis)") from e
        if not added:
            raise backlog_full(execution_id, self.max_control_backlog)

    async def controls(self, execution_id: str) -> AsyncIterator[Event]:
        key = self.keys.control(execution_id)
        last = "0-0"
        outage = Outage(log, f"control of execution {execution_id}")
        backoff = Backoff()
        while True:
            try:
                reply = await self._read({key: last}, 64)
            except REDIS_DOWN as e:
                stop_if_cancelled()
                # The run goes on meanwhile; stdin and cancel arrive once Redis is back.
                outage.failed(e)
                await backoff.sleep()
                continue
            outage.ok()
            backoff.reset()
            entries = stream_entries(reply)
            if entries:
                last = entries[-1][0]
                await self._forget_taken(key, last)
            for _entry_id, fields in entries:
                yield json.loads(fields["e"])

    async def _forget_taken(self, key: str, last: str) -> None:
        """Trim the control entries up to ``last``: taken, they need no memory."""
        try:
            await self._redis.xtrim(key, minid=f"0-{_seq(last) + 1}")
        except REDIS_DOWN as e:
            stop_if_cancelled()
            log.warning("could not trim %s: %s", key, e)

    # -- expiry -----------------------------------------------------------------------

    async def finished(self, execution_id: str) -> None:
        ms = max(1, int(self.retention * 1000))

        async def expire() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.pexpire(self.keys.output(execution_id), ms)
                pipe.pexpire(self.keys.control(execution_id), ms)
                await pipe.execute()

        try:
            await self._retrying(expire)
        except REDIS_DOWN as e:
            stop_if_cancelled()
            # Not fatal: the channels still expire live_ttl after their last event.
            log.warning(
                "could not shorten the life of execution %s's channels: %s", execution_id, e
            )

    # -- notices ----------------------------------------------------------------------

    async def notify(self, user: str, event: Event) -> None:
        """Best effort, like every live-only notice: an outage drops it (with a log line)
        rather than failing the run that sends it."""
        try:
            await self._redis.publish(self.keys.notices(user), json.dumps(event))
        except REDIS_DOWN as e:
            stop_if_cancelled()
            log.warning("notice to %s dropped: Redis is unavailable (%s)", user, e)

    async def notices(self, user: str) -> AsyncIterator[Event]:
        channel = self.keys.notices(user)
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.max_pending_notices)
        self._listeners.setdefault(channel, set()).add(queue)
        self._ensure_pubsub()
        try:
            while True:
                yield await queue.get()
        finally:
            group = self._listeners.get(channel)
            if group is not None:
                group.discard(queue)
                if not group:
                    del self._listeners[channel]

    def _ensure_pubsub(self) -> None:
        if self._pubsub_task is None or self._pubsub_task.done():
            self._pubsub_task = asyncio.create_task(self._pump(), name="muscode-notices")

    async def _pump(self) -> None:
        """One pub/sub connection per process; follows the channels listeners want.

        Subscriptions are changed here only, between reads, so the connection is never
        written by two tasks at once; a new listener waits at most one read timeout.
        """
        outage = Outage(log, "notices")
        backoff = Backoff()
        while self._listeners:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            subscribed: set[str] = set()
            try:
                while self._listeners:
                    wanted = set(self._listeners)
                    if wanted - subscribed:
                        await pubsub.subscribe(*(wanted - subscribed))
                    if subscribed - wanted:
                        await pubsub.unsubscribe(*(subscribed - wanted))
                    subscribed = wanted
                    message = await pubsub.get_message(timeout=0.2)
                    outage.ok()
                    backoff.reset()
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["channel"], message["data"])
            except REDIS_DOWN as e:
                stop_if_cancelled()
                outage.failed(e)
                await backoff.sleep()
            finally:
                await close_client(pubsub)

    def _dispatch(self, channel: str, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            return
        for queue in list(self._listeners.get(channel, ())):
            if queue.full():
                log.warning("a slow /events listener on %s lost a notice", channel)
                continue
            queue.put_nowait(event)

    # -- service ----------------------------------------------------------------------

    async def check(self) -> str | None:
        try:
            await asyncio.wait_for(self._redis.ping(), 3)
        except REDIS_DOWN_OR_SLOW as e:
            return f"Redis at {where(self.url)} does not answer: {e or 'timed out'}"
        return None

    async def close(self) -> None:
        """Release the connections; a later call opens them again as needed."""
        stragglers = list(self._stragglers)
        for read in stragglers:
            read.cancel()
        await asyncio.gather(*stragglers, return_exceptions=True)
        if self._pubsub_task is not None:
            await cancel_all([self._pubsub_task], log)
            self._pubsub_task = None
        await close_client(self._redis)

    # -- helpers ----------------------------------------------------------------------

    async def _read(self, streams: dict[Any, Any], count: int) -> Any:
        """XREAD BLOCK in a task of its own. A reader cancelled mid-read (its run ended,
        its websocket closed) leaves the read to end within BLOCK_MS and give its
        connection back to the pool: cancelling the read itself makes redis-py close
        the connection, and every run would then cost a new one."""
        read = asyncio.ensure_future(self._redis.xread(streams, count=count, block=BLOCK_MS))
        try:
            return await asyncio.shield(read)
        except asyncio.CancelledError:
            if not read.done():
                self._stragglers.add(read)
                read.add_done_callback(self._forget_straggler)
            raise

    def _forget_straggler(self, read: asyncio.Future[Any]) -> None:
        self._stragglers.discard(read)
        if not read.cancelled():
            read.exception()  # retrieved: an outage meanwhile is nobody's business now

    async def _add(self, key: str, body: Event) -> str:
        """Append one event (idempotently) and return its entry id."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        token = secrets.token_hex(8)

        async def append() -> str:
            return str(await self._append(keys=[key], args=[token, payload, self.live_ttl]))

        try:
            return await self._retrying(append)
        except REDIS_DOWN as e:
            stop_if_cancelled()
            raise redis_down(self.url, e, "the live channel (Redis)") from e

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, again with backoff while Redis is down, for ``retry_for`` seconds."""
        deadline = time.monotonic() + self.retry_for
        backoff = Backoff(first=0.05, cap=1.0)
        while True:
            try:
                return await call()
            except REDIS_DOWN:
                stop_if_cancelled()
                if time.monotonic() >= deadline:
                    raise
                await backoff.sleep()


__all__ = ["RedisEventBus"]
