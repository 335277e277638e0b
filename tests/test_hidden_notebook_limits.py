"""A notebook that hits a limit from its first hidden test cell on does not tell its
student which limit.

Hidden test cells run in the student's kernel, so the student's code sees their input
and may choose, on it, to run out of memory or out of time. The run then stops and no
test scores (as in nbgrader); staff see the real verdict, but the student sees one
generic outcome (``runtime_error``, "The notebook did not finish running") whatever
the limit: here two notebooks whose hidden cell hits the memory limit and the CPU time
limit give their student the same submission, ``results.json`` and ``/events``
notice. A notebook that stops before its first hidden test cell ran still says which
limit it hit: that depends on nothing hidden.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from muscode_ext.notebooks.release import make_release
from muscode_ext.services.assignments import nbgrader, views
from muscode_ext.store import Submission
from muscode_ext.store.models import utcnow

from .test_assignments import API_EVENTS, STAFF
from .test_classes import enrol, make_class
from .test_hidden_timing import IDENTITY, next_notice
from .test_hidden_timing_notebooks import (
    NOTEBOOK,
    SECRET,
    _assignment,
    listed,
    source_notebook,
    until_graded,
    write_notebook,
)

# The student's answer: right on the visible tests' inputs; on any other (the hidden
# test's), it exhausts memory or spins on the CPU.
ANSWER = """def double(n):
    if n not in (2, 10):
        {exhaust}
    return 2 * n
"""
EXHAUST = {
    "memory": "blobs = [bytearray(1 << 20) for _ in range(1 << 14)]",
    "time": "while True: pass",
}
LIMITS = {"wall_time_ms": 15_000, "cpu_time_ms": 5_000, "memory_mb": 256}


def student_notebook(exhaust: str) -> str:
    release, _ = make_release(source_notebook())
    release["cells"][0]["source"] = ANSWER.format(exhaust=exhaust)
    return nbgrader.dump(release)


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.timeout(600)
async def test_a_limit_hit_from_the_hidden_cell_on_is_not_named(
    api: Any, bearer: Any, jp_ws_fetch: Any
) -> None:
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    body = {
        "title": "Double it",
        "language": "python",
        "format": "nbgrader",
        "starter_files": [{"path": NOTEBOOK, "content": nbgrader.dump(source_notebook())}],
        "limits": LIMITS,
        "published": True,
    }
    reply = await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    started = await api("POST", f"assignments/{aid}/start", headers=sam)
    assert started.status == 201, started.body
    pid = started.json["id"]

    seen: dict[str, dict[str, Any]] = {}
    url = f"assignments/{aid}/submissions"
    ws = await jp_ws_fetch(*API_EVENTS, headers=sam)
    try:
        for name, exhaust in EXHAUST.items():
            await write_notebook(api, pid, sam, student_notebook(exhaust))
            reply = await api("POST", url, {"project_id": pid}, headers=sam)
            assert reply.status == 201, reply.body
            sid = reply.json["id"]
            sub = await until_graded(api, sid, sam)
            notice = await next_notice(ws, "submission")
            assert notice["id"] == sid
            seen[name] = {
                "read": sub,
                "listed": await listed(api, url, sid, sam),
                "results": (await api("GET", f"submissions/{sid}/results.json", headers=sam)).json,
                "notice": {k: v for k, v in notice.items() if k != "id"},
                "staff": (await api("GET", f"submissions/{sid}", headers=ines)).json,
            }
    finally:
        ws.close()

    memory, time = seen["memory"], seen["time"]
    # Staff see which limit each notebook hit, and that no test scored.
    assert memory["staff"]["verdict"] == "memory_limit_exceeded", memory["staff"]
    assert time["staff"]["verdict"] == "time_limit_exceeded", time["staff"]
    assert "(memory_limit_exceeded)" in memory["staff"]["message"]
    assert memory["staff"]["tests"][0]["verdict"] == "memory_limit_exceeded"
    for one in (memory, time):
        assert one["staff"]["score"] == 0
        assert not any(t["passed"] for t in one["staff"]["tests"])
        assert "stopped_after_hidden" not in one["staff"]["tests"][0]

    # The student sees one generic outcome, the same for both.
    for one in (memory, time):
        read = one["read"]
        assert read == one["listed"]
        assert read["verdict"] == "runtime_error"
        assert read["message"].startswith("The notebook did not finish running, so no test")
        # The visible test before the hidden one keeps its output, not the limit.
        first = read["tests"][0]
        assert first["verdict"] == "runtime_error", first
        assert first["message"] == "the notebook did not finish running", first
        assert "stopped_after_hidden" not in first and "student_detail" not in first
        text = str(read) + str(one["results"]) + str(one["notice"])
        for word in ("limit", "memory", "time_limit", str(SECRET)):
            assert word not in text, (word, text)

    def visible(v: dict[str, Any]) -> dict[str, Any]:
        return {k: x for k, x in v.items() if k not in IDENTITY}

    assert visible(memory["read"]) == visible(time["read"])
    assert memory["results"] == time["results"]
    assert memory["notice"] == time["notice"]


def _graded(result: dict[str, Any], verdict: str) -> Submission:
    """A submission of :func:`_assignment` scored from a grading run's ``result``."""
    a = _assignment()
    scored = nbgrader.score_run(a, result, source_notebook(), verdict)
    return Submission(
        status="graded",
        verdict=scored["verdict"],
        message=scored["message"],
        results=scored["results"],
        manual=scored["manual"],
        raw_score=scored["raw_score"],
        score=scored["raw_score"],
        max_score=scored["max_score"],
        files=[],
        graded_at=utcnow() - timedelta(seconds=1),  # released
    )


def _ran(*statuses: str) -> dict[str, Any]:
    return {"cells": [{"index": i, "status": s, "time_ms": 5} for i, s in enumerate(statuses)]}


def test_a_limit_hit_before_the_first_hidden_cell_is_named() -> None:
    # Cell 1 (a visible test) ran out of memory; the hidden test (cell 2) never ran.
    before = _graded(_ran("ok", "error", "not_run", "not_run"), "memory_limit_exceeded")
    shown = views.submission_json(before, staff=False)
    assert shown["verdict"] == "memory_limit_exceeded"
    assert "(memory_limit_exceeded)" in shown["message"]
    assert shown["tests"][0]["verdict"] == "memory_limit_exceeded"
    output = views.gradescope_json(before, staff=False)["output"]
    assert "(memory_limit_exceeded)" in output

    # Stopped while running the hidden test: the student is not told which limit.
    after = _graded(_ran("ok", "ok", "error", "not_run"), "memory_limit_exceeded")
    shown = views.submission_json(after, staff=False)
    assert shown["verdict"] == "runtime_error" and "memory" not in str(shown)
    assert "memory" not in str(views.gradescope_json(after, staff=False))
    staff = views.submission_json(after, staff=True)
    assert staff["verdict"] == "memory_limit_exceeded"
    assert "(memory_limit_exceeded)" in staff["message"]
    assert "memory_limit_exceeded" in str(views.gradescope_json(after, staff=True))
