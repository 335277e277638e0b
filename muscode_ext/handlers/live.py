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
from ..services.sockets import OpenSocket
from .base import API_PREFIX, MuscodeMixin, websocket


class _LiveHandler(WebSocketMixin, WebSocketHandler, MuscodeMixin, JupyterHandler):
    """Shared plumbing: auth before the upgrade, one forwarding task per connection,
    and a seat in the registry of open sockets (closed when the credential ends)."""

    #: The class whose staff the caller must stay for this socket (None: no class).
    relies_on_class: str | None = None
    _seat: OpenSocket | None = None

    @property
    def max_message_size(self) -> int:
        # Tornado refuses a bigger frame (close 1009) from its header, before reading it.
        return int(self.muscode.sockets.max_message_size)

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
        self._seat = self.muscode.sockets.register(
            self.caller, self._end, class_id=self.relies_on_class
        )
        if self._seat.closed:
            return
        self._task = asyncio.create_task(self._forward(self.events()))

    def _end(self, code: int, reason: str) -> None:
        """Close the socket because what allowed it has ended (see services/sockets)."""
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()
        self.close(code, reason)

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
        if self._seat is not None:
            self.muscode.sockets.unregister(self._seat)
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()

    def _open_for_input(self) -> bool:
        """False once the socket is closing: nothing it sends is acted on then."""
        return (
            self.ws_connection is not None
            and not self.ws_connection.is_closing()
            and not (self._seat is not None and self._seat.closed)
        )

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
        self.relies_on_class = await self.muscode.sockets.class_watched(self.caller, execution_id)
        await super().get(execution_id)

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.muscode.executions.stream(self.caller, self.execution_id)

    async def on_message(self, message: str | bytes) -> None:
        if not self._open_for_input():
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
