"""The job queue contract: execution ids in, a handler called for each, at most
``concurrency`` at a time. Implementations: in-process (embedded default); Redis
(separate ``muscode-worker`` processes) plugs in behind the same interface."""

from __future__ import annotations

import abc
from collections.abc import Awaitable
from typing import Any, Protocol


class JobHandler(Protocol):
    """Called with one execution id; must not raise (it records failures itself).

    ``redelivered`` is true when the queue hands out a job again because the worker
    that had it stopped (was killed) before finishing it. ``handoff`` is what the
    submitter passed to :meth:`Queue.put` when the queue runs jobs in this process.
    """

    def __call__(
        self, execution_id: str, *, redelivered: bool = False, handoff: Any = None
    ) -> Awaitable[None]: ...


class Queue(abc.ABC):
    name: str = ""
    #: True when this server process is the only worker (the in-process queue): runs it
    #: left ``running`` when it stopped can be finished at the next start.
    runs_in_process: bool = False

    @abc.abstractmethod
    async def start(self, handler: JobHandler) -> None:
        """Start consuming jobs with ``handler``."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop consuming; jobs in flight are cancelled, queued ones stay queued."""

    @abc.abstractmethod
    async def put(self, execution_id: str, handoff: Any = None) -> None:
        """Enqueue one execution (its database row exists already).

        ``handoff`` (the stored row) reaches the handler only when the job runs in this
        process; a queue that crosses processes drops it, and the handler reads the row.
        """

    @abc.abstractmethod
    def depth(self) -> int:
        """Jobs waiting (not yet running)."""

    async def check(self) -> str | None:
        """None when the queue works, else a sentence saying why not."""
        return None
