"""asyncio helpers: waiting for stopped tasks without losing our own cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from muscode_ext.aio import wait_ended


async def _slow_to_stop() -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        await asyncio.sleep(0.2)  # cleaning up takes a while
        raise


async def test_a_cancellation_that_arrives_while_waiting_is_never_swallowed() -> None:
    """A queue worker told to stop while it waits for a helper task to end must stop,
    not go on to the next job (``suppress(CancelledError)`` would let it go on)."""

    helpers: list[asyncio.Task[None]] = []

    async def worker(wait: str) -> str:
        helper = asyncio.create_task(_slow_to_stop())
        helpers.append(helper)
        await asyncio.sleep(0)
        helper.cancel()
        if wait == "suppress":
            with contextlib.suppress(asyncio.CancelledError):
                await helper
        else:
            await wait_ended(helper)
        return "went on"

    swallowing = asyncio.create_task(worker("suppress"))
    careful = asyncio.create_task(worker("wait_ended"))
    await asyncio.sleep(0.05)
    swallowing.cancel()
    careful.cancel()
    assert await swallowing == "went on"  # the bug this helper exists for
    with pytest.raises(asyncio.CancelledError):
        await careful
    await asyncio.wait(helpers)


async def test_the_tasks_own_end_is_theirs() -> None:
    """A helper that was cancelled, or that failed, ends the wait quietly."""

    async def fails() -> None:
        raise ValueError("boom")

    failed = asyncio.create_task(fails())
    cancelled = asyncio.create_task(_slow_to_stop())
    await asyncio.sleep(0)
    cancelled.cancel()
    await wait_ended(failed, cancelled, None)
    assert cancelled.cancelled()
    assert isinstance(failed.exception(), ValueError)


async def test_a_stopping_queue_worker_takes_no_next_job_even_if_a_handler_swallows() -> None:
    """The in-process queue stops even when a job's handler swallowed the cancellation
    (the server's shutdown must not wait forever on a worker gone back to its queue)."""
    from muscode_ext.queue.memory import InProcessQueue

    queue = InProcessQueue(concurrency=1)
    started, seen = asyncio.Event(), []

    async def handler(execution_id: str, **_: object) -> None:
        seen.append(execution_id)
        started.set()
        with contextlib.suppress(asyncio.CancelledError):  # a careless handler
            await asyncio.sleep(10)

    await queue.start(handler)
    await queue.put("first")
    await queue.put("second")
    await started.wait()
    await asyncio.wait_for(queue.stop(), 5)
    assert seen == ["first"]
