"""Collaborative editing: ``/collab/{file_id}`` speaks y-websocket to pycrdt clients.

A student and their instructor edit one file together; edits reach the other side
and are saved to the file as new versions; nobody else may join.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from pycrdt import (
    Awareness,
    Decoder,
    Doc,
    Text,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClosedError

from muscode_ext.auth import TokenAuthority

from .test_classes import WRITE, enrol, make_class

API = ("api", "muscode", "v1")


class Peer:
    """A y-websocket client: a pycrdt document kept in sync over the socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.doc: Doc = Doc()
        self.text = Text()
        self.doc["source"] = self.text
        #: Reasons of the notices (y-websocket auth messages) the server sent.
        self.notices: list[str] = []
        #: Names in the awareness states the server relayed.
        self.seen: set[str] = set()
        self.awareness = Awareness(self.doc)

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
        elif message[0] == 1:  # awareness
            states = Awareness(Doc())
            states.apply_awareness_update(Decoder(message[1:]).read_message(), "remote")
            self.seen.update(str(s.get("name")) for s in states.states.values())
        elif message[0] == 2:  # auth: [2, 0 (permission denied), reason]
            assert message[1] == 0, message
            self.notices.append(json.loads(Decoder(message[2:]).read_var_string())["reason"])
        return True

    async def wait_for(self, check: Any, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out"
            await self._read(0.2)

    async def announce(self, name: str) -> None:
        """Send an awareness state naming this peer (a marker that others see)."""
        self.awareness.set_local_state({"name": name})
        update = self.awareness.encode_awareness_update([self.doc.client_id])
        await self.ws.write_message(create_awareness_message(update), binary=True)

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


# -- who may type -------------------------------------------------------------------


def room_text(jp_serverapp: Any, fid: str) -> str:
    (app,) = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    return str(app.collab.rooms[fid].text)


async def test_a_grade_only_ta_watches_but_cannot_type(
    api: Any, bearer: Any, authority: TokenAuthority, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    s = await setup(api, bearer)
    cid = (await api("GET", f"projects/{s['pid']}", headers=s["sam"])).json["class_id"]
    await enrol(api, cid, s["ines"], tim="ta")
    token, _ = authority.issue("tim", ("grade",), extra={"class_id": cid})
    grader = {"Authorization": f"Bearer {token}"}
    # The REST write is refused to this credential...
    url = f"projects/{s['pid']}/files/{s['fid']}"
    assert (await api("PUT", url, {"content": "x", "version": 1}, headers=grader)).status == 403
    # ... and so is the same write in the room: tim sees the file, and is told once.
    student = await join(jp_ws_fetch, s["fid"], s["sam"])
    tim = await join(jp_ws_fetch, s["fid"], grader)
    assert str(tim.text) == "print(1)\n"
    await tim.wait_for(lambda: tim.notices)
    assert tim.notices == ["read_only"]
    await tim.insert(len(str(tim.text)), "import os\n")
    await tim.announce("tim")  # handled after the edit: a marker for when it was dropped
    await student.wait_for(lambda: "tim" in student.seen)
    assert str(student.text) == "print(1)\n"
    assert room_text(jp_serverapp, s["fid"]) == "print(1)\n"
    # tim still follows the others' edits, and is not told again.
    await student.insert(0, "# ok\n")
    await tim.until("# ok\nprint(1)\nimport os\n")  # his own text stays his own view
    await tim.insert(0, "#")
    await tim.announce("tim again")
    await student.wait_for(lambda: "tim again" in student.seen)
    assert tim.notices == ["read_only"]
    assert room_text(jp_serverapp, s["fid"]) == "# ok\nprint(1)\n"
    student.ws.close()
    tim.ws.close()
    deadline = time.monotonic() + 10
    while (await file_text(api, s["pid"], s["fid"], s["sam"]))[0] != "# ok\nprint(1)\n":
        assert time.monotonic() < deadline, "the student's edit was not saved"
        await asyncio.sleep(0.2)


async def test_a_ta_with_projects_edits_until_removed_from_the_class(
    api: Any, bearer: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    s = await setup(api, bearer)
    cid = (await api("GET", f"projects/{s['pid']}", headers=s["sam"])).json["class_id"]
    await enrol(api, cid, s["ines"], tim="ta")
    student = await join(jp_ws_fetch, s["fid"], s["sam"])
    tim = await join(jp_ws_fetch, s["fid"], bearer("tim", ("projects",)))
    await tim.insert(0, "# hint\n")
    await student.until("# hint\nprint(1)\n")
    assert tim.notices == []
    # Removed from the class while the socket is open: the socket is closed (4403), and
    # an edit that races the close is not applied.
    reply = await api("DELETE", f"classes/{cid}/members/tim", headers=s["ines"])
    assert reply.status == 204, reply.body
    with contextlib.suppress(WebSocketClosedError):
        await tim.insert(0, "# more\n")
    deadline = time.monotonic() + 10
    while tim.ws.close_code is None:
        assert time.monotonic() < deadline, "tim's socket stayed open"
        try:
            message = await asyncio.wait_for(tim.ws.read_message(), 0.2)
        except asyncio.TimeoutError:
            continue
        if message is None:
            break
    assert tim.ws.close_code in (4401, 4403), tim.ws.close_code
    assert room_text(jp_serverapp, s["fid"]) == "# hint\nprint(1)\n"
    student.ws.close()
    (app,) = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    deadline = time.monotonic() + 10
    while app.collab.describe():
        assert time.monotonic() < deadline, app.collab.describe()
        await asyncio.sleep(0.1)
