"""Back-pressure for runs: per-user rate limits, concurrent-run caps, a queue-depth cap.

Rates use the ``limits`` library (a moving window) on memory storage for an embedded
server, or on Redis when the server has one, so that every server process shares the
counts. Grader tokens (bearer tokens with the ``grade`` scope) have their own limit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

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


@dataclass(frozen=True)
class RunLimits:
    user_rate: RateLimitItem
    grader_rate: RateLimitItem
    max_active_per_user: int
    max_queue_depth: int


class RunLimiter:
    def __init__(self, limits: RunLimits, redis_url: str = "", prefix: str = "muscode") -> None:
        self.limits = limits
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
            return self.limits.grader_rate, "grader"
        return self.limits.user_rate, "user"

    async def hit(self, caller: Caller, cost: int = 1) -> None:
        """Count ``cost`` runs for the caller; 429 with Retry-After when over the rate."""
        item, kind = self._rate(caller)
        if cost > item.amount:
            raise Invalid.field(
                "submissions",
                f"at most {item.amount} runs fit in one {kind} rate window; send fewer",
            )
        try:
            if await self._limiter.hit(item, kind, caller.name, cost=cost):
                return
            stats = await self._limiter.get_window_stats(item, kind, caller.name)
        except Exception as e:  # the storage (Redis) is down
            log.warning("rate limit storage unavailable: %s", e)
            raise DependencyDown("redis", "the rate limiter's Redis is unavailable") from e
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"too many runs: the limit is {item.amount} per {_window(item)}; "
            f"try again in {retry} s",
            retry_after=retry,
        )

    def check_active(self, active: int, adding: int = 1) -> None:
        cap = self.limits.max_active_per_user
        if cap and active + adding > cap:
            raise RateLimited(
                f"you have {active} runs queued or running; at most {cap} at a time. Wait "
                "for one to finish.",
                retry_after=1,
            )

    def check_depth(self, depth: int, adding: int = 1) -> None:
        cap = self.limits.max_queue_depth
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
