"""Shared collaborative rooms through Redis: one room whatever replica each member reaches.

Each replica that has members in a file's room holds a copy of its Yjs document; a
``RedisRoomRelay`` keeps the copies one document:

- The room's **log** (a Redis stream, ``P:collab:{file}:log``) holds every Yjs update
  made in any replica, in order, and the **save marks** (the version a save made and
  the digest of its text). The first replica to open the room seeds the log with the
  file's text (one atomic script: if the log already exists, nobody seeds it again).
  A replica opening the room replays the whole log, so a joiner on replica B gets the
  current document even when edits made on replica A are not saved yet, and then reads
  the log's new entries as they come (XREAD from the last entry it applied: no gap, no
  duplicate). Yjs updates are idempotent and commute, so the copies converge.
- **Awareness** (cursors, names) goes on a second, capped stream, read the same way.
- **Saves**: one replica at a time saves the room, the holder of a short lease
  (``P:collab:{file}:saver``, renewed at each save). Others skip their save; should the
  holder's process die, its lease runs out and the next replica to save takes it. A
  save adds its mark to the log so that every replica knows the file's version. A save
  from elsewhere (the REST API) still wins, as in a single process: the saver finds a
  newer version and takes its text, which reaches every replica through the log. A log
  found older than the file (saved over REST after every room closed) is brought up to
  the file's text the same way.

The log expires ``log_ttl`` after its last entry; it grows with the edits of a room
that stays open (about 100 bytes an edit) and is gone a day after the room's last one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from typing import Any

from pycrdt import Doc, Text
from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from ..redis_common import (
    BLOCK_MS,
    REDIS_DOWN,
    Backoff,
    Outage,
    RedisKeys,
    cancel_all,
    close_client,
    connect,
    redis_down,
    stop_if_cancelled,
)
from .collab import Room, digest

log = logging.getLogger(__name__)

# KEYS[1]: the log. ARGV: origin, update (base64), version, digest, seconds to live.
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[1], '*', 'o', ARGV[1], 'u', ARGV[2], 's', ARGV[3], 'h', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS[1]: the saver lease. ARGV: this relay, lease in ms. 1 if this relay holds it.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

#: Awareness entries kept per room (only new ones are read; old ones are useless).
AWARENESS_KEPT = 200


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class RedisRooms(LoggingConfigurable):
    """Makes each shared room's relay; one Redis client for all of them."""

    log_ttl = Int(
        86400,
        help="""Seconds a room's log (its Yjs updates) lives in Redis after its last
        entry. It must outlive the room's longest pause.""",
    ).tag(config=True)

    saver_lease = Float(
        5.0,
        help="""Seconds the right to save a shared room lasts without renewal (each save
        renews it). When the replica holding it dies, another saves after this long.""",
    ).tag(config=True)

    def __init__(self, url: str, *, prefix: str = "muscode", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.keys = RedisKeys(prefix)
        self.redis = connect(url)
        self.seed = self.redis.register_script(_SEED)
        self.claim = self.redis.register_script(_CLAIM)
        self.release = self.redis.register_script(_RELEASE)

    def __call__(self, file_id: str) -> RedisRoomRelay:
        return RedisRoomRelay(self, file_id)

    async def close(self) -> None:
        await close_client(self.redis)


class RedisRoomRelay:
    """One replica's side of one shared room (see the module docstring)."""

    def __init__(self, rooms: RedisRooms, file_id: str) -> None:
        self.rooms = rooms
        self.redis = rooms.redis
        self.file_id = file_id
        #: This copy of the room, as the origin of what it publishes and as saver.
        self.me = uuid.uuid4().hex[:16]
        self.log_key = rooms.keys.collab_log(file_id)
        self.aw_key = rooms.keys.collab_awareness(file_id)
        self.saver_key = rooms.keys.collab_saver(file_id)
        self.room: Room | None = None
        self._outbox: asyncio.Queue[tuple[str, dict[Any, Any], int | None]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_log = "0-0"
        self._last_aw = "0-0"
        self.retry_after = rooms.saver_lease

    # -- opening ----------------------------------------------------------------------

    async def open(self, room: Room, text: str, version: int) -> None:
        self.room = room
        seed: Doc = Doc()
        seed["source"] = Text(text)
        try:
            await self.rooms.seed(
                keys=[self.log_key],
                args=[self.me, _b64(seed.get_update()), version, digest(text), self.rooms.log_ttl],
            )
            entries: Any = await self.redis.xrange(self.log_key)
            latest: Any = await self.redis.xrevrange(self.aw_key, count=1)
        except REDIS_DOWN as e:
            raise redis_down(self.rooms.url, e, "the shared room's store (Redis)") from e
        for entry_id, fields in entries:
            self._last_log = entry_id
            self._apply(fields)
        if latest:
            self._last_aw = latest[0][0]
        if version > room.version:
            # Saved over REST after the log's last save: the file's text wins.
            room.take(text, version)
        self._tasks = [
            asyncio.create_task(self._publish(), name=f"collab-out-{self.file_id}"),
            asyncio.create_task(self._read(), name=f"collab-in-{self.file_id}"),
        ]

    def _apply(self, fields: dict[Any, Any]) -> None:
        assert self.room is not None
        update = fields.get("u")
        if update:
            self.room.apply_remote(base64.b64decode(update))
        mark = fields.get("s")
        if mark and int(mark) >= self.room.version:
            self.room.version = int(mark)
            self.room.saved_sha = fields.get("h", "")

    # -- what this replica's members do ------------------------------------------------

    def updated(self, update: bytes) -> None:
        self._outbox.put_nowait((self.log_key, {"o": self.me, "u": _b64(update)}, None))

    def awareness(self, message: bytes) -> None:
        fields = {"o": self.me, "m": _b64(message)}
        self._outbox.put_nowait((self.aw_key, fields, AWARENESS_KEPT))

    async def saved(self, version: int, sha: str) -> None:
        self._outbox.put_nowait((self.log_key, {"o": self.me, "s": str(version), "h": sha}, None))

    async def may_save(self, wait: float = 0.0) -> bool:
        deadline = time.monotonic() + wait
        lease = max(1, int(self.rooms.saver_lease * 1000))
        while True:
            try:
                if await self.rooms.claim(keys=[self.saver_key], args=[self.me, lease]):
                    return True
            except REDIS_DOWN as e:
                stop_if_cancelled()
                # Nobody can coordinate: save (the file's version check still holds).
                log.warning("shared room %s: saving without the lease: %s", self.file_id, e)
                return True
            room = self.room
            done = room is not None and room.saved_sha == digest(str(room.text))
            if done or time.monotonic() >= deadline:
                return False  # the holder saves (or already saved) this text
            await asyncio.sleep(0.2)

    # -- the two loops ----------------------------------------------------------------

    async def _publish(self) -> None:
        outage = Outage(log, f"shared room {self.file_id} (out)")
        backoff = Backoff()
        while True:
            key, fields, cap = await self._outbox.get()
            while True:
                try:
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.xadd(key, fields, maxlen=cap, approximate=cap is not None)
                        pipe.expire(key, self.rooms.log_ttl)
                        await pipe.execute()
                    break
                except REDIS_DOWN as e:
                    stop_if_cancelled()
                    outage.failed(e)
                    await backoff.sleep()
            outage.ok()
            backoff.reset()
            self._outbox.task_done()

    async def _read(self) -> None:
        outage = Outage(log, f"shared room {self.file_id} (in)")
        backoff = Backoff()
        while True:
            try:
                reply: Any = await self.redis.xread(
                    {self.log_key: self._last_log, self.aw_key: self._last_aw},
                    count=256,
                    block=BLOCK_MS,
                )
            except REDIS_DOWN as e:
                stop_if_cancelled()
                outage.failed(e)
                await backoff.sleep()
                continue
            outage.ok()
            backoff.reset()
            for stream, entries in reply or []:
                for entry_id, fields in entries:
                    if stream == self.aw_key:
                        self._last_aw = entry_id
                        if fields.get("o") != self.me:
                            await self._forward(base64.b64decode(fields.get("m", "")))
                    else:
                        self._last_log = entry_id
                        if fields.get("o") != self.me:
                            self._apply(fields)

    async def _forward(self, message: bytes) -> None:
        room = self.room
        if room is None or not message:
            return
        for client in list(room.room.clients):
            await client.send(message)

    # -- closing ----------------------------------------------------------------------

    async def close(self) -> None:
        """Publish what is still queued (for a few seconds at most), give up the
        lease, stop."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._outbox.join(), timeout=5)
        with contextlib.suppress(*REDIS_DOWN):
            await self.rooms.release(keys=[self.saver_key], args=[self.me])
        await cancel_all(self._tasks, log)
        self._tasks = []
