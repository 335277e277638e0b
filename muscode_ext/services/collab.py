"""Collaborative editing: a Yjs room per file (pycrdt, y-websocket protocol).

``GET /collab/{file_id}`` joins the room of that file. Whoever may read the file joins
(its owner, and the staff of the project's class: that is how an instructor helps a
student live); everyone else gets 404. Who may *type* is decided by
``access.may_edit_live``: what a REST write of the file needs, or the ``projects`` scope
and being the class's staff. A member who may only read (a ``grade``-only token) gets
the document and everyone's edits, but its own edits are dropped and it is told once
(see ``handlers/collab.py``). The right to type is checked again for every edit a
member sends, so a TA removed from the class stops editing at once.

The room's document holds the file's text as the ``Text`` named ``source``; edits are
saved to the file, as a new version, a moment after they stop and when the last person
leaves. A save from elsewhere (the REST API) while a room is open wins: the room takes
the saved text (the usual editor would otherwise get a 409 on its next save, and a room
silently overwriting a deliberate save would lose it).

Where the room lives: in the server process that serves the socket, or, when the
server runs with Redis, in every replica that has a member, kept as one room by a
``RoomRelay`` (``collab_redis.py``): the document's updates and the members' awareness
go through Redis, and only one replica at a time saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any, Protocol

from pycrdt import Doc, Text, TransactionEvent
from pycrdt.websocket import YRoom

from ..aio import wait_ended
from ..auth import Caller
from ..errors import Invalid, NotFound
from ..store import Database, File, Project
from .access import may_edit_live, may_read_project
from .projects import ProjectService

log = logging.getLogger(__name__)

#: Seconds of quiet after an edit before the file is saved.
SAVE_AFTER = 1.0


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RoomRelay(Protocol):
    """What keeps the copies of one room in several server processes one room."""

    async def open(self, room: Room, text: str, version: int) -> None:
        """Fill ``room.doc`` with the room's shared state (seeded from ``text`` at
        ``version`` if nobody holds the room yet), and start relaying."""

    def updated(self, update: bytes) -> None:
        """A Yjs update made here (a member's edit, or a save's), to send to the others."""

    def awareness(self, message: bytes) -> None:
        """A member's y-websocket awareness message, to send to the others."""

    #: Seconds after which a process that was refused the right to save asks again.
    retry_after: float

    async def may_save(self, wait: float = 0.0) -> bool:
        """Whether this process saves the room now (one at a time does); ``wait``:
        seconds to keep asking while another holds the right."""

    async def saved(self, version: int, sha: str) -> None:
        """This process saved the file as ``version`` with text of digest ``sha``."""

    async def close(self) -> None:
        """Stop relaying (and give up the right to save)."""


class Room:
    """One file's shared document, and the task that saves it."""

    def __init__(self, service: CollabService, file_id: str, relay: RoomRelay | None) -> None:
        self.service = service
        self.file_id = file_id
        self.relay = relay
        self.doc: Doc = Doc()
        self.text = Text()
        self.doc["source"] = self.text
        self.saved_sha = ""
        self.version = 0
        self.room = YRoom(ydoc=self.doc, ready=True, log=log)
        self.room.on_message = self._on_message
        self.members = 0
        #: True while updates from other processes are applied (they are not sent back).
        self.relaying = False
        self._changed = asyncio.Event()
        self._subscription = self.doc.observe(self._observe)
        self._running = asyncio.create_task(self.room.start(), name=f"collab-{file_id}")
        self._saver: asyncio.Task[None] | None = None
        self._opening: asyncio.Task[None] | None = None

    def _observe(self, event: TransactionEvent) -> None:
        self._changed.set()
        if self.relay is not None and not self.relaying:
            self.relay.updated(event.update)

    def _on_message(self, message: bytes) -> bool:
        if self.relay is not None and message[:1] == b"\x01":  # awareness
            self.relay.awareness(message)
        return False  # the room handles it as usual

    def apply_remote(self, update: bytes) -> None:
        """Apply an update that came from another process (not sent back)."""
        self.relaying = True
        try:
            self.doc.apply_update(update)
        finally:
            self.relaying = False

    async def opened(self, text: str, version: int) -> None:
        """Wait until the room holds the file's (or the shared) document."""
        if self._opening is None:
            self._opening = asyncio.create_task(self._open(text, version))
        await asyncio.shield(self._opening)

    async def _open(self, text: str, version: int) -> None:
        if self.relay is not None:
            await self.relay.open(self, text, version)
        else:
            with self.doc.transaction():
                self.text += text
            self.version, self.saved_sha = version, digest(text)
        self._changed.clear()
        self._saver = asyncio.create_task(
            self._save_when_quiet(), name=f"collab-save-{self.file_id}"
        )

    def take(self, text: str, version: int) -> None:
        """The file was saved elsewhere as ``version``: the room takes its text."""
        self.version = version
        self.saved_sha = digest(text)
        if str(self.text) != text:
            with self.doc.transaction():
                del self.text[:]
                self.text += text

    async def _save_when_quiet(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await asyncio.sleep(SAVE_AFTER)
            if not self._changed.is_set():
                await self.save()

    async def save(self, wait: float = 0.0) -> None:
        content = str(self.text)
        if digest(content) == self.saved_sha:
            return
        if self.relay is not None and not await self.relay.may_save(wait):
            # Another process saves this room. Should it be gone, its right runs out:
            # ask again then (nothing is done if its save reached us meanwhile).
            asyncio.get_running_loop().call_later(self.relay.retry_after, self._changed.set)
            return
        try:
            stored = await self.service.store(self.file_id, content, self.version)
        except Exception:
            log.exception("could not save the shared file %s", self.file_id)
            return
        if stored is None:
            return  # the file is gone (deleted while the room was open)
        version, text = stored
        # Saved elsewhere meanwhile (text differs): the room takes the saved text.
        self.take(text, version)
        if self.relay is not None:
            await self.relay.saved(version, self.saved_sha)

    async def close(self) -> None:
        if self._opening is not None:
            with contextlib.suppress(Exception):
                await self._opening
        if self._saver is not None:
            # The last member here left: save what is unsaved, waiting (a little) for
            # the right to save if a process that is gone still holds it.
            await self.save(wait=self.service.final_save_wait)
            self._saver.cancel()
            await wait_ended(self._saver)
        if self.relay is not None:
            await self.relay.close()
        with contextlib.suppress(RuntimeError):
            await self.room.stop()
        self._running.cancel()
        await wait_ended(self._running)
        self.doc.unobserve(self._subscription)


class RelayFactory(Protocol):
    def __call__(self, file_id: str) -> RoomRelay: ...

    async def close(self) -> None: ...


class CollabService:
    """The open rooms of this server process, by file id."""

    def __init__(
        self,
        db: Database,
        projects: ProjectService,
        relay: RelayFactory | None = None,
        final_save_wait: float = 0.0,
    ) -> None:
        """``relay``: makes each room's relay when rooms are shared between processes;
        ``final_save_wait``: seconds a room's last save waits for the right to save."""
        self.db = db
        self.projects = projects
        self.relay = relay
        self.final_save_wait = final_save_wait
        self.rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    async def rights(self, caller: Caller, file_id: str) -> tuple[File, bool, bool]:
        """The file, and whether the caller may read it and may type into it."""
        async with self.db.session() as s:
            f = await s.get(File, file_id)
            project = await s.get(Project, f.project_id) if f is not None else None
            if f is None or project is None:
                raise NotFound(f"file {file_id} not found", reason="file_not_found")
            return (
                f,
                await may_read_project(s, caller, project),
                await may_edit_live(s, caller, project),
            )

    async def may_edit(self, caller: Caller, file_id: str) -> tuple[bool, bool]:
        """(may read, may type), asked again now (membership and classes change)."""
        try:
            _, read, write = await self.rights(caller, file_id)
        except NotFound:
            return False, False
        return read, write

    async def join(self, caller: Caller, file_id: str) -> tuple[Room, bool]:
        """The file's room (made on first join) and whether the caller may type in it;
        404 unless the caller may read the file."""
        f, read, write = await self.rights(caller, file_id)
        if not read:
            raise NotFound(f"file {file_id} not found", reason="file_not_found")
        try:
            text = f.content.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid.field("file_id", "only text files can be edited together") from None
        async with self._lock:
            room = self.rooms.get(file_id)
            if room is None:
                relay = self.relay(file_id) if self.relay is not None else None
                room = self.rooms[file_id] = Room(self, file_id, relay)
            room.members += 1
        try:
            await room.opened(text, f.version)
        except BaseException:
            await self.leave(room)
            raise
        return room, write

    async def leave(self, room: Room) -> None:
        async with self._lock:
            room.members -= 1
            if room.members > 0 or self.rooms.get(room.file_id) is not room:
                return
            del self.rooms[room.file_id]
            # Tracked, so that a server stopping meanwhile waits for this last save.
            closing = asyncio.create_task(room.close(), name=f"collab-close-{room.file_id}")
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        await asyncio.shield(closing)

    async def close(self) -> None:
        async with self._lock:
            rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            await room.close()
        if self._closing:
            await asyncio.wait(set(self._closing))
        if self.relay is not None:
            await self.relay.close()

    async def store(self, file_id: str, text: str, version: int) -> tuple[int, str] | None:
        """Save ``text`` as the file's next version if it is still at ``version``.

        Returns (the file's version, its text): the new ones, or, when the file was
        saved elsewhere meanwhile, those of that save. None if the file is gone.
        """
        saved = await self.projects.save_shared(file_id, text.encode("utf-8"), version)
        if saved is None:
            return None
        new_version, content = saved
        return new_version, content.decode("utf-8", errors="replace")

    def describe(self) -> dict[str, Any]:
        """Open rooms and their member counts (for logs and tests)."""
        return {file_id: room.members for file_id, room in self.rooms.items()}
