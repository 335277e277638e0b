"""asyncio helpers shared by the services and the sandboxes."""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_ended(*tasks: asyncio.Future[Any] | None) -> None:
    """Wait until ``tasks`` (typically just cancelled) have ended.

    ``with suppress(CancelledError): await task`` would also swallow a cancellation of
    the *caller* that arrives meanwhile, and the caller would then go on as if nothing
    happened (a queue worker told to stop would take the next job instead). Here the
    tasks' own cancellation or failure is theirs, and the caller's propagates. Their
    exceptions are retrieved, so asyncio does not report them as never retrieved.
    """
    pending = [task for task in tasks if task is not None]
    if not pending:
        return
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled():
            task.exception()
