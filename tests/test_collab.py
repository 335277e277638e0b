"""Collaborative editing: ``/collab/{file_id}`` speaks y-websocket to pycrdt clients.

A student and their instructor edit one file together; edits reach the other side
and are saved to the file as new versions; nobody else may join.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pycrdt import (
    Doc,
    Text,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)
from tornado.httpclient import HTTPClientError

from .test_classes import WRITE, enrol, make_class

API = ("api", "muscode", "v1")


class Peer:
    """A y-websocket client: a pycrdt document kept in sync over the socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.doc: Doc = Doc()
        self.text = Text()
        self.doc["source"] = self.text

    async def _read(self, timeout: float) -> bool:
        """Apply one message from the server; False on timeout."""
        try:
            message = await asyncio.wait_for(self.ws.read_message(), timeout)
        except asyncio.TimeoutError:
            return False
        assert message is not None, "the server closed the room's socket"
        if message[0] == YMessageType.SYNC:
            reply = handle_sync_message(message[1:], self.doc)
            if reply is not None:
                await self.ws.write_message(reply, binary=True)
        return True

    async def sync(self) -> None:
        await self.ws.write_message(create_sync_message(self.doc), binary=True)
        # The server sends its step 1, and step 2 in answer to ours.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not await self._read(0.5) and str(self.text):
                return

    async def until(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while str(self.text) != text:
            assert time.monotonic() < deadline, repr(str(self.text))
            await self._read(0.2)

    async def insert(self, index: int, value: str) -> None:
        before = self.doc.get_state()
        self.text.insert(index, value)
        update = self.doc.get_update(before)
        await self.ws.write_message(create_update_message(update), binary=True)


async def join(jp_ws_fetch: Any, file_id: str, headers: Any) -> Peer:
    ws = await jp_ws_fetch(*API, "collab", file_id, headers=headers)
    peer = Peer(ws)
    await peer.sync()
    return peer


async def file_text(api: Any, pid: str, fid: str, headers: Any) -> tuple[str, int]:
    f = (await api("GET", f"projects/{pid}/files/{fid}", headers=headers)).json
    return f["content"], f["version"]


async def setup(api: Any, bearer: Any) -> dict[str, Any]:
    ines = bearer("ines", WRITE)
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student", sue="student")
    sam = bearer("sam")
    body = {
        "name": "hw",
        "language": "python",
        "class_id": c["id"],
        "files": [
            {"path": "main.py", "content": "print(1)\n"},
            {"path": "data.bin", "content": "gAE=", "encoding": "base64"},
        ],
    }
    reply = await api("POST", "projects", body, headers=sam)
    assert reply.status == 201, reply.body
    files = {f["path"]: f["id"] for f in reply.json["files"]}
    return {
        "pid": reply.json["id"],
        "fid": files["main.py"],
        "bin": files["data.bin"],
        "sam": sam,
        "ines": ines,
        "sue": bearer("sue"),
        "zed": bearer("zed", WRITE),
    }


async def test_student_and_instructor_edit_together_and_it_is_saved(
    api: Any, bearer: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    s = await setup(api, bearer)
    student = await join(jp_ws_fetch, s["fid"], s["sam"])
    assert str(student.text) == "print(1)\n"
    helper = await join(jp_ws_fetch, s["fid"], s["ines"])
    await helper.until("print(1)\n")
    await student.insert(0, "# hello\n")
    await helper.until("# hello\nprint(1)\n")
    await helper.insert(len(str(helper.text)), "print(2)\n")
    await student.until("# hello\nprint(1)\nprint(2)\n")
    # Saved as a new version a moment after the edits stop.
    deadline = time.monotonic() + 10
    while (await file_text(api, s["pid"], s["fid"], s["sam"]))[0] != str(student.text):
        assert time.monotonic() < deadline, "the shared edits were not saved"
        await asyncio.sleep(0.2)
    _, version = await file_text(api, s["pid"], s["fid"], s["sam"])
    assert version >= 2
    # The room closes when the last one leaves.
    (app,) = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    assert app.collab.describe() == {s["fid"]: 2}
    student.ws.close()
    helper.ws.close()
    deadline = time.monotonic() + 10
    while app.collab.describe():
        assert time.monotonic() < deadline, app.collab.describe()
        await asyncio.sleep(0.1)


async def test_a_save_elsewhere_wins_over_the_room(api: Any, bearer: Any, jp_ws_fetch: Any) -> None:
    s = await setup(api, bearer)
    student = await join(jp_ws_fetch, s["fid"], s["sam"])
    url = f"projects/{s['pid']}/files/{s['fid']}"
    reply = await api("PUT", url, {"content": "print(3)\n", "version": 1}, headers=s["sam"])
    assert reply.status == 200
    await student.insert(0, "#")
    # The room's next save finds version 2 and takes the saved text instead.
    await student.until("print(3)\n")
    assert (await file_text(api, s["pid"], s["fid"], s["sam"])) == ("print(3)\n", 2)
    student.ws.close()


async def test_nobody_else_joins(api: Any, bearer: Any, jp_ws_fetch: Any) -> None:
    s = await setup(api, bearer)
    for who in ("sue", "zed"):
        with pytest.raises(HTTPClientError) as e:
            await jp_ws_fetch(*API, "collab", s["fid"], headers=s[who])
        assert e.value.code == 404, who
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch(*API, "collab", "no-such-file", headers=s["sam"])
    assert e.value.code == 404
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch(*API, "collab", s["bin"], headers=s["sam"])
    assert e.value.code == 422


def test_message_types() -> None:
    assert YMessageType.SYNC == 0 and YSyncMessageType.SYNC_STEP2 == 1


async def test_a_plain_get_takes_no_seat(
    api: Any, bearer: Any, jp_fetch: Any, jp_serverapp: Any
) -> None:
    s = await setup(api, bearer)
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(*API, "collab", s["fid"], headers=s["sam"])
    assert e.value.code == 400
    (app,) = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    assert app.collab.describe() == {}
