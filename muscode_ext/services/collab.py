"""Collaborative editing of one file: a Yjs room per file (pycrdt, y-websocket protocol).

``GET /collab/{file_id}`` joins the room of that file. The project's owner may join, and
so may the staff (TAs, instructors) of the project's class: that is how an instructor
helps a student live. Everyone else gets 404. The room's document holds the file's text
as the ``Text`` named ``source``; edits are saved to the file, as a new version, a
moment after they stop and when the last person leaves.

A save from elsewhere (the REST API) while a room is open wins: the room takes the
saved text (the usual editor would otherwise get a 409 on its next save, and a room
silently overwriting a deliberate save would lose it). Rooms live in the server process
that serves the socket; under JupyterHub that is the one ``muscode`` service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pycrdt import Doc, Text
from pycrdt.websocket import YRoom

from ..aio import wait_ended
from ..auth import Caller
from ..errors import Invalid, NotFound
from ..store import Database, File, Project
from .projects import ProjectService

log = logging.getLogger(__name__)

#: Seconds of quiet after an edit before the file is saved.
SAVE_AFTER = 1.0


class Room:
    """One file's shared document, and the task that saves it."""

    def __init__(self, service: CollabService, file_id: str, text: str, version: int) -> None:
        self.service = service
        self.file_id = file_id
        self.doc: Doc = Doc()
        self.text = Text(text)
        self.doc["source"] = self.text
        self.saved = text
        self.version = version
        self.room = YRoom(ydoc=self.doc, ready=True, log=log)
        self.members = 0
        self._changed = asyncio.Event()
        self._subscription = self.doc.observe(lambda _event: self._changed.set())
        self._running = asyncio.create_task(self.room.start(), name=f"collab-{file_id}")
        self._saver = asyncio.create_task(self._save_when_quiet(), name=f"collab-save-{file_id}")

    async def _save_when_quiet(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await asyncio.sleep(SAVE_AFTER)
            if not self._changed.is_set():
                await self.save()

    async def save(self) -> None:
        content = str(self.text)
        if content == self.saved:
            return
        try:
            stored = await self.service.store(self.file_id, content, self.version)
        except Exception:
            log.exception("could not save the shared file %s", self.file_id)
            return
        if stored is None:
            return  # the file is gone (deleted while the room was open)
        version, text = stored
        self.version = version
        self.saved = text
        if text != content:
            # Saved elsewhere meanwhile: the room takes the saved text.
            with self.doc.transaction():
                del self.text[:]
                self.text += text
            self.saved = text

    async def close(self) -> None:
        await self.save()
        self._saver.cancel()
        await wait_ended(self._saver)
        with contextlib.suppress(RuntimeError):
            await self.room.stop()
        self._running.cancel()
        await wait_ended(self._running)
        self.doc.unobserve(self._subscription)


class CollabService:
    """The open rooms of this server process, by file id."""

    def __init__(self, db: Database, projects: ProjectService) -> None:
        self.db = db
        self.projects = projects
        self.rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()

    async def join(self, caller: Caller, file_id: str) -> Room:
        """The file's room (made on first join); 404 unless the caller may edit it."""
        missing = NotFound(f"file {file_id} not found", reason="file_not_found")
        async with self.db.session() as s:
            f = await s.get(File, file_id)
            project = await s.get(Project, f.project_id) if f is not None else None
            if f is None or project is None or project.deleted_at is not None:
                raise missing
            owner = caller.has("projects") and caller.can_see_owner(project.owner)
            if not owner and not await self.projects._is_class_staff(s, caller, project.class_id):
                raise missing
            try:
                text = f.content.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid.field("file_id", "only text files can be edited together") from None
            version = f.version
        async with self._lock:
            room = self.rooms.get(file_id)
            if room is None:
                room = self.rooms[file_id] = Room(self, file_id, text, version)
            room.members += 1
            return room

    async def leave(self, room: Room) -> None:
        async with self._lock:
            room.members -= 1
            if room.members > 0 or self.rooms.get(room.file_id) is not room:
                return
            del self.rooms[room.file_id]
        await room.close()

    async def close(self) -> None:
        async with self._lock:
            rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            await room.close()

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
