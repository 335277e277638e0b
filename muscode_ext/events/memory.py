"""In-process event bus (the embedded default): lists and conditions, one process."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from .base import Event, EventBus, backlog_full, replay_full

log = logging.getLogger(__name__)


def _longer(items: list[Event], than: int) -> bool:
    return len(items) > than


class _Channel:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Condition()
        #: Bytes of output kept for replay (plus a little per event).
        self.kept = 0
        #: Output is no longer kept (past EventBus.max_replay_bytes).
        self.full = False


class InProcessEventBus(EventBus):
    name = "memory"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runs: dict[str, _Channel] = defaultdict(_Channel)
        self._controls: dict[str, _Channel] = defaultdict(_Channel)
        self._listeners: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._expiry: dict[str, asyncio.TimerHandle] = {}

    async def publish(self, execution_id: str, event: Event) -> int:
        channel = self._runs[execution_id]
        async with channel.changed:
            if event.get("type") in ("stdout", "stderr"):
                if channel.full:
                    return len(channel.events)
                channel.kept += len(event.get("data") or "") + 100
                if channel.kept > self.max_replay_bytes:
                    channel.full = True
                    event = replay_full(self.max_replay_bytes)
            seq = len(channel.events) + 1
            channel.events.append({**event, "seq": seq})
            channel.changed.notify_all()
        return seq

    async def subscribe(self, execution_id: str, after: int = 0) -> AsyncIterator[Event]:
        channel = self._runs[execution_id]
        seen = after
        while True:
            async with channel.changed:
                await channel.changed.wait_for(functools.partial(_longer, channel.events, seen))
                batch = channel.events[seen:]
            for event in batch:
                seen = event["seq"]
                yield event
                if event.get("type") == "done":
                    return

    async def notify(self, user: str, event: Event) -> None:
        for queue in list(self._listeners.get(user, ())):
            if queue.full():
                log.warning("a slow /events listener of %s lost a notice", user)
                continue
            queue.put_nowait(event)

    async def notices(self, user: str) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.max_pending_notices)
        self._listeners[user].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners[user].discard(queue)
            if not self._listeners[user]:
                del self._listeners[user]

    async def control(self, execution_id: str, message: Event) -> None:
        channel = self._controls[execution_id]
        async with channel.changed:
            if len(channel.events) >= self.max_control_backlog:
                raise backlog_full(execution_id, self.max_control_backlog)
            channel.events.append(dict(message))
            channel.changed.notify_all()

    async def controls(self, execution_id: str) -> AsyncIterator[Event]:
        """The run's control messages; each is handed out once and then forgotten (one
        reader: the run's worker), so only those not yet taken take memory."""
        channel = self._controls[execution_id]
        while True:
            async with channel.changed:
                await channel.changed.wait_for(functools.partial(_longer, channel.events, 0))
                batch, channel.events = channel.events, []
            for message in batch:
                yield message

    async def finished(self, execution_id: str) -> None:
        loop = asyncio.get_running_loop()
        old = self._expiry.pop(execution_id, None)
        if old is not None:
            old.cancel()
        self._expiry[execution_id] = loop.call_later(self.retention, self._expire, execution_id)

    def _expire(self, execution_id: str) -> None:
        self._expiry.pop(execution_id, None)
        self._runs.pop(execution_id, None)
        self._controls.pop(execution_id, None)

    def known(self, execution_id: str) -> bool:
        return execution_id in self._runs

    async def close(self) -> None:
        for handle in self._expiry.values():
            handle.cancel()
        self._expiry.clear()
