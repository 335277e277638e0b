"""In-process queue: an asyncio queue drained by a fixed pool of worker tasks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .base import JobHandler, Queue

log = logging.getLogger(__name__)


class InProcessQueue(Queue):
    """The embedded default. Jobs live in the database first, so a restart re-queues
    them from there (see ``ExecutionService.recover``)."""

    name = "memory"
    runs_in_process = True

    def __init__(self, concurrency: int = 2) -> None:
        self.concurrency = concurrency
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, handler: JobHandler) -> None:
        self._stopping = False
        self._workers = [
            asyncio.create_task(self._work(handler), name=f"muscode-worker-{i}")
            for i in range(self.concurrency)
        ]

    async def _work(self, handler: JobHandler) -> None:
        # Checked as well as cancellation: a handler that swallowed the cancel must not
        # make a stopping worker take the next job (and the server wait for it forever).
        while not self._stopping:
            execution_id, handoff = await self._queue.get()
            try:
                await handler(execution_id, handoff=handoff)
            except asyncio.CancelledError:
                raise
            except Exception:  # the handler records failures; this is a last resort
                log.exception("execution %s failed in the worker", execution_id)
            finally:
                self._queue.task_done()

    async def put(self, execution_id: str, handoff: Any = None) -> None:
        self._queue.put_nowait((execution_id, handoff))

    def depth(self) -> int:
        return self._queue.qsize()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
