"""``/collab/{file_id}``: a file's Yjs room over the y-websocket protocol."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import MuscodeError
from ..services.collab import Room
from .base import API_PREFIX, MuscodeMixin, websocket

#: Largest y-websocket message accepted (a whole file's update fits comfortably).
MAX_MESSAGE = 4 * 1024 * 1024


class _Channel:
    """The socket as pycrdt's ``Channel``: bytes in, bytes out, ends when it closes."""

    def __init__(self, handler: CollabHandler, path: str) -> None:
        self.handler = handler
        self._path = path
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> _Channel:
        return self

    async def __anext__(self) -> bytes:
        message = await self.incoming.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def recv(self) -> bytes:
        return await self.__anext__()

    async def send(self, message: bytes) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self.handler.write_message(message, binary=True)


class CollabHandler(WebSocketMixin, WebSocketHandler, MuscodeMixin, JupyterHandler):
    room: Room | None = None

    def set_default_headers(self) -> None:
        pass  # JupyterHandler's page headers do not apply to a websocket upgrade

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    @websocket
    async def get(self, file_id: str) -> None:
        if self._caller is None:
            raise web.HTTPError(401, "authentication required")
        if not (self._caller.has("projects") or self._caller.has("grade")):
            raise web.HTTPError(403, "this credential lacks the 'projects' scope")
        try:
            # 404 before the upgrade for a file the caller may not edit.
            self.room = await self.muscode.collab.join(self._caller, file_id)
        except MuscodeError as e:
            raise web.HTTPError(e.status, e.message) from None
        try:
            await super().get(file_id)
        finally:
            # Not upgraded (a plain GET answered 400, or the upgrade failed): no member.
            if self.ws_connection is None and self.room is not None:
                await self.muscode.collab.leave(self.room)
                self.room = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()
        assert self.room is not None
        self.channel = _Channel(self, f"{self.caller.name}:{self.request.path}")
        self._task = asyncio.create_task(self._serve(self.room))

    async def _serve(self, room: Room) -> None:
        try:
            await room.room.serve(self.channel)
        finally:
            self.room = None
            await self.muscode.collab.leave(room)
            self.close()

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, str) or len(message) > MAX_MESSAGE:
            self.close(1003, "send binary y-websocket messages")
            return
        self.channel.incoming.put_nowait(bytes(message))

    def on_close(self) -> None:
        channel = getattr(self, "channel", None)
        if channel is not None:
            channel.incoming.put_nowait(None)


default_handlers = [(rf"{API_PREFIX}/collab/(?P<file_id>[^/]+)", CollabHandler)]
