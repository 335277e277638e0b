"""``Sockets``: the open websockets of one server process, and the credentials they rely on.

A websocket is authenticated once, at its upgrade; what allowed it can end while it
stays open. Each open socket (a run's live channel, ``/events``, ``/collab``) is
recorded here with what it relies on: the bearer token it was opened with (its id and
expiry) and, for staff watching or editing a student's work, the class whose staff
they are. The socket is closed, within a moment, when

- its token is revoked (``DELETE /tokens/{id}``): close code 4401;
- its token expires (the JWT's ``exp``): close code 4401;
- its holder leaves the class it relied on, or stops being its staff (a roster
  ``DELETE`` or ``PATCH``), or the class is deleted: close code 4403.

Revocations and roster changes are announced on the event bus, so every server process
(Redis mode) closes its own sockets, not only the one that served the change. Each
process also applies them at once itself, before the bus delivers them.

The part also owns the size caps of the messages a client may send on a socket
(``docs/limits.md``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from traitlets import Int
from traitlets.config import LoggingConfigurable

from ..aio import wait_ended
from ..auth import Caller
from ..events import EventBus
from ..store import Database, Execution, File, Project
from .access import STAFF_ROLES

log = logging.getLogger(__name__)

#: The credential the socket was opened with was revoked or has expired.
CREDENTIAL_GONE = 4401
#: The caller may no longer do what the socket does (left the class, lost its role).
NOT_ALLOWED = 4403

#: The bus channel (a reserved name: no user has a "/") that carries socket signals.
SIGNALS = "muscode/sockets"

#: How long a revoked token id is remembered for sockets that were being opened while
#: it was revoked (seconds).
_REMEMBER_REVOKED = 120.0

CloseSocket = Callable[[int, str], None]


@dataclass(eq=False)
class OpenSocket:
    """One open websocket and what it relies on."""

    close: CloseSocket
    user: str
    token_id: str | None = None
    #: The token's expiry (seconds since the epoch), if it was opened with one.
    expires_at: float | None = None
    #: The class whose staff the holder must stay (None: it relies on no class).
    class_id: str | None = None
    timer: asyncio.TimerHandle | None = None
    closed: bool = False

    def end(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        try:
            self.close(code, reason)
        except Exception:
            log.exception("could not close a websocket of %s", self.user)


class Sockets(LoggingConfigurable):
    """The registry of open websockets (see the module docstring)."""

    max_message_size = Int(
        64 * 1024,
        help="""Largest message, in bytes, a client may send on a run's live channel or
        on /events (a stdin chunk). A bigger frame closes the socket with code 1009
        before it is read.""",
    ).tag(config=True)

    max_collab_message_size = Int(
        4 * 1024 * 1024,
        help="""Largest y-websocket message, in bytes, a client may send on /collab. A
        bigger frame closes the socket with code 1009 before it is read.""",
    ).tag(config=True)

    def __init__(self, bus: EventBus, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bus = bus
        self.db = db
        self._open: set[OpenSocket] = set()
        self._revoked: dict[str, float] = {}
        self._listener: asyncio.Task[None] | None = None

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Follow the signals other server processes send (idempotent: the server's
        start hook calls it, and so does the first socket that opens)."""
        self._ensure_listening()

    def _ensure_listening(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="muscode-sockets")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await wait_ended(self._listener)
            self._listener = None
        for entry in list(self._open):
            entry.end(1001, "the server is stopping")
        self._open.clear()

    # -- sockets --------------------------------------------------------------------

    def register(
        self, caller: Caller, close: CloseSocket, *, class_id: str | None = None
    ) -> OpenSocket:
        """Record an open socket of ``caller``; ``close(code, reason)`` ends it.

        ``class_id``: the class whose staff the caller must stay for the socket to stay
        open (a TA watching a student's run). Unregister it when it closes.
        """
        self._ensure_listening()
        exp = caller.claims.get("exp") if caller.via == "token" else None
        entry = OpenSocket(
            close=close,
            user=caller.name,
            token_id=caller.token_id if caller.via == "token" else None,
            expires_at=float(exp) if isinstance(exp, (int, float)) else None,
            class_id=class_id,
        )
        if entry.token_id is not None and entry.token_id in self._revoked:
            # Revoked while this socket was being opened.
            entry.end(CREDENTIAL_GONE, "the token has been revoked")
            return entry
        if entry.expires_at is not None:
            left = entry.expires_at - time.time()
            if left <= 0:
                entry.end(CREDENTIAL_GONE, "the token has expired")
                return entry
            loop = asyncio.get_running_loop()
            entry.timer = loop.call_later(left, self._expire, entry)
        self._open.add(entry)
        return entry

    async def class_watched(self, caller: Caller, execution_id: str) -> str | None:
        """The class whose staff ``caller`` must stay to watch this run: None when the
        run is theirs (or they are an admin), else its project's class."""
        async with self.db.session() as s:
            row = await s.get(Execution, execution_id)
            if row is None or (caller.has("execute") and caller.can_see_owner(row.owner)):
                return None
            project = await s.get(Project, row.project_id) if row.project_id else None
            return project.class_id if project is not None else None

    async def class_edited(self, caller: Caller, file_id: str) -> str | None:
        """The class whose staff ``caller`` must stay to edit this file together: None
        when the project is theirs (or they are an admin), else its class."""
        async with self.db.session() as s:
            f = await s.get(File, file_id)
            project = await s.get(Project, f.project_id) if f is not None else None
            if project is None or (caller.has("projects") and caller.can_see_owner(project.owner)):
                return None
            return project.class_id

    def unregister(self, entry: OpenSocket) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
        self._open.discard(entry)

    def count(self) -> int:
        """How many sockets are open here (for tests and logs)."""
        return len(self._open)

    def _expire(self, entry: OpenSocket) -> None:
        self._open.discard(entry)
        entry.end(CREDENTIAL_GONE, "the token has expired")

    # -- what ends them -------------------------------------------------------------

    async def token_revoked(self, token_id: str) -> None:
        """Close the sockets opened with the token, here and in every server process."""
        await self._signal({"kind": "token", "token_id": token_id})

    async def roster_changed(self, class_id: str, user: str | None, role: str | None) -> None:
        """``user``'s role in the class is now ``role`` (None: they left it; a None
        ``user``: the class is gone). Sockets that relied on being its staff close."""
        await self._signal({"kind": "roster", "class_id": class_id, "user": user, "role": role})

    async def _signal(self, signal: dict[str, Any]) -> None:
        self.apply(signal)
        await self.bus.notify(SIGNALS, signal)

    def apply(self, signal: dict[str, Any]) -> None:
        """Close the sockets of this process that ``signal`` ends (idempotent)."""
        kind = signal.get("kind")
        if kind == "token" and isinstance(signal.get("token_id"), str):
            token_id = signal["token_id"]
            self._remember_revoked(token_id)
            self._close(
                lambda e: e.token_id == token_id, CREDENTIAL_GONE, "the token has been revoked"
            )
        elif kind == "roster" and isinstance(signal.get("class_id"), str):
            class_id, user, role = signal["class_id"], signal.get("user"), signal.get("role")
            if role in STAFF_ROLES:
                return
            self._close(
                lambda e: e.class_id == class_id and (user is None or e.user == user),
                NOT_ALLOWED,
                "you are no longer staff of this class",
            )

    def _close(self, matches: Callable[[OpenSocket], bool], code: int, reason: str) -> None:
        ended = [e for e in self._open if matches(e)]
        for entry in ended:
            self._open.discard(entry)
            entry.end(code, reason)
        if ended:
            log.info("closed %d websocket(s): %s", len(ended), reason)

    def _remember_revoked(self, token_id: str) -> None:
        now = time.monotonic()
        for old, at in list(self._revoked.items()):
            if now - at > _REMEMBER_REVOKED:
                del self._revoked[old]
        self._revoked[token_id] = now

    async def _listen(self) -> None:
        while True:
            try:
                async for signal in self.bus.notices(SIGNALS):
                    if isinstance(signal, dict):
                        self.apply(signal)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the websocket signal listener failed; listening again")
                await asyncio.sleep(1)


__all__ = ["CREDENTIAL_GONE", "NOT_ALLOWED", "OpenSocket", "Sockets"]
