"""Who may see and change a student's class project, its files and its runs.

One class (cs101: instructor ines, TA tim, students sam and olga) and another (cs102:
instructor ivan). Sam has a project in cs101, a private project and runs of each. The
matrix asks every endpoint as every kind of caller: the student owner, another student,
the TA, the instructor, another class's instructor, the admin, grader tokens bound to
the class (with and without ``execute``) and to the other class, and expired and
forged tokens. Staff read, never write; everyone else gets 404 (401 for bad tokens).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tornado.httpclient import HTTPClientError

from muscode_ext.auth import TokenAuthority
from muscode_ext.store import Execution, User
from muscode_ext.store.models import utcnow

from .conftest import forged
from .test_live import collect, open_stream

WRITE = ("execute", "projects", "classes:read", "classes:write")
#: The user that owns grading runs (a "/" in the name: no real user can be called so).
GRADER_USER = "muscode/grader"
REVERSE = "print(input()[::-1])\n"
RUN_WAIT = {"wait": "true", "timeout": "60"}


pytestmark = pytest.mark.usefixtures("bubblewrap")


@dataclass
class World:
    cid: str  # cs101
    other_cid: str  # cs102
    pid: str  # sam's project in cs101
    fid: str  # its main.py
    private_pid: str  # sam's project in no class
    class_run: str  # sam's run of pid
    source_run: str  # sam's run of a bare source
    private_run: str  # sam's run of private_pid
    grader_run: str  # a grading run (owned by GRADER_USER) that names pid


async def ok(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    return reply.json if reply.body else None


async def build(api: Any, bearer: Any, app: Any) -> World:
    ines, ivan, sam = bearer("ines", WRITE), bearer("ivan", WRITE), bearer("sam")
    c = await ok(await api("POST", "classes", {"slug": "cs101", "name": "CS"}, headers=ines), 201)
    d = await ok(await api("POST", "classes", {"slug": "cs102", "name": "C2"}, headers=ivan), 201)
    roster = [{"name": "sam"}, {"name": "olga"}, {"name": "tim", "role": "ta"}]
    await ok(await api("POST", f"classes/{c['id']}/members", {"members": roster}, headers=ines))

    files = [{"path": "main.py", "content": REVERSE}]
    body = {"name": "hw1", "language": "python", "class_id": c["id"], "files": files}
    project = await ok(await api("POST", "projects", body, headers=sam), 201)
    body = {"name": "mine", "language": "python", "files": files}
    private = await ok(await api("POST", "projects", body, headers=sam), 201)

    async def run(body: dict[str, Any]) -> dict[str, Any]:
        reply = await api("POST", "executions", body, params=RUN_WAIT, headers=sam)
        result: dict[str, Any] = await ok(reply)
        assert result["stdout"] == "olleh\n", result
        return result

    stdin = {"language": "python", "stdin": "hello\n"}
    class_run = await run({**stdin, "project_id": project["id"]})
    source_run = await run({**stdin, "source": REVERSE})
    private_run = await run({**stdin, "project_id": private["id"]})

    # A grading run as the grading service stores it: owned by its internal user. Even
    # when it names the student's project, class staff never reach it as a run.
    async with app.db.session() as s:
        if await s.scalar(select(User.name).where(User.name == GRADER_USER)) is None:
            s.add(User(name=GRADER_USER))
            await s.flush()
        now = utcnow()
        graded = Execution(
            owner=GRADER_USER,
            project_id=project["id"],
            language="python",
            status="done",
            verdict="accepted",
            request={"limits": class_run["limits"], "tests": None, "stdin": "hidden-test"},
            result={"stdout": "hidden-expected\n", "exit_code": 0},
            created_at=now,
            started_at=now,
            finished_at=now,
            attempts=1,
        )
        s.add(graded)
    return World(
        cid=c["id"],
        other_cid=d["id"],
        pid=project["id"],
        fid=project["files"][0]["id"],
        private_pid=private["id"],
        class_run=class_run["id"],
        source_run=source_run["id"],
        private_run=private_run["id"],
        grader_run=graded.id,
    )


def credentials(who: str, bearer: Any, authority: TokenAuthority, w: World) -> Any:
    """Request headers for ``who`` (None: the embedded server's user, an admin)."""

    def bound(sub: str, scopes: tuple[str, ...], class_id: str) -> dict[str, str]:
        # What POST /tokens mints (tests/test_tokens.py): signed with the server's key,
        # with its id and the class it is bound to.
        token, _ = authority.issue(sub, scopes, extra={"class_id": class_id})
        return {"Authorization": f"Bearer {token}"}

    if who == "admin":
        return None
    if who == "grader":
        return bound("ines", ("execute", "grade"), w.cid)
    if who == "grade_only":
        return bound("ines", ("grade",), w.cid)
    if who == "other_grader":
        return bound("ivan", ("execute", "grade"), w.other_cid)
    if who == "expired":
        return bearer("ines", WRITE, expires_in=timedelta(minutes=-5))
    if who == "forged":
        return forged(bearer("ines", WRITE))
    scopes = WRITE if who in ("ines", "ivan") else ("execute", "projects", "classes:read")
    return bearer(who, scopes)


# What each caller gets. Lists: the ids a listing must hold (in order).
OWNER = {
    "project": 200,
    "files": 200,
    "file": 200,
    "list_in_class": ["pid"],
    "list_all": ["pid", "private_pid"],
    "private_project": 200,
    "run": 200,
    "runs_of_project": ["class_run"],
    "private_runs": 200,
    "grader_run": 404,
    "cancel": 409,  # it is finished: the owner may cancel, there is nothing to stop
    "stream": "done",
    "join_class": 201,
    "writes": (200, 201, 200, 204, 204),
}
NOBODY = {
    "project": 404,
    "files": 404,
    "file": 404,
    "list_in_class": 404,
    "list_all": 404,
    "private_project": 404,
    "run": 404,
    "runs_of_project": [],  # one's own runs of it: none
    "private_runs": 404,
    "grader_run": 404,
    "cancel": 404,
    "stream": 404,
    "join_class": 201,
    "writes": (404,) * 5,
}
STAFF = {
    **NOBODY,
    "project": 200,
    "files": 200,
    "file": 200,
    "list_in_class": ["pid"],
    "run": 200,
    "runs_of_project": ["class_run"],
    "stream": "done",
}
GRADER = {**STAFF, "join_class": 403, "writes": (403,) * 5}
BAD_TOKEN = {key: 401 for key in OWNER} | {"writes": (401,) * 5}
MATRIX: dict[str, dict[str, Any]] = {
    "sam": OWNER,
    "olga": NOBODY,
    "tim": STAFF,
    "ines": STAFF,
    "ivan": {**NOBODY, "join_class": 422},
    "admin": {
        **OWNER,
        "runs_of_project": ["grader_run", "class_run"],
        "grader_run": 200,
        "join_class": 422,  # an admin is not a member of the class
    },
    "grader": GRADER,
    "grade_only": {**GRADER, "cancel": 403, "stream": 403},
    "other_grader": {**NOBODY, "join_class": 403, "writes": (403,) * 5},
    "expired": BAD_TOKEN,
    "forged": BAD_TOKEN,
}


async def stream_outcome(jp_ws_fetch: Any, run_id: str, headers: Any) -> Any:
    try:
        ws = await open_stream(jp_ws_fetch, run_id, headers=headers)
    except HTTPClientError as e:
        return e.code
    events = await collect(ws)
    assert events[-1]["type"] == "done", events
    assert events[-1]["result"]["stdout"] == "olleh\n"
    return "done"


@pytest.mark.parametrize("who", list(MATRIX))
async def test_authorization_matrix(
    api: Any,
    bearer: Any,
    authority: TokenAuthority,
    jp_serverapp: Any,
    jp_ws_fetch: Any,
    who: str,
) -> None:
    w = await build(api, bearer, jp_serverapp.web_app.settings["muscode"])
    h = credentials(who, bearer, authority, w)
    ids = {name: getattr(w, name) for name in ("pid", "private_pid", "class_run", "grader_run")}

    async def status(method: str, path: str, body: Any = None, **kw: Any) -> int:
        return (await api(method, path, body, headers=h, **kw)).status

    async def listing(path: str, params: dict[str, str]) -> Any:
        reply = await api("GET", path, headers=h, params=params)
        if reply.status != 200:
            return reply.status
        names = {v: k for k, v in ids.items()}
        return [names.get(x["id"], x["id"]) for x in reply.json]

    got: dict[str, Any] = {
        "project": await status("GET", f"projects/{w.pid}"),
        "files": await status("GET", f"projects/{w.pid}/files"),
        "file": await status("GET", f"projects/{w.pid}/files/{w.fid}"),
        "list_in_class": await listing("projects", {"owner": "sam", "class_id": w.cid}),
        "private_project": await status("GET", f"projects/{w.private_pid}"),
        "run": await status("GET", f"executions/{w.class_run}"),
        "runs_of_project": await listing("executions", {"project_id": w.pid}),
        "grader_run": await status("GET", f"executions/{w.grader_run}"),
        "cancel": await status("POST", f"executions/{w.class_run}/cancel"),
        "stream": await stream_outcome(jp_ws_fetch, w.class_run, h),
    }
    all_projects = await listing("projects", {"owner": "sam"})
    got["list_all"] = sorted(all_projects) if isinstance(all_projects, list) else all_projects
    private = {
        await status("GET", f"executions/{w.source_run}"),
        await status("GET", f"executions/{w.private_run}"),
    }
    assert len(private) == 1, f"{who}: the two private runs differ: {private}"
    got["private_runs"] = private.pop()
    body = {"name": f"{who}-hw", "language": "python", "class_id": w.cid}
    got["join_class"] = await status("POST", "projects", body)
    # Writes last: the owner's change the project (and delete it at the end).
    got["writes"] = (
        await status("PATCH", f"projects/{w.pid}", {"description": "changed"}),
        await status("POST", f"projects/{w.pid}/files", {"path": "extra.py", "content": ""}),
        await status("PUT", f"projects/{w.pid}/files/{w.fid}", {"content": "", "version": 1}),
        await status("DELETE", f"projects/{w.pid}/files/{w.fid}"),
        await status("DELETE", f"projects/{w.pid}"),
    )
    assert got == MATRIX[who]


async def test_staff_watch_a_live_run_but_cannot_type_or_stop_it(
    api: Any, bearer: Any, authority: TokenAuthority, jp_serverapp: Any, jp_ws_fetch: Any
) -> None:
    w = await build(api, bearer, jp_serverapp.web_app.settings["muscode"])
    sam = bearer("sam")
    body = {"language": "python", "project_id": w.pid, "interactive": True}
    reply = await api("POST", "executions", body, headers=sam)
    run_id = (await ok(reply, 201))["id"]
    owner_ws = await open_stream(jp_ws_fetch, run_id, headers=sam)
    watchers = {
        "tim": bearer("tim"),
        "grader": credentials("grader", bearer, authority, w),
    }
    for who, headers in watchers.items():
        ws = await open_stream(jp_ws_fetch, run_id, headers=headers)
        for message in ({"type": "stdin", "data": "nope\n"}, {"type": "eof"}, {"type": "cancel"}):
            await ws.write_message(json.dumps(message))
            while True:
                event = json.loads(await asyncio.wait_for(ws.read_message(), 30))
                if event["type"] == "error":
                    break
                assert event["type"] == "status", (who, event)
            assert event["reason"] == "execution_not_found", (who, event)
        ws.close()
    # The run is still the owner's: it waits for their input and was not cancelled.
    watcher = await open_stream(jp_ws_fetch, run_id, headers=bearer("ines", WRITE))
    await owner_ws.write_message(json.dumps({"type": "stdin", "data": "abc\n"}))
    await owner_ws.write_message(json.dumps({"type": "eof"}))
    for events in await asyncio.gather(collect(owner_ws), collect(watcher)):
        assert events[-1]["type"] == "done"
        assert (events[-1]["result"]["verdict"], events[-1]["result"]["stdout"]) == (
            "accepted",
            "cba\n",
        )


async def test_staff_lose_access_when_they_leave_or_the_class_goes(
    api: Any, bearer: Any, jp_serverapp: Any
) -> None:
    w = await build(api, bearer, jp_serverapp.web_app.settings["muscode"])
    tim, ines = bearer("tim"), bearer("ines", WRITE)
    assert (await api("GET", f"executions/{w.class_run}", headers=tim)).status == 200
    assert (await api("DELETE", f"classes/{w.cid}/members/tim", headers=ines)).status == 204
    assert (await api("GET", f"executions/{w.class_run}", headers=tim)).status == 404
    reply = await api("GET", "executions", headers=tim, params={"project_id": w.pid})
    assert reply.status == 200 and reply.json == []
    assert (await api("GET", f"executions/{w.class_run}", headers=ines)).status == 200
    assert (await api("DELETE", f"classes/{w.cid}", headers=ines)).status == 204
    assert (await api("GET", f"executions/{w.class_run}", headers=ines)).status == 404
    assert (await api("GET", f"projects/{w.pid}", headers=ines)).status == 404
    # The student keeps their project and runs.
    assert (await api("GET", f"executions/{w.class_run}", headers=bearer("sam"))).status == 200


async def test_paging_staff_listings_stays_inside_the_project(
    api: Any, bearer: Any, jp_serverapp: Any
) -> None:
    w = await build(api, bearer, jp_serverapp.web_app.settings["muscode"])
    tim = bearer("tim")
    params = {"project_id": w.pid, "before": w.source_run}
    reply = await api("GET", "executions", headers=tim, params=params)
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "before"
    params = {"project_id": w.pid, "before": w.class_run}
    reply = await api("GET", "executions", headers=tim, params=params)
    assert reply.status == 200 and reply.json == []
