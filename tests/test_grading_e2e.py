"""A class's assignment end to end, on PostgreSQL with the Docker sandbox.

An instructor writes a C assignment with 3 visible and 5 hidden tests; 30 students
start it; some submit correct, wrong, non-compiling, time-limited and crashing
programs, two of them after the due date. Scores, verdicts, late flags and the CSV
must be exactly right; no response to a student may hold a hidden test's input or
expected output; a regrade after fixing a test updates every score, with progress on
``/events``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from muscode_ext.execution.docker import DockerSandbox

from .test_resilience import docker_ready  # noqa: F401  (a fixture)

STAFF = ("execute", "projects", "classes:read", "classes:write", "grade")
STUDENTS = [f"s{i:02d}" for i in range(1, 31)]

VISIBLE = [("1 2", "3"), ("2 2", "4"), ("10 5", "15")]
#: Distinctive numbers, so that a leak is found by a plain text search.
HIDDEN = [
    ("4096113 7", "4096120"),
    ("-5281799 1000000", "-4281799"),
    ("123456789 987654321", "1111111110"),
    ("3133700 1", "3133702"),  # wrong on purpose: fixed before the regrade
    ("0 6552199", "6552199"),
]
FIXED = ("3133700 1", "3133701")
SECRETS = {part for pair in [*HIDDEN, FIXED] for value in pair for part in value.split()}
SECRETS -= {"1", "0", "7", "1000000"}  # too common to search for; the rest identify tests

PROGRAMS = {
    "correct": "#include <stdio.h>\nint main(void) { long a, b;\n"
    '  if (scanf("%ld %ld", &a, &b) != 2) return 1;\n'
    '  printf("%ld\\n", a + b); return 0; }\n',
    # a * b equals a + b only for "2 2": one visible point.
    "wrong": "#include <stdio.h>\nint main(void) { long a, b;\n"
    '  if (scanf("%ld %ld", &a, &b) != 2) return 1;\n'
    '  printf("%ld\\n", a * b); return 0; }\n',
    "broken": '#include <stdio.h>\nint main(void) { printf("%d\\n", 1 + ); }\n',
    "slow": "int main(void) { volatile unsigned long n = 0; for (;;) n++; }\n",
    "crash": "#include <stdio.h>\nint main(void) { int *p = 0; *p = 1; return 0; }\n",
}
# Who submits what, on time (the rest only start the assignment).
ON_TIME = {
    **{s: "correct" for s in STUDENTS[0:8]},
    **{s: "wrong" for s in STUDENTS[8:12]},
    **{s: "broken" for s in STUDENTS[12:15]},
    **{s: "slow" for s in STUDENTS[15:17]},
    **{s: "crash" for s in STUDENTS[17:20]},
}
LATE = {STUDENTS[20]: "correct", STUDENTS[21]: "wrong"}

VISIBLE_POINTS, HIDDEN_POINTS = 1, 2
MAX = len(VISIBLE) * VISIBLE_POINTS + len(HIDDEN) * HIDDEN_POINTS  # 13
# Before the fix no program passes hidden test 4; after it the correct ones do.
RAW_BEFORE = {"correct": MAX - HIDDEN_POINTS, "wrong": 1, "broken": 0, "slow": 0, "crash": 0}
RAW_AFTER = {**RAW_BEFORE, "correct": MAX}
STAFF_VERDICT = {
    "correct": "wrong_answer",  # the broken hidden test
    "wrong": "wrong_answer",
    "broken": "compile_error",
    "slow": "time_limit_exceeded",
    "crash": "runtime_error",
}


@pytest.fixture
def db_url(pg_database: str) -> str:
    return pg_database


@pytest.fixture
def muscode_config() -> dict[str, Any]:
    return {"sandbox_class": DockerSandbox, "workers": 2}


def graded_tests(hidden: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "name": f"visible {i}",
            "stdin": i_o[0] + "\n",
            "expected_output": i_o[1] + "\n",
            "points": VISIBLE_POINTS,
        }
        for i, i_o in enumerate(VISIBLE, start=1)
    ] + [
        {
            "name": f"hidden {i}",
            "stdin": i_o[0] + "\n",
            "expected_output": i_o[1] + "\n",
            "points": HIDDEN_POINTS,
            "hidden": True,
        }
        for i, i_o in enumerate(hidden, start=1)
    ]


class Student:
    """Everything a student's requests got back, to search for leaks afterwards."""

    def __init__(self, api: Any, name: str, headers: dict[str, str]) -> None:
        self.api, self.name, self.headers = api, name, headers
        self.seen: list[str] = []

    async def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        reply = await self.api(method, path, body, headers=self.headers, **kw)
        self.seen.append(reply.body.decode())
        return reply


async def wait_graded(api: Any, aid: str, headers: Any, timeout: float = 300) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        grading = (await api("GET", f"assignments/{aid}", headers=headers)).json["grading"]
        if grading["pending"] == 0:
            return
        assert loop.time() < deadline, grading
        await asyncio.sleep(0.5)


async def released(st: Any, aid: str, timeout: float = 120) -> list[dict[str, Any]]:
    """A student's submissions once their grades are released: a grade reaches its
    student as if every hidden test had used its whole wall-time limit, a few seconds
    after the staff see it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        mine = list((await st("GET", f"assignments/{aid}/submissions")).json)
        if all(s["status"] == "graded" for s in mine):
            return mine
        assert loop.time() < deadline, mine
        await asyncio.sleep(0.25)


@pytest.mark.timeout(900)
async def test_a_c_assignment_for_thirty_students(
    api: Any,
    bearer: Any,
    jp_ws_fetch: Any,
    docker_ready: None,  # noqa: F811
) -> None:
    ines = bearer("ines", STAFF)
    reply = await api("POST", "classes", {"slug": "c101", "name": "C"}, headers=ines)
    cid = reply.json["id"]
    roster = "name,role\n" + "".join(f"{s},student\n" for s in STUDENTS) + "tao,ta\n"
    reply = await api(
        "POST",
        f"classes/{cid}/members.csv",
        raw=roster,
        headers={**ines, "Content-Type": "text/csv"},
    )
    assert reply.status == 200, reply.body
    due = datetime.now(timezone.utc) + timedelta(days=2)
    reply = await api(
        "POST",
        f"classes/{cid}/assignments",
        {
            "title": "Add two numbers",
            "description": "Read two integers, print their sum.",
            "language": "c",
            "starter_files": [{"path": "main.c", "content": "#include <stdio.h>\n"}],
            "tests": graded_tests(HIDDEN),
            "due_at": due.isoformat(),
            "late_policy": {"mode": "penalty", "penalty_per_day": 10},
            "limits": {"cpu_time_ms": 500, "wall_time_ms": 1500},
            "published": True,
        },
        headers=ines,
    )
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    assert reply.json["max_score"] == MAX

    students = {s: Student(api, s, bearer(s)) for s in STUDENTS}

    async def start(st: Student) -> tuple[str, dict[str, Any]]:
        reply = await st("POST", f"assignments/{aid}/start")
        assert reply.status == 201, reply.body
        return st.name, reply.json

    projects = dict(await asyncio.gather(*(start(st) for st in students.values())))
    assert len({p["id"] for p in projects.values()}) == 30

    async def hand_in(name: str, program: str) -> dict[str, Any]:
        st, project = students[name], projects[name]
        f = project["files"][0]
        reply = await st(
            "PUT",
            f"projects/{project['id']}/files/{f['id']}",
            {"content": PROGRAMS[program], "version": f["version"]},
        )
        assert reply.status == 200, reply.body
        reply = await st("POST", f"assignments/{aid}/submissions", {"project_id": project["id"]})
        assert reply.status == 201, reply.body
        return dict(reply.json)

    # One student checks first: the visible tests only, as their own run.
    st = students[STUDENTS[0]]
    f = projects[st.name]["files"][0]
    await st(
        "PUT",
        f"projects/{projects[st.name]['id']}/files/{f['id']}",
        {"content": PROGRAMS["correct"], "version": f["version"]},
    )
    reply = await st(
        "POST",
        f"assignments/{aid}/check",
        {"project_id": projects[st.name]["id"]},
        params={"wait": "true"},
    )
    assert reply.status == 200, reply.body
    assert [t["verdict"] for t in reply.json["tests"]] == ["accepted"] * 3
    projects[st.name] = (await st("GET", f"projects/{projects[st.name]['id']}")).json

    await asyncio.gather(*(hand_in(s, prog) for s, prog in ON_TIME.items()))
    await wait_graded(api, aid, ines)
    # The due date moves into the past: two more students are a day late.
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    reply = await api("PATCH", f"assignments/{aid}", {"due_at": past.isoformat()}, headers=ines)
    assert reply.status == 200
    await asyncio.gather(*(hand_in(s, prog) for s, prog in LATE.items()))
    await wait_graded(api, aid, ines)

    everyone = {**ON_TIME, **LATE}

    def expected_score(name: str, raw: dict[str, int]) -> float:
        points = raw[everyone[name]]
        return round(points * 0.9, 4) if name in LATE else points

    async def check_scores(raw: dict[str, int], verdicts: dict[str, str]) -> list[dict[str, Any]]:
        subs = (await api("GET", f"assignments/{aid}/submissions", headers=ines)).json
        assert len(subs) == len(everyone)
        by = {s["student"]: s for s in subs}
        assert set(by) == set(everyone)
        for name, program in everyone.items():
            sub = by[name]
            assert sub["status"] == "graded"
            assert sub["raw_score"] == raw[program], (name, program, sub)
            assert sub["score"] == expected_score(name, raw), (name, sub)
            assert sub["verdict"] == verdicts[program], (name, program, sub["verdict"])
            assert sub["late"] is (name in LATE) and sub["days_late"] == (1 if name in LATE else 0)
            assert len(sub["tests"]) == 8
            if program == "broken":
                assert "error" in (sub["compile_output"] or "")
        return subs

    await check_scores(RAW_BEFORE, STAFF_VERDICT)

    # What students see: their own scores; hidden tests as pass/fail only.
    for name in everyone:
        st = students[name]
        mine = await released(st, aid)
        assert [s["student"] for s in mine] == [name]
        hidden = [t for t in mine[0]["tests"] if t["hidden"]]
        assert len(hidden) == 5
        assert all(
            set(t) == {"name", "hidden", "points", "points_awarded", "passed"} for t in hidden
        )
        await st("GET", f"submissions/{mine[0]['id']}")
        await st("GET", f"submissions/{mine[0]['id']}/results.json")
        await st("GET", f"assignments/{aid}")
        await st("GET", f"classes/{cid}/assignments")
        runs = (await st("GET", "executions")).json
        assert all(r["owner"] == name for r in runs)
    assert (await students["s01"]("GET", f"assignments/{aid}/grades.csv")).status == 403

    # The CSV: one row per student of the class, exactly.
    subs = {
        s["student"]: s
        for s in (await api("GET", f"assignments/{aid}/submissions", headers=ines)).json
    }
    reply = await api("GET", f"assignments/{aid}/grades.csv", headers=ines)
    rows = list(csv.reader(io.StringIO(reply.body.decode())))
    assert rows[0] == [
        "student",
        "latest_score",
        "best_score",
        "max_score",
        "submitted_at",
        "late",
        "attempts",
        "overridden",
        "comment",
    ]

    def number(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    def csv_rows(raw: dict[str, int]) -> list[list[str]]:
        out = []
        for name in STUDENTS:
            if name in everyone:
                score = number(expected_score(name, raw))
                out.append(
                    [
                        name,
                        score,
                        score,
                        str(MAX),
                        subs[name]["submitted_at"],
                        str(name in LATE).lower(),
                        "1",
                        "false",
                        "",
                    ]
                )
            else:
                out.append([name, "", "", str(MAX), "", "", "0", "false", ""])
        return out

    assert rows[1:] == csv_rows(RAW_BEFORE)

    # Fix hidden test 4 and regrade; progress arrives on /events.
    ws = await jp_ws_fetch("api", "muscode", "v1", "events", headers=ines)
    try:
        fixed = [*HIDDEN[:3], FIXED, HIDDEN[4]]
        reply = await api(
            "PATCH", f"assignments/{aid}", {"tests": graded_tests(fixed)}, headers=ines
        )
        assert reply.status == 200
        reply = await api("POST", f"assignments/{aid}/regrade", headers=ines)
        assert reply.status == 202 and reply.json["total"] == len(everyone)
        progress: list[dict[str, Any]] = []
        while not any(p["pending"] == 0 for p in progress):
            message = json.loads(await asyncio.wait_for(ws.read_message(), 300))
            if message.get("type") == "regrade":
                progress.append(message)
        # Two workers finish runs at once, so notices may arrive slightly out of order.
        assert all(p["total"] == len(everyone) for p in progress)
        assert all(0 <= p["pending"] < len(everyone) for p in progress)
    finally:
        ws.close()
    await check_scores(RAW_AFTER, {**STAFF_VERDICT, "correct": "accepted"})
    reply = await api("GET", f"assignments/{aid}/grades.csv", headers=ines)
    assert list(csv.reader(io.StringIO(reply.body.decode())))[1:] == csv_rows(RAW_AFTER)

    # Students see the new scores, and never a hidden test's input or expected output.
    for name in everyone:
        mine = await released(students[name], aid)
        assert mine[0]["score"] == expected_score(name, RAW_AFTER)
    for st in students.values():
        assert st.seen
        for body in st.seen:
            leaked = [s for s in SECRETS if s in body]
            assert not leaked, (st.name, leaked, body[:400])
