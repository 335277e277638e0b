"""Assignments and autograding through the API: who may do what, starting, checking,
submitting, scoring, late policies, overrides, regrades, gradebooks, and hidden tests
that no student response ever reveals."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from muscode_ext.services.assignments.inputs import parse_due
from muscode_ext.services.assignments.scoring import apply_late_policy, days_late

from .test_classes import WRITE, enrol, make_class

STAFF = (*WRITE, "grade")
# The hidden test's input and expected output: no student response may hold them.
SECRET_IN = "73519"
SECRET_OUT = "147038"

# Prints twice its input number; "boom" crashes it.
SOLUTION = "n = int(input())\nprint(n * 2)\n"
STARTER = "n = int(input())\n# print twice n\n"


def tests_spec() -> list[dict[str, Any]]:
    return [
        {"name": "two", "stdin": "2\n", "expected_output": "4\n", "points": 2},
        {"name": "ten", "stdin": "10\n", "expected_output": "20\n", "points": 3},
        {
            "name": "secret",
            "stdin": f"{SECRET_IN}\n",
            "expected_output": f"{SECRET_OUT}\n",
            "points": 5,
            "hidden": True,
            # A student gets a grade as if each hidden test had used all its wall time:
            # a short limit keeps these tests quick.
            "limits": {"wall_time_ms": 2000},
        },
    ]


async def setup_class(api: Any, bearer: Any) -> tuple[str, dict[str, dict[str, str]]]:
    ines = bearer("ines", STAFF)
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student", sue="student", tim="ta")
    people = {
        "ines": ines,
        "tim": bearer("tim", STAFF),
        "sam": bearer("sam"),
        "sue": bearer("sue"),
        "zed": bearer("zed", STAFF),
    }
    return c["id"], people


async def make_assignment(api: Any, cid: str, headers: Any, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Double it",
        "description": "Read *n*, print `2n`.",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": STARTER}],
        "tests": tests_spec(),
        "published": True,
        **extra,
    }
    reply = await api("POST", f"classes/{cid}/assignments", body, headers=headers)
    assert reply.status == 201, reply.body
    return dict(reply.json)


async def start_and_write(api: Any, aid: str, headers: Any, source: str) -> str:
    reply = await api("POST", f"assignments/{aid}/start", headers=headers)
    assert reply.status in (200, 201), reply.body
    project = reply.json
    f = next(f for f in project["files"] if f["path"] == "main.py")
    reply = await api(
        "PUT",
        f"projects/{project['id']}/files/{f['id']}",
        {"content": source, "version": f["version"]},
        headers=headers,
    )
    assert reply.status == 200, reply.body
    return str(project["id"])


async def submit(api: Any, aid: str, pid: str, headers: Any) -> dict[str, Any]:
    reply = await api(
        "POST",
        f"assignments/{aid}/submissions",
        {"project_id": pid},
        headers=headers,
        params={"wait": "true"},
    )
    assert reply.status == 200, reply.body
    assert reply.json["status"] == "graded", reply.json
    return dict(reply.json)


async def released_submission(
    api: Any, sid: str, headers: Any, timeout: float = 120
) -> dict[str, Any]:
    """A submission as its student sees it once its grade is released (a regraded grade
    reaches its student a few seconds after the staff, see ``views.released``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        mine = (await api("GET", f"submissions/{sid}", headers=headers)).json
        if mine["status"] == "graded":
            return dict(mine)
        assert loop.time() < deadline, mine
        await asyncio.sleep(0.25)


def no_secrets(reply: Any) -> None:
    text = reply.body.decode()
    assert SECRET_IN not in text and SECRET_OUT not in text, text


# -- pure rules ------------------------------------------------------------------------


def test_late_rules() -> None:
    due = datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)
    assert days_late(due, due) == 0
    assert days_late(due + timedelta(seconds=1), due) == 1
    assert days_late(due + timedelta(days=1, seconds=1), due) == 2
    assert days_late(due, None) == 0
    assert apply_late_policy(10, 0, {"mode": "no_credit"}) == 10
    assert apply_late_policy(10, 1, {"mode": "no_credit"}) == 0
    assert apply_late_policy(10, 2, {"mode": "penalty", "penalty_per_day": 10}) == 8
    assert apply_late_policy(10, 20, {"mode": "penalty", "penalty_per_day": 10}) == 0
    assert apply_late_policy(10, 3, {"mode": "accept"}) == 10
    assert parse_due("2026-12-01T23:59:00Z") == due
    assert parse_due(None) is None


# -- writing assignments ---------------------------------------------------------------


async def test_instructor_writes_students_see_published_only(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"], published=False)
    assert a["max_score"] == 10 and a["role"] == "instructor"
    assert a["grading"] == {"total": 0, "pending": 0, "stale": 0}
    assert a["late_policy"] == {"mode": "accept", "penalty_per_day": 0}
    # Unpublished: staff see it, students do not (404, not 403).
    assert len((await api("GET", f"classes/{cid}/assignments", headers=p["tim"])).json) == 1
    assert (await api("GET", f"classes/{cid}/assignments", headers=p["sam"])).json == []
    assert (await api("GET", f"assignments/{a['id']}", headers=p["sam"])).status == 404
    assert (await api("POST", f"assignments/{a['id']}/start", headers=p["sam"])).status == 404
    # Outsiders: 404 on everything.
    assert (await api("GET", f"classes/{cid}/assignments", headers=p["zed"])).status == 404
    assert (await api("GET", f"assignments/{a['id']}", headers=p["zed"])).status == 404
    # Publish; the student sees it, with the hidden test reduced to name and points.
    reply = await api("PATCH", f"assignments/{a['id']}", {"published": True}, headers=p["ines"])
    assert reply.status == 200 and reply.json["published"] is True
    reply = await api("GET", f"assignments/{a['id']}", headers=p["sam"])
    assert reply.status == 200
    no_secrets(reply)
    seen = reply.json
    assert seen["tests"][2] == {"name": "secret", "points": 5, "hidden": True}
    assert seen["tests"][0]["stdin"] == "2\n" and "grading" not in seen
    assert seen["my"] == {
        "project_id": None,
        "attempts": 0,
        "latest_score": None,
        "best_score": None,
        "submitted_at": None,
        "due_at": None,
        "extended": False,
    }
    no_secrets(await api("GET", f"classes/{cid}/assignments", headers=p["sam"]))
    # Staff see everything.
    staff_view = (await api("GET", f"assignments/{a['id']}", headers=p["tim"])).json
    assert staff_view["tests"][2]["expected_output"] == f"{SECRET_OUT}\n"


async def test_only_instructors_change_assignments(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    body = {"title": "T", "language": "python"}
    assert (await api("POST", f"classes/{cid}/assignments", body, headers=p["tim"])).status == 403
    sam_w = bearer("sam", STAFF)
    assert (await api("POST", f"classes/{cid}/assignments", body, headers=sam_w)).status == 403
    assert (await api("POST", f"classes/{cid}/assignments", body, headers=p["zed"])).status == 404
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    assert (
        await api("PATCH", f"assignments/{aid}", {"title": "x"}, headers=p["tim"])
    ).status == 403
    assert (await api("DELETE", f"assignments/{aid}", headers=p["tim"])).status == 403
    assert (await api("DELETE", f"assignments/{aid}", headers=sam_w)).status == 403
    assert (await api("DELETE", f"assignments/{aid}", headers=p["zed"])).status == 404
    # Deleting is soft and final for the API.
    assert (await api("DELETE", f"assignments/{aid}", headers=p["ines"])).status == 204
    assert (await api("GET", f"assignments/{aid}", headers=p["ines"])).status == 404
    assert (await api("GET", f"classes/{cid}/assignments", headers=p["ines"])).json == []
    # The admin (the server's owner) may write in any class.
    reply = await api("POST", f"classes/{cid}/assignments", body)
    assert reply.status == 201 and reply.json["role"] is None


async def test_invalid_assignments_are_422_naming_the_field(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    ines = p["ines"]

    async def bad(body: dict[str, Any], field: str) -> None:
        reply = await api("POST", f"classes/{cid}/assignments", body, headers=ines)
        assert reply.status == 422, reply.body
        assert field in [e["field"] for e in reply.json["errors"]], reply.json

    base = {"title": "T", "language": "python"}
    await bad({**base, "language": "cobol"}, "language")
    await bad({**base, "title": "  "}, "title")
    await bad({**base, "due_at": "tomorrow"}, "due_at")
    await bad({**base, "due_at": "2026-12-01T10:00:00"}, "due_at")  # no time zone
    await bad({**base, "max_attempts": 0}, "max_attempts")
    await bad({**base, "late_policy": {"mode": "sometimes"}}, "late_policy.mode")
    await bad(
        {**base, "late_policy": {"mode": "penalty", "penalty_per_day": 150}},
        "late_policy.penalty_per_day",
    )
    await bad(
        {**base, "starter_files": [{"path": "../x.py", "content": ""}]}, "starter_files[0].path"
    )
    two = [{"name": "a", "points": 1}, {"name": "a", "points": 1}]
    await bad({**base, "tests": two}, "tests[1].name")
    await bad({**base, "tests": [{"name": "a", "points": -1}]}, "tests[0].points")
    big = {"name": "a", "limits": {"cpu_time_ms": 10**9}}
    await bad({**base, "tests": [big]}, "tests[0].limits.cpu_time_ms")
    await bad({**base, "limits": {"memory_mb": 10**9}}, "limits.memory_mb")
    await bad({**base, "colour": "red"}, "colour")
    reply = await api("POST", f"classes/{cid}/assignments", raw="{", headers=ines)
    assert reply.status == 400
    a = await make_assignment(api, cid, ines)
    reply = await api("PATCH", f"assignments/{a['id']}", {}, headers=ines)
    assert reply.status == 422
    reply = await api("PATCH", f"assignments/{a['id']}", {"tests": None}, headers=ines)
    assert reply.status == 422


# -- the student's path ----------------------------------------------------------------


async def test_start_check_submit_and_scores(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    sam = p["sam"]
    first = await api("POST", f"assignments/{aid}/start", headers=sam)
    assert first.status == 201
    project = first.json
    assert project["name"] == "Double it" and project["class_id"] == cid
    assert [f["path"] for f in project["files"]] == ["main.py"]
    again = await api("POST", f"assignments/{aid}/start", headers=sam)
    assert again.status == 200 and again.json["id"] == project["id"]  # idempotent
    # The instructor may read the student's project (read-only).
    assert (await api("GET", f"projects/{project['id']}", headers=p["ines"])).status == 200

    pid = await start_and_write(api, aid, sam, "n = int(input())\nprint(n + 2)\n")
    # Check runs only the visible tests, as an ordinary run of the student's own.
    reply = await api(
        "POST",
        f"assignments/{aid}/check",
        {"project_id": pid},
        headers=sam,
        params={"wait": "true"},
    )
    assert reply.status == 200, reply.body
    no_secrets(reply)
    run = reply.json
    assert [t["name"] for t in run["tests"]] == ["two", "ten"]
    assert [t["verdict"] for t in run["tests"]] == ["accepted", "wrong_answer"]
    assert (await api("GET", f"assignments/{aid}", headers=sam)).json["my"]["attempts"] == 0

    wrong = await submit(api, aid, pid, sam)
    no_secrets(await api("GET", f"submissions/{wrong['id']}", headers=sam))
    assert wrong["attempt"] == 1 and wrong["late"] is False
    assert wrong["raw_score"] == 2 and wrong["score"] == 2 and wrong["max_score"] == 10
    assert wrong["verdict"] == "wrong_answer"
    hidden = wrong["tests"][2]
    assert hidden == {
        "name": "secret",
        "hidden": True,
        "points": 5,
        "points_awarded": 0,
        "passed": False,
    }
    assert wrong["tests"][1]["stdout"] == "12\n" and wrong["tests"][1]["passed"] is False

    pid = await start_and_write(api, aid, sam, SOLUTION)
    right = await submit(api, aid, pid, sam)
    assert right["attempt"] == 2 and right["score"] == 10 and right["verdict"] == "accepted"
    assert all(t["passed"] for t in right["tests"])
    mine = await api("GET", f"assignments/{aid}", headers=sam)
    assert mine.json["my"]["attempts"] == 2 and mine.json["my"]["best_score"] == 10
    assert mine.json["my"]["project_id"] == pid

    # Students see their own submissions only; staff see everyone's, secrets included.
    reply = await api("GET", f"assignments/{aid}/submissions", headers=sam)
    no_secrets(reply)
    assert [s["attempt"] for s in reply.json] == [2, 1]
    assert (await api("GET", f"assignments/{aid}/submissions", headers=p["sue"])).json == []
    forbidden = await api(
        "GET", f"assignments/{aid}/submissions", headers=p["sue"], params={"student": "sam"}
    )
    assert forbidden.status == 403
    assert (await api("GET", f"submissions/{right['id']}", headers=p["sue"])).status == 404
    staff = await api("GET", f"assignments/{aid}/submissions", headers=p["tim"])
    assert len(staff.json) == 2
    assert staff.json[1]["tests"][2]["stdin"] == f"{SECRET_IN}\n"
    assert staff.json[1]["tests"][2]["verdict"] == "wrong_answer"
    # Nobody outside the class sees them.
    assert (await api("GET", f"assignments/{aid}/submissions", headers=p["zed"])).status == 404
    assert (await api("GET", f"submissions/{right['id']}", headers=p["zed"])).status == 404

    # The grading run belongs to MUSCode, not the student: its request holds the
    # hidden tests.
    runs = await api("GET", "executions", headers=sam)
    no_secrets(runs)


async def test_submitting_someone_elses_or_a_missing_project(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    pid = await start_and_write(api, a["id"], p["sam"], SOLUTION)
    url = f"assignments/{a['id']}/submissions"
    reply = await api("POST", url, {"project_id": pid}, headers=p["sue"])
    assert reply.status == 404
    reply = await api("POST", url, {"project_id": "nope"}, headers=p["sam"])
    assert reply.status == 404
    reply = await api("POST", url, {}, headers=p["sam"])
    assert reply.status == 422
    reply = await api("POST", url, {"project_id": 5}, headers=p["sam"])
    assert reply.status == 422


async def test_max_attempts(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"], max_attempts=1)
    pid = await start_and_write(api, a["id"], p["sam"], SOLUTION)
    await submit(api, a["id"], pid, p["sam"])
    reply = await api(
        "POST", f"assignments/{a['id']}/submissions", {"project_id": pid}, headers=p["sam"]
    )
    assert reply.status == 409 and reply.json["reason"] == "no_attempts_left"


async def test_late_submissions_follow_the_policy(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    past = (datetime.now(timezone.utc) - timedelta(days=1, hours=1)).isoformat()
    penalty = await make_assignment(
        api, cid, p["ines"], due_at=past, late_policy={"mode": "penalty", "penalty_per_day": 10}
    )
    pid = await start_and_write(api, penalty["id"], p["sam"], SOLUTION)
    sub = await submit(api, penalty["id"], pid, p["sam"])
    assert sub["late"] is True and sub["days_late"] == 2
    assert sub["raw_score"] == 10 and sub["score"] == 8

    none = await make_assignment(
        api, cid, p["ines"], title="Strict", due_at=past, late_policy={"mode": "no_credit"}
    )
    pid = await start_and_write(api, none["id"], p["sue"], SOLUTION)
    sub = await submit(api, none["id"], pid, p["sue"])
    assert sub["late"] is True and sub["raw_score"] == 10 and sub["score"] == 0

    future = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    ok = await make_assignment(api, cid, p["ines"], title="Later", due_at=future)
    pid = await start_and_write(api, ok["id"], p["sam"], SOLUTION)
    sub = await submit(api, ok["id"], pid, p["sam"])
    assert sub["late"] is False and sub["score"] == 10


async def test_compile_errors_crashes_and_no_tests(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    # A Python file that does not parse is a compile error, for every test.
    pid = await start_and_write(api, a["id"], p["sam"], "def broken(:\n")
    sub = await submit(api, a["id"], pid, p["sam"])
    assert sub["score"] == 0 and sub["verdict"] == "compile_error", sub
    assert sub["tests"] and not any(t["passed"] for t in sub["tests"]), sub
    # One that crashes is a runtime error.
    pid = await start_and_write(api, a["id"], p["sue"], "print(1 / 0)\n")
    sub = await submit(api, a["id"], pid, p["sue"])
    assert sub["score"] == 0 and sub["verdict"] == "runtime_error", sub
    assert not any(t["passed"] for t in sub["tests"])
    # An assignment without tests still checks that the program runs.
    plain = await make_assignment(api, cid, p["ines"], title="Free", tests=[])
    pid = await start_and_write(api, plain["id"], p["sue"], "print('hi')\n")
    sub = await submit(api, plain["id"], pid, p["sue"])
    assert sub["verdict"] == "accepted" and sub["max_score"] == 0 and sub["score"] == 0
    reply = await api(
        "POST", f"assignments/{plain['id']}/check", {"project_id": pid}, headers=p["sue"]
    )
    assert reply.status == 422


async def test_override_regrade_and_grades(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    pid = await start_and_write(api, aid, p["sam"], SOLUTION)
    good = await submit(api, aid, pid, p["sam"])
    pid = await start_and_write(api, aid, p["sue"], "print(4)\n")
    poor = await submit(api, aid, pid, p["sue"])
    assert good["score"] == 10 and poor["score"] == 2

    # TAs override with a comment; students cannot; bad scores are 422.
    url = f"submissions/{poor['id']}"
    assert (await api("PATCH", url, {"score": 5}, headers=p["sue"])).status == 403
    assert (await api("PATCH", url, {"score": -1}, headers=p["tim"])).status == 422
    assert (await api("PATCH", url, {"score": 11}, headers=p["tim"])).status == 422
    reply = await api("PATCH", url, {"score": 6, "comment": "partial credit"}, headers=p["tim"])
    assert reply.status == 200
    assert reply.json["score"] == 6 and reply.json["override"]["by"] == "tim"
    seen = (await api("GET", url, headers=p["sue"])).json
    assert seen["score"] == 6 and seen["override"]["comment"] == "partial credit"

    # Gradescope's results.json.
    results = (await api("GET", f"{url}/results.json", headers=p["sue"])).json
    assert results["score"] == 6 and len(results["tests"]) == 3
    assert results["tests"][2]["visibility"] == "hidden" and "output" not in results["tests"][2]
    assert [t["status"] for t in results["tests"]] == ["passed", "failed", "failed"]

    # Fix a test (the expected output of "two" becomes wrong for everyone), regrade.
    tests = tests_spec()
    tests[0]["expected_output"] = "5\n"
    reply = await api("PATCH", f"assignments/{aid}", {"tests": tests}, headers=p["ines"])
    assert reply.status == 200
    assert (await api("POST", f"assignments/{aid}/regrade", headers=p["sue"])).status == 403
    reply = await api("POST", f"assignments/{aid}/regrade", headers=p["tim"])
    assert reply.status == 202 and reply.json["total"] == 2
    for _ in range(200):
        progress = (await api("GET", f"assignments/{aid}", headers=p["tim"])).json["grading"]
        if progress["pending"] == 0:
            break

        await asyncio.sleep(0.1)
    assert progress == {"total": 2, "pending": 0, "stale": 0}
    regraded = (await api("GET", f"submissions/{good['id']}", headers=p["ines"])).json
    assert regraded["raw_score"] == 8 and regraded["score"] == 8
    # The override survives a regrade.
    assert (await api("GET", url, headers=p["ines"])).json["score"] == 6

    rows = (await api("GET", f"assignments/{aid}/grades", headers=p["tim"])).json
    assert [(r["student"], r["best_score"], r["attempts"], r["overridden"]) for r in rows] == [
        ("sam", 8, 1, False),
        ("sue", 6, 1, True),
    ]
    reply = await api("GET", f"assignments/{aid}/grades.csv", headers=p["ines"])
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(reply.body.decode())))
    assert [(r["student"], r["latest_score"], r["max_score"], r["late"]) for r in table] == [
        ("sam", "8", "10", "false"),
        ("sue", "6", "10", "false"),
    ]
    assert (await api("GET", f"assignments/{aid}/grades.csv", headers=p["sam"])).status == 403
    assert (await api("GET", f"assignments/{aid}/grades", headers=p["zed"])).status == 404

    book = (await api("GET", f"classes/{cid}/grades", headers=p["ines"])).json
    assert book["assignments"][0]["id"] == aid
    assert book["students"] == [
        {"name": "sam", "scores": {aid: 8}, "total": 8},
        {"name": "sue", "scores": {aid: 6}, "total": 6},
    ]
    assert book["max_total"] == 10
    reply = await api("GET", f"classes/{cid}/grades.csv", headers=p["ines"])
    lines = reply.body.decode().splitlines()
    assert lines == ["student,Double it,total", "max_score,10,10", "sam,8,8", "sue,6,6"]
    assert (await api("GET", f"classes/{cid}/grades", headers=p["sam"])).status == 403


async def test_grades_csv_cannot_carry_formulas(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    await enrol(api, cid, p["ines"], **{"=HYPERLINK(1)": "student"})
    a = await make_assignment(api, cid, p["ines"], title="=cmd|' /C calc'!A0")
    reply = await api("GET", f"assignments/{a['id']}/grades.csv", headers=p["ines"])
    assert "'=HYPERLINK(1)" in reply.body.decode()
    reply = await api("GET", f"classes/{cid}/grades.csv", headers=p["ines"])
    first = reply.body.decode().splitlines()[0]
    assert first.startswith("student,'=cmd"), first


async def test_grader_token_reads_grades_of_its_class_only(
    api: Any, bearer: Any, authority: Any
) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    other = await make_class(api, p["ines"], slug="cs102")
    b = await make_assignment(api, other["id"], p["ines"])
    token, _ = authority.issue("ines", ["grade", "classes:read"], extra={"class_id": cid})
    grader = {"Authorization": f"Bearer {token}"}
    assert (await api("GET", f"assignments/{a['id']}/grades", headers=grader)).status == 200
    assert (await api("GET", f"assignments/{b['id']}/grades", headers=grader)).status == 404
    # Reading grades is not writing assignments.
    reply = await api("PATCH", f"assignments/{a['id']}", {"title": "x"}, headers=grader)
    assert reply.status == 403


async def test_submission_notice_on_events(api: Any, bearer: Any, jp_ws_fetch: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    pid = await start_and_write(api, a["id"], p["sam"], SOLUTION)
    ws = await jp_ws_fetch(*API_EVENTS, headers=p["sam"])
    try:
        reply = await api(
            "POST", f"assignments/{a['id']}/submissions", {"project_id": pid}, headers=p["sam"]
        )
        assert reply.status == 201 and reply.json["status"] == "grading"

        while True:
            message = json.loads(await asyncio.wait_for(ws.read_message(), 60))
            if message.get("type") == "submission":
                break
        assert message == {
            "type": "submission",
            "id": reply.json["id"],
            "assignment_id": a["id"],
            "status": "graded",
            "score": 10,
        }
    finally:
        ws.close()


API_EVENTS = ("api", "muscode", "v1", "events")


async def test_one_submission_grades_at_a_time_per_student(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    slow = "import time\ntime.sleep(1)\n" + SOLUTION
    pid = await start_and_write(api, a["id"], p["sam"], slow)
    url = f"assignments/{a['id']}/submissions"
    first = await api("POST", url, {"project_id": pid}, headers=p["sam"])
    assert first.status == 201 and first.json["status"] == "grading"
    again = await api("POST", url, {"project_id": pid}, headers=p["sam"])
    assert again.status == 409 and again.json["reason"] == "still_grading"
    # Other students are not held up.
    pid = await start_and_write(api, a["id"], p["sue"], SOLUTION)
    assert (await submit(api, a["id"], pid, p["sue"]))["score"] == 10


@pytest.mark.parametrize("muscode_config", [{"run_rate_limit": "2/minute"}])
async def test_submissions_count_against_the_run_rate_limit(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    pid = await start_and_write(api, a["id"], p["sam"], SOLUTION)
    await submit(api, a["id"], pid, p["sam"])
    await submit(api, a["id"], pid, p["sam"])
    reply = await api(
        "POST", f"assignments/{a['id']}/submissions", {"project_id": pid}, headers=p["sam"]
    )
    assert reply.status == 429 and int(reply.headers["Retry-After"]) >= 1
    mine = (await api("GET", f"assignments/{a['id']}/submissions", headers=p["sam"])).json
    assert len(mine) == 2  # the refused one left no trace


async def test_a_tests_own_limits_start_from_the_assignments(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"], limits={"memory_mb": 64})
    tests = tests_spec()
    tests[0]["limits"] = {"cpu_time_ms": 1500}
    reply = await api("PATCH", f"assignments/{a['id']}", {"tests": tests}, headers=p["ines"])
    assert reply.status == 200, reply.body
    own = reply.json["tests"][0]["limits"]
    assert (own["cpu_time_ms"], own["memory_mb"]) == (1500, 64)
    assert reply.json["limits"]["memory_mb"] == 64
