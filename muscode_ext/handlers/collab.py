"""``/collab/{file_id}``: a file's Yjs room over the y-websocket protocol.

A member who may not type (see ``services/collab.py``) still gets the document, the
others' edits and their awareness; its own document updates (sync step 2 and update
messages) are dropped, and it is told once, with y-websocket's own notice, an auth
message (type 2) of kind "permission denied" (0) whose reason is JSON:
``{"message": "...", "reason": "read_only"}``. The right to type is checked again for
every edit; a member who may no longer even read the file is disconnected (4403).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from pycrdt import YMessageType, YSyncMessageType, write_var_uint
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import MuscodeError
from ..services.collab import Room
from ..services.sockets import OpenSocket
from .base import API_PREFIX, MuscodeMixin, websocket

#: Messages of one member waiting for the room to apply them.
MAX_PENDING = 16

#: y-websocket's auth message and its "permission denied" kind (y-protocols/auth).
AUTH_MESSAGE = 2
PERMISSION_DENIED = 0
EDITS = (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE)


def is_edit(message: bytes) -> bool:
    """Does this y-websocket message change the document?"""
    return len(message) > 1 and message[0] == YMessageType.SYNC and message[1] in EDITS


def read_only_notice(message: str) -> bytes:
    reason = json.dumps({"message": message, "reason": "read_only"}).encode("utf-8")
    return bytes([AUTH_MESSAGE, PERMISSION_DENIED]) + write_var_uint(len(reason)) + reason


class _Channel:
    """The socket as pycrdt's ``Channel``: bytes in, bytes out, ends when it closes."""

    def __init__(self, handler: CollabHandler, path: str) -> None:
        self.handler = handler
        self._path = path
        # Bounded: a client that sends faster than the room applies waits (TCP
        # back-pressure) instead of growing this queue.
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=MAX_PENDING)

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> _Channel:
        return self

    async def __anext__(self) -> bytes:
        while True:
            message = await self.incoming.get()
            if message is None:
                raise StopAsyncIteration
            if not is_edit(message) or await self.handler.may_edit():
                return message

    async def recv(self) -> bytes:
        return await self.__anext__()

    def stop(self) -> None:
        """No more messages: the room lets this member go."""
        while self.incoming.full():
            self.incoming.get_nowait()  # the socket is gone: what waits is moot
        self.incoming.put_nowait(None)

    async def send(self, message: bytes) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self.handler.write_message(message, binary=True)


class CollabHandler(WebSocketMixin, WebSocketHandler, MuscodeMixin, JupyterHandler):
    room: Room | None = None
    #: May this member type (as of the last check)? Told once when it may not.
    writable = False
    told = False
    #: The class whose staff the caller must stay to edit here (None: their own file).
    relies_on_class: str | None = None
    _seat: OpenSocket | None = None

    @property
    def max_message_size(self) -> int:
        # Tornado refuses a bigger frame (close 1009) from its header, before reading it.
        return int(self.muscode.sockets.max_collab_message_size)

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
            self.room, self.writable = await self.muscode.collab.join(self._caller, file_id)
        except MuscodeError as e:
            raise web.HTTPError(e.status, e.message) from None
        try:
            self.relies_on_class = await self.muscode.sockets.class_edited(self._caller, file_id)
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
        self._seat = self.muscode.sockets.register(
            self.caller, self._end, class_id=self.relies_on_class
        )
        self._task = asyncio.create_task(self._serve(self.room))
        if not self.writable:
            self._tell_read_only()

    def _tell_read_only(self) -> None:
        if self.told:
            return
        self.told = True
        notice = read_only_notice(
            "you may view this file but not edit it: your changes are not applied"
        )
        self._notice = asyncio.create_task(self.channel.send(notice))

    async def may_edit(self) -> bool:
        """Ask again whether this member may type (before each edit is applied)."""
        file_id = self.path_kwargs["file_id"]
        read, self.writable = await self.muscode.collab.may_edit(self.caller, file_id)
        if not read:
            self.close(4403, "you may no longer see this file")
        elif not self.writable:
            self._tell_read_only()
        else:
            self.told = False  # told again should the right go later
        return self.writable

    def _end(self, code: int, reason: str) -> None:
        """Close the socket because what allowed it has ended: nothing more it sent
        reaches the room (see services/sockets)."""
        self.channel.stop()
        self.close(code, reason)

    async def _serve(self, room: Room) -> None:
        try:
            await room.room.serve(self.channel)
        finally:
            self.room = None
            # Nobody reads the channel now: free a message waiting to be put in it.
            while not self.channel.incoming.empty():
                self.channel.incoming.get_nowait()
            await self.muscode.collab.leave(room)
            self.close()

    async def on_message(self, message: str | bytes) -> None:
        if self._seat is not None and self._seat.closed:
            return
        if isinstance(message, str):
            self.close(1003, "send binary y-websocket messages")
            return
        # Tornado reads the next frame only once this returns.
        await self.channel.incoming.put(bytes(message))

    def on_close(self) -> None:
        if self._seat is not None:
            self.muscode.sockets.unregister(self._seat)
        channel = getattr(self, "channel", None)
        if channel is not None:
            channel.stop()


default_handlers = [(rf"{API_PREFIX}/collab/(?P<file_id>[^/]+)", CollabHandler)]
