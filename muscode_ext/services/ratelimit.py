"""Back-pressure for runs: per-user rate limits, concurrent-run caps, a queue-depth cap.

Rates use the ``limits`` library (a moving window) on memory storage for an embedded
server, or on Redis when the server has one, so that every server process shares the
counts. Grader tokens (bearer tokens with the ``grade`` scope) have their own limit.

Regrades of an assignment (each makes a run per submission) have their own per-user
rate, ``regrade_rate``.

The limiter is a configurable part: ``c.RunLimiter.user_rate``, ``.grader_rate``,
``.regrade_rate``, ``.max_active_runs``, ``.max_queue_depth``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from traitlets import Int, TraitError, Unicode, observe, validate
from traitlets.config import LoggingConfigurable

from ..auth import Caller
from ..errors import DependencyDown, Invalid, RateLimited

log = logging.getLogger(__name__)


def parse_rate(text: str, field: str) -> RateLimitItem:
    """``"30/minute"`` and friends; raises ValueError with a sentence."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(
            f"{field}={text!r} is not a rate like '30/minute' or '5 per second'"
        ) from None


class RunLimiter(LoggingConfigurable):
    """Counts the runs each caller starts, and refuses those over a limit."""

    user_rate = Unicode(
        "30/minute",
        help="""Runs one user may start, as a rate ('30/minute', '5 per second'). Over it:
        429 with Retry-After.""",
    ).tag(config=True)

    grader_rate = Unicode(
        "1200/minute",
        help="Runs a bearer token with the `grade` scope may start (its own, higher rate).",
    ).tag(config=True)

    regrade_rate = Unicode(
        "6/minute",
        help="""Regrades one user may ask for, as a rate ('6/minute'); each queues a
        grading run per submission. Over it: 429 with Retry-After.""",
    ).tag(config=True)

    max_active_runs = Int(
        4,
        help="""Runs one user may have queued or running at once (0: no cap). Admins and
        grader tokens are exempt; they are held back by the rate and the queue depth.""",
    ).tag(config=True)

    max_queue_depth = Int(
        2000,
        help="Runs that may wait in the queue; past it, new runs get 503 (0: no cap).",
    ).tag(config=True)

    @validate("user_rate", "grader_rate", "regrade_rate")
    def _a_rate(self, proposal: dict[str, Any]) -> str:
        try:
            parse_rate(proposal["value"], proposal["trait"].name)
        except ValueError as e:
            raise TraitError(str(e)) from None
        return str(proposal["value"])

    @observe("user_rate", "grader_rate", "regrade_rate")
    def _parse_rates(self, change: Any = None) -> None:
        self._user_rate = parse_rate(self.user_rate, "user_rate")
        self._grader_rate = parse_rate(self.grader_rate, "grader_rate")
        self._regrade_rate = parse_rate(self.regrade_rate, "regrade_rate")

    @validate("max_active_runs", "max_queue_depth")
    def _not_negative(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise TraitError(f"{proposal['trait'].name} must be 0 (no cap) or more, not {value}")
        return value

    def __init__(self, redis_url: str = "", prefix: str = "muscode", **kwargs: Any) -> None:
        """``redis_url``: share the counts through Redis (every server process sees the
        same); empty: count in this process."""
        super().__init__(**kwargs)
        self._parse_rates()
        self.storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            # redis-py (already a dependency), not the library's default client.
            self.storage = RedisStorage(uri, implementation="redispy", key_prefix=f"{prefix}:rate")
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    def _rate(self, caller: Caller) -> tuple[RateLimitItem, str]:
        if caller.via == "token" and caller.has("grade"):
            return self._grader_rate, "grader"
        return self._user_rate, "user"

    async def hit(self, caller: Caller, cost: int = 1) -> None:
        """Count ``cost`` runs for the caller; 429 with Retry-After when over the rate."""
        item, kind = self._rate(caller)
        if cost > item.amount:
            raise Invalid.field(
                "submissions",
                f"at most {item.amount} runs fit in one {kind} rate window; send fewer",
            )
        await self._hit(item, kind, caller.name, cost, "runs")

    async def hit_regrade(self, caller: Caller) -> None:
        """Count one regrade asked for by the caller; 429 with Retry-After when over
        ``regrade_rate``."""
        await self._hit(self._regrade_rate, "regrade", caller.name, 1, "regrades")

    async def _hit(self, item: RateLimitItem, kind: str, name: str, cost: int, what: str) -> None:
        try:
            if await self._limiter.hit(item, kind, name, cost=cost):
                return
            stats = await self._limiter.get_window_stats(item, kind, name)
        except Exception as e:  # the storage (Redis) is down
            log.warning("rate limit storage unavailable: %s", e)
            raise DependencyDown("redis", "the rate limiter's Redis is unavailable") from e
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"too many {what}: the limit is {item.amount} per {_window(item)}; "
            f"try again in {retry} s",
            retry_after=retry,
        )

    def check_active(self, active: int, adding: int = 1) -> None:
        cap = self.max_active_runs
        if cap and active + adding > cap:
            raise RateLimited(
                f"you have {active} runs queued or running; at most {cap} at a time. Wait "
                "for one to finish.",
                retry_after=1,
            )

    def check_depth(self, depth: int, adding: int = 1) -> None:
        cap = self.max_queue_depth
        if cap and depth + adding > cap:
            raise DependencyDown(
                "queue",
                f"the run queue is full ({depth} waiting); try again shortly",
                reason="queue_full",
            )

    async def reset(self) -> None:
        await self.storage.reset()


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
