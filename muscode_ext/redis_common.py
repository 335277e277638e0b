"""What the Redis queue and the Redis event bus share: every key name MUSCode uses (built
here and nowhere else), the client settings, the wire format of a job, and how a Redis
failure is reported to callers (``DependencyDown("redis")``, a 503 naming Redis).

Keys, for a prefix ``P`` (``MuscodeApp.redis_prefix``):

=========================  ===========  ===============================================
``P:jobs``                 stream       the run queue's interactive lane; consumer
                                        group ``workers``. Durable: no expiry (entries
                                        are deleted once acknowledged, so it holds only
                                        waiting and in-flight jobs).
``P:jobs:bulk``            stream       the bulk lane (grading, regrades); the same.
``P:run:{id}:out``         stream       a run's output channel (entry id ``0-{seq}``);
                                        expires ``live_ttl`` after its last event, and
                                        ``retention`` after the run is finished.
``P:run:{id}:ctl``         stream       a run's control channel (stdin, eof, cancel);
                                        same expiries.
``P:user:{name}``          pub/sub      a user's notices (a channel, not a key).
``P:collab:{file}:log``    stream       a shared room's Yjs updates and save marks
                                        (``collab_redis.py``); expires ``log_ttl``
                                        after its last entry.
``P:collab:{file}:aw``     stream       the room's awareness messages (capped);
                                        same expiry.
``P:collab:{file}:saver``  string       which server process saves the room; expires
                                        ``saver_lease`` after its last renewal.
``P:callback:{id}``        string       who sends a run's result callback: set once
                                        (``SET NX``) by the first process to claim it;
                                        expires after ``CALLBACK_CLAIM_TTL``.
=========================  ===========  ===============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import DependencyDown

#: What "Redis is unreachable" looks like. Other Redis errors (a wrong command, a key
#: of the wrong type) are bugs and are not turned into a 503.
REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    OSError,
)

#: The same, plus a local ``wait_for`` running out (health checks).
REDIS_DOWN_OR_SLOW: tuple[type[BaseException], ...] = (*REDIS_DOWN, asyncio.TimeoutError)

#: Longest blocking read (XREAD/XREADGROUP BLOCK); the socket timeout is above it so a
#: blocked read is never mistaken for a dead server.
BLOCK_MS = 2000
SOCKET_TIMEOUT = 10.0


@dataclass(frozen=True)
class RedisKeys:
    """Every Redis key and channel name, derived from one prefix."""

    prefix: str

    group = "workers"

    @property
    def jobs(self) -> str:
        """The stream of interactive jobs (see ``queue.base``'s lanes)."""
        return f"{self.prefix}:jobs"

    @property
    def bulk_jobs(self) -> str:
        """The stream of bulk jobs (grading, regrades, checks of tests)."""
        return f"{self.prefix}:jobs:bulk"

    def output(self, execution_id: str) -> str:
        return f"{self.prefix}:run:{execution_id}:out"

    def control(self, execution_id: str) -> str:
        return f"{self.prefix}:run:{execution_id}:ctl"

    def notices(self, user: str) -> str:
        return f"{self.prefix}:user:{user}"

    def collab_log(self, file_id: str) -> str:
        return f"{self.prefix}:collab:{file_id}:log"

    def collab_awareness(self, file_id: str) -> str:
        return f"{self.prefix}:collab:{file_id}:aw"

    def collab_saver(self, file_id: str) -> str:
        return f"{self.prefix}:collab:{file_id}:saver"

    def callback(self, execution_id: str) -> str:
        return f"{self.prefix}:callback:{execution_id}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this prefix (for tests and cleanup)."""
        return f"{self.prefix}:*"


@dataclass(frozen=True)
class JobMessage:
    """One queue entry: which run, and when it was queued (for queue-wait figures)."""

    execution_id: str
    queued_at: float

    def fields(self) -> dict[Any, Any]:
        return {"id": self.execution_id, "at": repr(self.queued_at)}

    @classmethod
    def parse(cls, fields: dict[str, str] | None) -> JobMessage | None:
        """None for an entry that is not a job (written by something else)."""
        if not fields or not fields.get("id"):
            return None
        try:
            at = float(fields.get("at", "0"))
        except ValueError:
            at = 0.0
        return cls(fields["id"], at)


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD/XREADGROUP reply (RESP2, decoded), of any streams."""
    out: list[tuple[str, dict[str, str]]] = []
    for _stream, entries in reply or []:
        out.extend((str(entry_id), fields or {}) for entry_id, fields in entries)
    return out


def connect(url: str) -> aioredis.Redis:
    """A client with short connect timeouts and one quick retry.

    redis-py's default retries a failed command ten times with backoff, so a request
    would wait seconds before reporting that Redis is down; one retry is enough to
    replace a pooled connection that a Redis restart broke.
    """
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        protocol=2,
        socket_connect_timeout=2.0,
        socket_timeout=SOCKET_TIMEOUT,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def where(url: str) -> str:
    """``host:port/db`` of a Redis URL, without its password (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    db = parts.path.lstrip("/") or "0"
    return f"{host}:{port}/{db}"


def redis_down(url: str, error: BaseException, what: str = "Redis") -> DependencyDown:
    return DependencyDown(
        "redis", f"{what} at {where(url)} is unavailable ({error}); try again shortly"
    )


def cancelling() -> bool:
    """Whether the current task has been asked to stop.

    redis-py closes the connection of a command interrupted by a cancellation, and an
    error while closing it can replace the CancelledError with a ConnectionError. Loops
    that retry on connection errors ask this first, so a stop is never taken for an
    outage and retried forever.
    """
    task = asyncio.current_task()
    probe = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(probe is not None and probe())


def stop_if_cancelled() -> None:
    if cancelling():
        raise asyncio.CancelledError


async def cancel_all(
    tasks: list[asyncio.Task[Any]], log: logging.Logger, timeout: float = 10
) -> None:
    """Cancel ``tasks`` and wait for them, for at most ``timeout`` seconds."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        log.warning("task %s did not stop within %.0f s", task.get_name(), timeout)


class Backoff:
    """Exponential backoff with jitter for loops that wait for Redis to come back."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    async def sleep(self) -> None:
        delay = self._next * (0.5 + random.random() / 2)
        self._next = min(self.cap, self._next * 2)
        await asyncio.sleep(delay)


class Outage:
    """Logs the start and the end of a Redis outage once each, not every retry."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self.since: float | None = None

    def failed(self, error: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s: Redis is unavailable (%s); retrying", self.what, error)

    def ok(self) -> None:
        if self.since is not None:
            self.log.warning(
                "%s: Redis is back after %.1f s", self.what, time.monotonic() - self.since
            )
            self.since = None

    def lasted(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since


async def close_client(client: Any) -> None:
    """Close a client and its pool, whatever state Redis is in."""
    with contextlib.suppress(*REDIS_DOWN):
        await client.aclose()
