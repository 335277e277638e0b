"""A reader may score a submission before its grading run's done hook does (scores are
also derived on read). The hook must then still hold its worker until the grade's
release and tell the student, as it does when it scores the submission itself:
otherwise a busy machine, where the hook comes late, frees the worker at a moment that
depends on the hidden tests, and the student never hears of the grade."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from .test_assignments import API_EVENTS, STAFF, start_and_write
from .test_classes import enrol, make_class
from .test_hidden_timing import QUICK, SECRET, next_notice, when
from .test_hidden_timing_notebooks import until_graded

pytestmark = pytest.mark.usefixtures("bubblewrap")


async def test_a_grade_a_reader_scored_first_is_still_held_and_told(
    api: Any, bearer: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    runner = jp_serverapp.web_app.settings["muscode"].executions.runner
    hook = runner.on_done
    gate = asyncio.Event()
    hook_done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def late_hook(row: Any) -> None:
        # The runner has stored the result; its hook comes only once a reader scored it.
        await gate.wait()
        try:
            await hook(row)
        finally:
            if row.submission_id is not None and not hook_done.done():
                hook_done.set_result(time.time())

    runner.on_done = late_hook

    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    body = {
        "title": "Double it",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "n = int(input())\n"}],
        "tests": [
            {"name": "two", "stdin": "2\n", "expected_output": "4\n", "points": 1},
            {
                "name": "secret",
                "stdin": f"{SECRET}\n",
                "expected_output": f"{SECRET * 2}\n",
                "points": 3,
                "hidden": True,
                "limits": {"cpu_time_ms": 2000, "wall_time_ms": 3000},
            },
        ],
        "published": True,
    }
    reply = await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    pid = await start_and_write(api, aid, sam, QUICK)
    ws = await jp_ws_fetch(*API_EVENTS, headers=sam)
    try:
        reply = await api(
            "POST", f"assignments/{aid}/submissions", {"project_id": pid}, headers=sam
        )
        assert reply.status == 201, reply.body
        sid = reply.json["id"]
        # The staff's reads score it while the hook waits.
        staff = await until_graded(api, sid, ines)
        assert staff["score"] == 4, staff
        released = when(staff["graded_at"])
        assert time.time() < released, staff
        gate.set()
        notice = await next_notice(ws, "submission", timeout=30)
        told = time.time()
    finally:
        ws.close()
        runner.on_done = hook
    assert notice["id"] == sid and notice["score"] == 4, notice
    # Told no sooner than the release, by a hook that held its worker until then.
    assert told >= released - 0.05, (told, released)
    assert await asyncio.wait_for(hook_done, 30) >= released - 0.05
    student = (await api("GET", f"submissions/{sid}", headers=sam)).json
    assert student["status"] == "graded" and student["score"] == 4, student
