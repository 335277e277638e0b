"""Open websockets end when the credential they rely on does.

A run's live channel, ``/events`` and ``/collab`` opened with a bearer token close with
4401 within 2 s of the token's revocation or expiry; a TA watching a student's run or
editing a student's file loses the socket (4403) when removed from the class or made a
student. In Redis mode a revocation on one server process closes sockets on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from tornado.websocket import WebSocketClosedError

from muscode_ext.events.redis import RedisEventBus
from muscode_ext.services.sockets import Sockets

from .conftest import API
from .redis_support import REDIS_URL, redis_prefix  # noqa: F401 - fixture
from .test_classes import WRITE, enrol, make_class
from .test_collab import join
from .test_live import open_stream, submit

pytestmark = pytest.mark.usefixtures("bubblewrap")

ECHO = "import sys\nfor line in sys.stdin:\n    print('echo ' + line.strip(), flush=True)\n"
SLEEPY = "import time\ntime.sleep(60)\n"
LONG = {"wall_time_ms": 60_000, "cpu_time_ms": 10_000}
TA = ("execute", "projects", "classes:read", "grade")


def server(jp_serverapp: Any) -> Any:
    (app,) = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    return app.server


async def closed_with(ws: Any, timeout: float) -> int | None:
    """Read until the server closes ``ws``; its close code (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the socket is still open"
        try:
            message = await asyncio.wait_for(ws.read_message(), left)
        except asyncio.TimeoutError:
            raise AssertionError(f"the socket is still open after {timeout}s") from None
        if message is None:
            return ws.close_code  # type: ignore[no-any-return]


async def read_until(ws: Any, wanted: str, timeout: float = 20) -> None:
    seen = ""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} in {seen!r}"
        raw = await asyncio.wait_for(ws.read_message(), left)
        assert raw is not None, f"closed before {wanted!r}"
        event = json.loads(raw)
        seen += event.get("data", "") if event["type"] == "stdout" else ""


async def events_socket(jp_ws_fetch: Any, headers: Any) -> Any:
    return await jp_ws_fetch(*API.split("/"), "events", headers=headers)


async def test_revoking_a_token_closes_its_run_stream_events_and_collab(
    api: Any, jp_ws_fetch: Any
) -> None:
    minted = await api(
        "POST",
        "tokens",
        {"name": "script", "scopes": ["execute", "projects"], "expires_in": 600},
    )
    assert minted.status == 201, minted.body
    auth = {"Authorization": f"Bearer {minted.json['token']}"}
    project = await api(
        "POST",
        "projects",
        {"name": "p", "language": "python", "files": [{"path": "a.py", "content": "x = 1\n"}]},
        headers=auth,
    )
    assert project.status == 201, project.body
    file_id = project.json["files"][0]["id"]
    run_id = await submit(
        api, {"language": "python", "source": ECHO, "interactive": True, "limits": LONG}, auth
    )

    stream = await open_stream(jp_ws_fetch, run_id, auth)
    notices = await events_socket(jp_ws_fetch, auth)
    peer = await join(jp_ws_fetch, file_id, auth)
    await stream.write_message(json.dumps({"type": "stdin", "data": "before\n"}))
    await read_until(stream, "echo before")

    revoked_at = time.monotonic()
    assert (await api("DELETE", f"tokens/{minted.json['id']}")).status == 204
    codes = await asyncio.gather(
        closed_with(stream, 2), closed_with(notices, 2), closed_with(peer.ws, 2)
    )
    assert codes == [4401, 4401, 4401]
    assert time.monotonic() - revoked_at < 2

    # Nothing sent on the dead sockets arrives: not the stdin, not the edit.
    with contextlib.suppress(WebSocketClosedError):
        await stream.write_message(json.dumps({"type": "stdin", "data": "after\n"}))
    with contextlib.suppress(WebSocketClosedError):
        await peer.insert(0, "EDIT ")
    owner = await open_stream(jp_ws_fetch, run_id)
    await owner.write_message(json.dumps({"type": "stdin", "data": "owner\n"}))
    await owner.write_message(json.dumps({"type": "eof"}))
    events = []
    while (raw := await asyncio.wait_for(owner.read_message(), 20)) is not None:
        events.append(json.loads(raw))
    stdout = events[-1]["result"]["stdout"]
    assert stdout == "echo before\necho owner\n", stdout
    content = (await api("GET", f"projects/{project.json['id']}/files/{file_id}")).json
    assert content["content"] == "x = 1\n" and content["version"] == 1


async def test_an_expiring_token_closes_its_socket_when_it_expires(
    api: Any, jp_ws_fetch: Any, bearer: Any
) -> None:
    auth = bearer("sam", expires_in=timedelta(seconds=3))
    opened = time.monotonic()
    notices = await events_socket(jp_ws_fetch, auth)
    # The token's exp is a whole second: it ends 2 to 3 s from its issue.
    assert await closed_with(notices, 3 + 2) == 4401
    assert time.monotonic() - opened > 1.5


async def test_a_ta_removed_or_demoted_loses_sockets_on_a_students_work(
    api: Any, jp_ws_fetch: Any, bearer: Any
) -> None:
    ines = bearer("ines", WRITE)
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student", tina="ta", theo="ta")
    sam = bearer("sam")
    reply = await api(
        "POST",
        "projects",
        {
            "name": "hw",
            "language": "python",
            "class_id": c["id"],
            "files": [{"path": "main.py", "content": SLEEPY}],
        },
        headers=sam,
    )
    assert reply.status == 201, reply.body
    pid, fid = reply.json["id"], reply.json["files"][0]["id"]
    run_id = await submit(api, {"language": "python", "project_id": pid, "limits": LONG}, sam)

    tina, theo = bearer("tina", TA), bearer("theo", TA)
    tina_run = await open_stream(jp_ws_fetch, run_id, tina)
    tina_file = await join(jp_ws_fetch, fid, tina)
    theo_run = await open_stream(jp_ws_fetch, run_id, theo)
    sam_run = await open_stream(jp_ws_fetch, run_id, sam)
    sam_file = await join(jp_ws_fetch, fid, sam)

    removed_at = time.monotonic()
    assert (await api("DELETE", f"classes/{c['id']}/members/tina", headers=ines)).status == 204
    assert await asyncio.gather(closed_with(tina_run, 2), closed_with(tina_file.ws, 2)) == [
        4403,
        4403,
    ]
    assert time.monotonic() - removed_at < 2

    patched = await api(
        "PATCH", f"classes/{c['id']}/members/theo", {"role": "student"}, headers=ines
    )
    assert patched.status == 200, patched.body
    assert await closed_with(theo_run, 2) == 4403

    # The student's own sockets rely on no class role: they stay open.
    assert sam_run.close_code is None and sam_file.ws.close_code is None
    await sam_file.insert(0, "# mine\n")
    await sam_file.until("# mine\n" + SLEEPY)
    assert (await api("POST", f"executions/{run_id}/cancel", headers=sam)).status == 200
    events = []
    while (raw := await asyncio.wait_for(sam_run.read_message(), 20)) is not None:
        events.append(json.loads(raw))
    assert events[-1]["type"] == "done" and events[-1]["result"]["verdict"] == "cancelled"


class TestAcrossProcesses:
    """Two server processes share Redis: each holds its own sockets."""

    @pytest.fixture
    def db_url(self, pg_database: str) -> str:
        return pg_database

    @pytest.fixture
    def muscode_config(self, redis_prefix: str) -> dict[str, Any]:  # noqa: F811
        return {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}

    async def test_a_revocation_on_one_process_closes_sockets_on_another(
        self,
        api: Any,
        jp_ws_fetch: Any,
        jp_serverapp: Any,
        redis_prefix: str,  # noqa: F811
    ) -> None:
        here = server(jp_serverapp)
        # The other process: its own Redis connections, its own registry of sockets.
        other_bus = RedisEventBus(REDIS_URL, prefix=redis_prefix)
        other = Sockets(other_bus, here.db)
        await other.start()
        try:
            minted = []
            for name in ("one", "two"):
                reply = await api(
                    "POST", "tokens", {"name": name, "scopes": ["execute"], "expires_in": 600}
                )
                assert reply.status == 201, reply.body
                minted.append(reply.json)
            auth = [{"Authorization": f"Bearer {m['token']}"} for m in minted]
            caller = await here.authenticator.from_bearer(minted[0]["token"])
            closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
            other.register(caller, lambda code, why: closed.set_result((code, why)))
            ws = await events_socket(jp_ws_fetch, auth[1])
            # Let both processes' subscriptions to the signals settle.
            await wait_for_subscribers(redis_prefix, 2)

            # Revoked through this server's API: the other process closes its socket.
            revoked_at = time.monotonic()
            assert (await api("DELETE", f"tokens/{minted[0]['id']}")).status == 204
            code, _ = await asyncio.wait_for(closed, 2)
            assert code == 4401 and time.monotonic() - revoked_at < 2

            # Revoked by the other process: this server's real websocket closes.
            await here.authenticator.revoke(minted[1]["id"])
            await other.token_revoked(minted[1]["id"])
            assert await closed_with(ws, 2) == 4401
        finally:
            await other.stop()
            await other_bus.close()


async def wait_for_subscribers(prefix: str, count: int, timeout: float = 5) -> None:
    import redis.asyncio as aioredis

    from muscode_ext.redis_common import RedisKeys
    from muscode_ext.services.sockets import SIGNALS

    channel = RedisKeys(prefix).notices(SIGNALS)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            found = dict(await client.pubsub_numsub(channel))
            if int(found.get(channel.encode(), 0)) >= count:
                return
            assert time.monotonic() < deadline, f"{found} subscribers, wanted {count}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
