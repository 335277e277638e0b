"""In-process queue: two lanes (interactive, bulk) drained by a fixed pool of worker
tasks; a free worker takes an interactive job first, and at most ``bulk_slots`` workers
run bulk jobs at once."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from .base import BULK, INTERACTIVE, LANES, JobHandler, Lane, Queue

log = logging.getLogger(__name__)


class InProcessQueue(Queue):
    """The embedded default. Jobs live in the database first, so a restart re-queues
    them from there (see ``ExecutionService.recover``)."""

    name = "memory"
    runs_in_process = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lanes: dict[Lane, deque[tuple[str, Any]]] = {lane: deque() for lane in LANES}
        self._changed = asyncio.Condition()
        self._bulk_running = 0
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, handler: JobHandler) -> None:
        self._stopping = False
        self._workers = [
            asyncio.create_task(self._work(handler), name=f"muscode-worker-{i}")
            for i in range(self.concurrency)
        ]

    async def _next(self) -> tuple[Lane, str, Any]:
        """The next job this worker may take: interactive first, bulk while a bulk
        slot is free."""
        async with self._changed:
            while True:
                if self._lanes[INTERACTIVE]:
                    return (INTERACTIVE, *self._lanes[INTERACTIVE].popleft())
                if self._lanes[BULK] and self._bulk_running < self.bulk_slots:
                    self._bulk_running += 1
                    return (BULK, *self._lanes[BULK].popleft())
                await self._changed.wait()

    async def _work(self, handler: JobHandler) -> None:
        # Checked as well as cancellation: a handler that swallowed the cancel must not
        # make a stopping worker take the next job (and the server wait for it forever).
        while not self._stopping:
            lane, execution_id, handoff = await self._next()
            try:
                await handler(execution_id, handoff=handoff)
            except asyncio.CancelledError:
                raise
            except Exception:  # the handler records failures; this is a last resort
                log.exception("execution %s failed in the worker", execution_id)
            finally:
                if lane == BULK:
                    self._bulk_running -= 1
                    # A bulk slot is free: a worker waiting for one may take a job.
                    async with self._changed:
                        self._changed.notify_all()

    async def put(self, execution_id: str, handoff: Any = None, lane: Lane = INTERACTIVE) -> None:
        async with self._changed:
            self._lanes[lane].append((execution_id, handoff))
            self._changed.notify_all()

    def depth(self, lane: Lane | None = None) -> int:
        if lane is None:
            return sum(len(q) for q in self._lanes.values())
        return len(self._lanes[lane])

    async def stop(self) -> None:
        self._stopping = True
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
