"""The job queue contract: execution ids in, a handler called for each, at most
``concurrency`` at a time. Implementations: in-process (embedded default); Redis
(separate ``muscode-worker`` processes) plugs in behind the same interface.

Two lanes keep bulk work from starving people: ``interactive`` (a person's or a
grader token's runs, someone is waiting) and ``bulk`` (grading, regrades and checks of
an assignment's tests, which the server makes by the hundred). A free worker always
takes an interactive job first, and at most ``bulk_concurrency`` of a process's workers
run bulk jobs at once, so an interactive run never waits behind a regrade.

A queue is a configurable part: ``c.Queue.concurrency`` sets every queue's,
``c.RedisQueue.concurrency`` only the Redis one's."""

from __future__ import annotations

import abc
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from traitlets import Int, TraitError, validate

from ..configurable import Part

Lane = Literal["interactive", "bulk"]
INTERACTIVE: Lane = "interactive"
BULK: Lane = "bulk"
#: In the order a free worker looks at them.
LANES: tuple[Lane, ...] = (INTERACTIVE, BULK)


class JobHandler(Protocol):
    """Called with one execution id; must not raise (it records failures itself).

    ``redelivered`` is true when the queue hands out a job again because the worker
    that had it stopped (was killed) before finishing it. ``handoff`` is what the
    submitter passed to :meth:`Queue.put` when the queue runs jobs in this process.
    """

    def __call__(
        self, execution_id: str, *, redelivered: bool = False, handoff: Any = None
    ) -> Awaitable[None]: ...


class Queue(Part):
    name: str = ""
    #: True when this server process is the only worker (the in-process queue): runs it
    #: left ``running`` when it stopped can be finished at the next start.
    runs_in_process: bool = False

    concurrency = Int(
        2,
        help="""Runs one process executes at the same time: the server with the
        in-process queue, or each `muscode-worker` with Redis.""",
    ).tag(config=True)

    bulk_concurrency = Int(
        0,
        help="""Most bulk runs (grading, regrades, checks of an assignment's tests) one
        process executes at the same time; the other workers only take interactive runs,
        and every free worker takes an interactive run before a bulk one. 0 (default):
        one fewer than `concurrency` (at least 1), so that a worker always stays free for
        interactive runs. Capped at `concurrency`.""",
    ).tag(config=True)

    @validate("concurrency")
    def _at_least_one(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 1:
            raise TraitError(f"concurrency must be at least 1, not {value}")
        return value

    @validate("bulk_concurrency")
    def _not_negative(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise TraitError(f"bulk_concurrency must be 0 (automatic) or more, not {value}")
        return value

    @property
    def bulk_slots(self) -> int:
        """How many of this process's workers may run bulk jobs at once."""
        if self.bulk_concurrency:
            return min(self.bulk_concurrency, self.concurrency)
        return max(1, self.concurrency - 1)

    @abc.abstractmethod
    async def start(self, handler: JobHandler) -> None:
        """Start consuming jobs with ``handler``."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop consuming; jobs in flight are cancelled, queued ones stay queued."""

    @abc.abstractmethod
    async def put(self, execution_id: str, handoff: Any = None, lane: Lane = INTERACTIVE) -> None:
        """Enqueue one execution (its database row exists already) in ``lane``.

        ``handoff`` (the stored row) reaches the handler only when the job runs in this
        process; a queue that crosses processes drops it, and the handler reads the row.
        """

    @abc.abstractmethod
    def depth(self, lane: Lane | None = None) -> int:
        """Jobs waiting (not yet running) in ``lane``, or in both."""

    async def check(self) -> str | None:
        """None when the queue works, else a sentence saying why not."""
        return None
