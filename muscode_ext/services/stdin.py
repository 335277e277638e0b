"""An interactive run's stdin that waits for its program: bounded per run and per user.

A client may type (or paste, or flood) faster than the program reads; what the program
has not read yet waits here, on the worker side of a run. It is bounded twice: per run
(``ExecutionRunner.max_pending_stdin``) and across the active runs of one user in this
process (``ExecutionRunner.max_pending_stdin_per_user``). A chunk that does not fit is
dropped, and the runner tells the run's subscribers (``stdin_backlog_full``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

#: What the run's subscribers are told when a stdin chunk did not fit.
BACKLOG_FULL = "stdin_backlog_full"


class UserShares:
    """Bytes of pending stdin held by each user's runs in this process."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}

    def add(self, user: str, n: int) -> None:
        total = self.held.get(user, 0) + n
        if total > 0:
            self.held[user] = total
        else:
            self.held.pop(user, None)


class StdinBacklog:
    """One run's pending stdin: what came with the request, then chunks until the end."""

    def __init__(self, user: str, shares: UserShares, *, limit: int, user_limit: int) -> None:
        self.user = user
        self.shares = shares
        self.limit = limit
        self.user_limit = user_limit
        self.pending = 0
        #: Whether the subscribers were told it is full (again once it has drained).
        self.told = False
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closed = False

    def offer(self, chunk: bytes) -> bool:
        """Queue ``chunk`` for the program; False (and dropped) when it does not fit."""
        if self._closed:
            return True
        n = len(chunk)
        if (
            self.pending + n > self.limit
            or self.shares.held.get(self.user, 0) + n > self.user_limit
        ):
            return False
        self.pending += n
        self.shares.add(self.user, n)
        self._queue.put_nowait(chunk)
        return True

    def end(self) -> None:
        """End of input: the program reads EOF once it has read what waits."""
        self._queue.put_nowait(None)

    def drained(self) -> bool:
        """Back under half the limit: a new overflow is worth telling about again."""
        return self.pending <= self.limit // 2

    async def chunks(self, first: bytes) -> AsyncIterator[bytes]:
        """What came with the request, then the chunks as they come, until the end."""
        if first:
            yield first
        while True:
            chunk = await self._queue.get()
            if chunk is None:
                return
            self._take(len(chunk))
            yield chunk

    def _take(self, n: int) -> None:
        self.pending -= n
        self.shares.add(self.user, -n)

    def close(self) -> None:
        """The run has ended: give back what its program never read."""
        self._closed = True
        self.shares.add(self.user, -self.pending)
        self.pending = 0
        while not self._queue.empty():
            self._queue.get_nowait()


__all__ = ["BACKLOG_FULL", "StdinBacklog", "UserShares"]
