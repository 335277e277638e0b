"""Websockets: a run's live channel and the caller's notices.

Each handler is an adapter: authenticate, check the ``execute`` permission
explicitly, then forward between the socket and one per-connection channel object.
Every task a connection starts is tracked and cancelled when it closes. Origin
checks are Jupyter's own (``check_origin`` is not overridden).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import MuscodeError
from .base import API_PREFIX, MuscodeMixin, websocket

#: Largest message a client may send (stdin chunks); bigger ones close the socket.
MAX_MESSAGE = 64 * 1024


class _LiveHandler(WebSocketMixin, WebSocketHandler, MuscodeMixin, JupyterHandler):
    """Shared plumbing: auth before the upgrade, one forwarding task per connection."""

    def set_default_headers(self) -> None:
        # JupyterHandler's defaults (CSP and friends) do not apply to a websocket upgrade.
        pass

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    def _authorize(self) -> None:
        """The execute permission, checked explicitly for sockets (STYLE 5)."""
        if self._caller is None:
            raise web.HTTPError(401, "authentication required")
        if not self._caller.has("execute"):
            raise web.HTTPError(403, "this credential lacks the 'execute' scope")

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()  # starts Jupyter's ping loop
        self._task = asyncio.create_task(self._forward(self.events()))

    def events(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def _forward(self, events: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async for event in events:
                await self.write_message(json.dumps(event, ensure_ascii=False))
                if event.get("type") == "done":
                    self.close(1000, "done")
                    return
        except (WebSocketClosedError, asyncio.CancelledError):
            pass
        except MuscodeError as e:
            with contextlib.suppress(WebSocketClosedError):
                await self.write_message(json.dumps({"type": "error", **e.body()}))
            self.close(4000 + e.status, e.message[:120])
        except Exception:
            self.log.exception("MUSCode websocket failed")
            self.close(1011, "internal error")

    def on_close(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()

    async def _reply_error(self, message: str, reason: str) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self.write_message(
                json.dumps({"type": "error", "message": message, "reason": reason})
            )


class ExecutionStreamHandler(_LiveHandler):
    """``/executions/{id}/stream``: status, stdout, stderr, done; stdin, eof, cancel."""

    @websocket
    async def get(self, execution_id: str) -> None:
        self._authorize()
        self.execution_id = execution_id
        try:
            # 404 before the upgrade for a run the caller may not see.
            await self.muscode.executions.get(self.caller, execution_id)
        except MuscodeError as e:
            raise web.HTTPError(e.status, e.message) from None
        await super().get(execution_id)

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.muscode.executions.stream(self.caller, self.execution_id)

    async def on_message(self, message: str | bytes) -> None:
        if len(message) > MAX_MESSAGE:
            self.close(1009, "message too big")
            return
        try:
            data = json.loads(message)
            kind = data.get("type") if isinstance(data, dict) else None
        except ValueError:
            kind = None
        executions = self.muscode.executions
        try:
            if kind == "cancel":
                await executions.cancel(self.caller, self.execution_id)
            elif kind == "stdin" and isinstance(data.get("data"), str):
                await executions.send_input(
                    self.caller, self.execution_id, {"type": "stdin", "data": data["data"]}
                )
            elif kind == "eof":
                await executions.send_input(self.caller, self.execution_id, {"type": "eof"})
            else:
                await self._reply_error(
                    'send {"type": "stdin", "data": "..."}, {"type": "eof"} or {"type": "cancel"}',
                    "bad_message",
                )
        except MuscodeError as e:
            await self._reply_error(e.message, e.reason)


class EventsHandler(_LiveHandler):
    """``/events``: the caller's own run status changes (and, later, file notices)."""

    @websocket
    async def get(self) -> None:
        self._authorize()
        await super().get()

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.muscode.executions.notices(self.caller)

    def on_message(self, message: str | bytes) -> None:
        # The notice channel is one-way; anything sent is ignored.
        pass


default_handlers = [
    (rf"{API_PREFIX}/executions/(?P<execution_id>[^/]+)/stream", ExecutionStreamHandler),
    (rf"{API_PREFIX}/events", EventsHandler),
]
