"""What staff need after the first assignment: per-student extensions, roles changed in
place, rosters from LMS exports, the students who have not submitted, the graded
snapshot of a submission, grade sheets with comments and totals, archived classes."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from .test_assignments import (
    SOLUTION,
    make_assignment,
    setup_class,
    start_and_write,
    submit,
)
from .test_audit import Captured, captured  # noqa: F401 - fixture
from .test_classes import WRITE, make_class

pytestmark = pytest.mark.usefixtures("bubblewrap")


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


async def test_extensions_move_one_students_due_date(
    api: Any,
    bearer: Any,
    captured: Captured,  # noqa: F811
) -> None:
    cid, p = await setup_class(api, bearer)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    past, future = now - timedelta(days=1, hours=1), now + timedelta(days=2)
    policy = {"mode": "penalty", "penalty_per_day": 10}
    a = await make_assignment(api, cid, p["ines"], due_at=iso(past), late_policy=policy)
    aid = a["id"]
    url = f"assignments/{aid}/extensions/sam"

    # Who has not submitted yet, with their own due dates.
    reply = await api("GET", f"assignments/{aid}/missing", headers=p["tim"])
    assert reply.json == [
        {"student": "sam", "due_at": iso(past), "extended": False},
        {"student": "sue", "due_at": iso(past), "extended": False},
    ]
    assert (await api("GET", f"assignments/{aid}/missing", headers=p["sam"])).status == 403

    # Staff grant; students and outsiders cannot.
    assert (await api("PUT", url, {"due_at": iso(future)}, headers=p["sam"])).status == 403
    assert (await api("PUT", url, {"due_at": iso(future)}, headers=p["zed"])).status == 404
    reply = await api("PUT", url, {"due_at": iso(now)}, headers=p["tim"])
    assert reply.status == 201, reply.body
    assert reply.headers["Location"].endswith(f"/assignments/{aid}/extensions/sam")
    reply = await api("PUT", url, {"due_at": iso(future)}, headers=p["ines"])
    assert reply.status == 200
    assert reply.json | {"granted_at": None} == {
        "student": "sam",
        "due_at": iso(future),
        "granted_by": "ines",
        "granted_at": None,
    }
    listed = (await api("GET", f"assignments/{aid}/extensions", headers=p["tim"])).json
    assert [(e["student"], e["due_at"]) for e in listed] == [("sam", iso(future))]
    assert (await api("GET", f"assignments/{aid}/extensions", headers=p["sam"])).status == 403

    async def bad(student: str, body: dict[str, Any], field: str) -> None:
        reply = await api("PUT", f"assignments/{aid}/extensions/{student}", body, headers=p["ines"])
        assert reply.status == 422, reply.body
        assert reply.json["errors"][0]["field"] == field

    await bad("tim", {"due_at": iso(future)}, "student")  # a TA, not a student
    await bad("nobody", {"due_at": iso(future)}, "student")
    await bad("sue", {"due_at": "next week"}, "due_at")
    await bad("sue", {"due_at": "2026-12-01T10:00:00"}, "due_at")  # no time zone

    # Each student sees their own due date; the late rules follow it.
    sam_view = (await api("GET", f"assignments/{aid}", headers=p["sam"])).json
    assert sam_view["due_at"] == iso(future)
    assert sam_view["my"]["due_at"] == iso(future) and sam_view["my"]["extended"] is True
    sue_view = (await api("GET", f"assignments/{aid}", headers=p["sue"])).json
    assert sue_view["due_at"] == iso(past) and sue_view["my"]["extended"] is False
    staff_view = (await api("GET", f"assignments/{aid}", headers=p["ines"])).json
    assert staff_view["due_at"] == iso(past)
    missing = (await api("GET", f"assignments/{aid}/missing", headers=p["ines"])).json
    assert missing[0] == {"student": "sam", "due_at": iso(future), "extended": True}

    sam = await submit(api, aid, await start_and_write(api, aid, p["sam"], SOLUTION), p["sam"])
    assert sam["late"] is False and sam["score"] == 10
    sue = await submit(api, aid, await start_and_write(api, aid, p["sue"], SOLUTION), p["sue"])
    assert sue["late"] is True and sue["days_late"] == 2 and sue["score"] == 8
    assert (await api("GET", f"assignments/{aid}/missing", headers=p["tim"])).json == []

    # Withdrawn: sam's submission is judged against the assignment's date again.
    assert (await api("DELETE", url, headers=p["sam"])).status == 403
    assert (await api("DELETE", url, headers=p["tim"])).status == 204
    reply = await api("DELETE", url, headers=p["tim"])
    assert reply.status == 404 and reply.json["reason"] == "extension_not_found"
    again = (await api("GET", f"submissions/{sam['id']}", headers=p["sam"])).json
    assert again["late"] is True and again["days_late"] == 2 and again["score"] == 8
    assert (await api("GET", f"assignments/{aid}", headers=p["sam"])).json["due_at"] == iso(past)
    # Granted after the fact: sue's late submission is on time after all.
    reply = await api(
        "PUT", f"assignments/{aid}/extensions/sue", {"due_at": iso(future)}, headers=p["ines"]
    )
    assert reply.status == 201
    again = (await api("GET", f"submissions/{sue['id']}", headers=p["ines"])).json
    assert again["late"] is False and again["days_late"] == 0 and again["score"] == 10
    rows = (await api("GET", f"assignments/{aid}/grades", headers=p["ines"])).json
    assert [(r["student"], r["late"], r["latest_score"]) for r in rows] == [
        ("sam", True, 8),
        ("sue", False, 10),
    ]

    events = [e for e in captured.events("extension")]
    assert [(e["action"], e["actor"], e["student"], e["outcome"]) for e in events] == [
        ("grant", "sam", "sam", "failure"),
        ("grant", "zed", "sam", "failure"),
        ("grant", "tim", "sam", "success"),
        ("grant", "ines", "sam", "success"),
        ("grant", "ines", "tim", "failure"),
        ("grant", "ines", "nobody", "failure"),
        ("grant", "ines", "sue", "failure"),
        ("grant", "ines", "sue", "failure"),
        ("withdraw", "sam", "sam", "failure"),
        ("withdraw", "tim", "sam", "success"),
        ("withdraw", "tim", "sam", "failure"),
        ("grant", "ines", "sue", "success"),
    ]
    assert events[3]["due_at"] == iso(future) and events[3]["class_id"] == cid
    # An outsider's attempt names no class: it learns nothing.
    assert "class_id" not in events[1] and events[0]["reason"] == "missing_scope"


async def test_roles_change_in_place(api: Any, bearer: Any, captured: Captured) -> None:  # noqa: F811
    cid, p = await setup_class(api, bearer)
    url = f"classes/{cid}/members/sam"
    reply = await api("PATCH", url, {"role": "ta"}, headers=p["ines"])
    assert reply.status == 200 and reply.json == {"name": "sam", "role": "ta"}
    roster = (await api("GET", f"classes/{cid}/members", headers=p["ines"])).json
    assert {m["name"]: m["role"] for m in roster}["sam"] == "ta"
    # Now a TA, sam reads the roster.
    assert (await api("GET", f"classes/{cid}/members", headers=p["sam"])).status == 200
    assert (await api("PATCH", url, {"role": "student"}, headers=p["tim"])).status == 403
    assert (await api("PATCH", url, {"role": "student"}, headers=p["zed"])).status == 404
    reply = await api("PATCH", f"classes/{cid}/members/nobody", {"role": "ta"}, headers=p["ines"])
    assert reply.status == 404 and reply.json["reason"] == "member_not_found"
    reply = await api("PATCH", url, {"role": "boss"}, headers=p["ines"])
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "role"
    events = [e for e in captured.events("roster") if e["action"] == "update"]
    assert [(e["actor"], e["outcome"]) for e in events] == [
        ("ines", "success"),
        ("tim", "failure"),
        ("zed", "failure"),
        ("ines", "failure"),
    ]
    assert events[0]["members"] == [{"name": "sam", "role": "ta"}]


async def test_a_roster_from_an_lms_export(api: Any, bearer: Any) -> None:
    ines = bearer("ines", WRITE)
    c = await make_class(api, ines)
    url = f"classes/{c['id']}/members.csv"
    headers = {**ines, "Content-Type": "text/csv"}
    # Semicolons, a byte-order mark, columns in another order, a full name beside the
    # user name, roles in any case, extra columns.
    export = (
        "\ufeffEmail;Full Name;ROLE;Username;Section\r\n"
        "ada@example.org;Ada Lovelace;Student;ada;A\r\n"
        "grace@example.org;Grace Hopper;TA;grace;A\r\n"
        "alan@example.org;Alan Turing;;alan;B\r\n"
        "x@example.org;No Login;Student;;B\r\n"
    )
    reply = await api("POST", url, raw=export.encode("utf-8"), headers=headers)
    assert reply.status == 200, reply.body
    assert reply.json == {
        "added": [
            {"name": "ada", "role": "student"},
            {"name": "grace", "role": "ta"},
            {"name": "alan", "role": "student"},
        ],
        "updated": [],
        "unchanged": [],
        "errors": [{"line": 5, "message": "no name"}],
    }
    # Again, with grace made an instructor: the rest is unchanged.
    again = export.replace("TA;grace", "Instructor;grace")
    reply = await api("POST", url, raw=again.encode("utf-8"), headers=headers)
    assert reply.json["added"] == [] and reply.json["updated"] == [
        {"name": "grace", "role": "instructor"}
    ]
    assert [m["name"] for m in reply.json["unchanged"]] == ["ada", "alan"]
    # A plain comma-separated list of names, no role column: students.
    reply = await api("POST", url, raw="name\nbob\n", headers=headers)
    assert reply.json["added"] == [{"name": "bob", "role": "student"}]


async def test_a_submission_keeps_exactly_the_files_graded(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    pid = await start_and_write(api, aid, p["sam"], SOLUTION)
    blob = bytes(range(256))
    reply = await api(
        "POST",
        f"projects/{pid}/files",
        {"path": "data/blob.bin", "content": base64.b64encode(blob).decode(), "encoding": "base64"},
        headers=p["sam"],
    )
    assert reply.status == 201, reply.body
    sub = await submit(api, aid, pid, p["sam"])
    # Later edits, even deleting the project, change nothing of what was graded.
    await start_and_write(api, aid, p["sam"], "print('changed')\n")
    assert (await api("DELETE", f"projects/{pid}", headers=p["sam"])).status == 204
    url = f"submissions/{sub['id']}/files"
    for who in ("sam", "tim", "ines"):
        reply = await api("GET", url, headers=p[who])
        assert reply.status == 200, (who, reply.body)
        files = {f["path"]: f for f in reply.json}
        assert files["main.py"] == {"path": "main.py", "content": SOLUTION, "encoding": "utf-8"}
        assert files["data/blob.bin"]["encoding"] == "base64"
        assert base64.b64decode(files["data/blob.bin"]["content"]) == blob
    for who in ("sue", "zed"):
        reply = await api("GET", url, headers=p[who])
        assert reply.status == 404 and reply.json["reason"] == "submission_not_found", who
    assert (await api("GET", "submissions/nope/files", headers=p["ines"])).status == 404


async def test_grade_sheets_carry_comments_and_totals(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    one = await make_assignment(api, cid, p["ines"], title="One")
    two = await make_assignment(api, cid, p["ines"], title="Two")
    await make_assignment(api, cid, p["ines"], title="Draft", published=False)
    for a in (one, two):
        await submit(
            api, a["id"], await start_and_write(api, a["id"], p["sam"], SOLUTION), p["sam"]
        )
    poor = await submit(
        api, one["id"], await start_and_write(api, one["id"], p["sue"], "print(4)\n"), p["sue"]
    )
    comment = '=partial, see "notes"\nline two'
    reply = await api(
        "PATCH", f"submissions/{poor['id']}", {"score": 5, "comment": comment}, headers=p["tim"]
    )
    assert reply.status == 200
    rows = (await api("GET", f"assignments/{one['id']}/grades", headers=p["tim"])).json
    assert [(r["student"], r["overridden"], r["comment"]) for r in rows] == [
        ("sam", False, None),
        ("sue", True, comment),
    ]
    reply = await api("GET", f"assignments/{one['id']}/grades.csv", headers=p["tim"])
    table = list(csv.DictReader(io.StringIO(reply.body.decode())))
    assert [(r["student"], r["latest_score"], r["comment"]) for r in table] == [
        ("sam", "10", ""),
        ("sue", "5", "'" + comment),  # quoted: a spreadsheet would run it
    ]

    book = (await api("GET", f"classes/{cid}/grades", headers=p["ines"])).json
    assert book["max_total"] == 20  # the draft does not count
    assert [(s["name"], s["total"]) for s in book["students"]] == [("sam", 20), ("sue", 5)]
    reply = await api("GET", f"classes/{cid}/grades.csv", headers=p["ines"])
    table = list(csv.reader(io.StringIO(reply.body.decode())))
    assert table[0][-1] == "total" and table[1][-1] == "20"
    assert [(r[0], r[-1]) for r in table[2:]] == [("sam", "20"), ("sue", "5")]


async def test_an_archived_class_is_read_only_for_submissions(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    pid = await start_and_write(api, aid, p["sam"], SOLUTION)
    assert (
        await api("PATCH", f"classes/{cid}", {"archived": True}, headers=p["tim"])
    ).status == 403
    reply = await api("PATCH", f"classes/{cid}", {"archived": True}, headers=p["ines"])
    assert reply.status == 200 and reply.json["archived"] is True and reply.json["archived_at"]

    # Out of the lists unless asked for; still readable.
    for who in ("ines", "sam"):
        assert (await api("GET", "classes", headers=p[who])).json == []
        listed = (
            await api("GET", "classes", headers=p[who], params={"include_archived": "true"})
        ).json
        assert [(c["id"], c["archived"]) for c in listed] == [(cid, True)]
        assert (await api("GET", f"classes/{cid}", headers=p[who])).json["archived"] is True
        assert (await api("GET", f"assignments/{aid}", headers=p[who])).status == 200
    reply = await api("GET", "classes", params={"include_archived": "maybe"})
    assert reply.status == 422

    reply = await api(
        "POST", f"assignments/{aid}/submissions", {"project_id": pid}, headers=p["sam"]
    )
    assert reply.status == 409 and reply.json["reason"] == "class_archived"
    assert "archived" in reply.json["message"]

    reply = await api("PATCH", f"classes/{cid}", {"archived": False}, headers=p["ines"])
    assert reply.json["archived"] is False and reply.json["archived_at"] is None
    assert [c["id"] for c in (await api("GET", "classes", headers=p["sam"])).json] == [cid]
    assert (await submit(api, aid, pid, p["sam"]))["score"] == 10
