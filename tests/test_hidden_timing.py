"""What a student can see of a hidden test: its name, points and pass/fail. Nothing else.

A program that spends time (or memory, or output) in proportion to a byte of a hidden
test's input once read that byte back from what the student saw: ``results.json``'s
``execution_time`` summed the hidden tests' times, and the submission's ``graded_at``
(and the moment the grade reached the student) moved with them. Here two programs
differ only in what they do with the hidden input: one answers at once, the other burns
CPU, allocates memory and writes to stderr first, then answers the same. Both pass every
test, so every figure the student can see must be the same for both: the submission
(as submitted, read alone and in the list), ``results.json``, the assignment's ``my``,
the ``/events`` notices and the student's run list. The staff see everything.

The grade reaches the student as if every hidden test had used its whole wall-time
limit, so *when* it arrives says nothing either; ``graded_at`` is staff-only.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import pytest

from muscode_ext.services.assignments.scoring import release_hold_ms

from .test_assignments import API_EVENTS, STAFF, start_and_write
from .test_classes import enrol, make_class

pytestmark = pytest.mark.usefixtures("bubblewrap")

SECRET = 60417
# Room for the slow program on a busy machine: its half second of CPU may take seconds.
HIDDEN_WALL_MS = 8000
# The two programs: identical on the visible inputs (2 and 10), and the same answer on
# the hidden one; "slow" first spends half a second of CPU, 32 MB and 30 KB of stderr.
PROGRAM = """import sys, time
n = int(sys.stdin.read())
if n not in (2, 10) and {slow}:
    start = time.process_time()
    while time.process_time() - start < 0.5:
        pass
    blob = b"x" * (32 * 1024 * 1024)
    sys.stderr.write("e" * 30000)
print(n * 2)
"""
QUICK, SLOW = PROGRAM.format(slow=False), PROGRAM.format(slow=True)

#: Fields that name or date the submission itself, not its grading.
IDENTITY = {"id", "attempt", "submitted_at"}


def when(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def next_notice(ws: Any, kind: str, timeout: float = 60) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), deadline - loop.time()))
        if message.get("type") == kind:
            return dict(message)


def visible_view(sub: dict[str, Any]) -> dict[str, Any]:
    """A student's submission without its identity and without the visible tests' own
    measurements (which depend on the visible inputs only, and vary run to run)."""
    out = {k: v for k, v in sub.items() if k not in IDENTITY}
    out["tests"] = [
        {k: v for k, v in t.items() if t["hidden"] or k not in ("time_ms", "memory_kb")}
        for t in sub["tests"]
    ]
    return out


async def test_hidden_tests_leak_nothing_but_pass_fail(
    api: Any, bearer: Any, jp_ws_fetch: Any
) -> None:
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    body = {
        "title": "Double it",
        "description": "",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "n = int(input())\n"}],
        "tests": [
            {"name": "two", "stdin": "2\n", "expected_output": "4\n", "points": 1},
            {"name": "ten", "stdin": "10\n", "expected_output": "20\n", "points": 1},
            {
                "name": "secret",
                "stdin": f"{SECRET}\n",
                "expected_output": f"{SECRET * 2}\n",
                "points": 3,
                "hidden": True,
                "limits": {"cpu_time_ms": 5000, "wall_time_ms": HIDDEN_WALL_MS},
            },
        ],
        "published": True,
    }
    reply = await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    runs_before = (await api("GET", "executions", headers=sam)).json

    seen: dict[str, dict[str, Any]] = {}
    ws = await jp_ws_fetch(*API_EVENTS, headers=sam)
    try:
        for name, source in (("quick", QUICK), ("slow", SLOW)):
            pid = await start_and_write(api, aid, sam, source)
            reply = await api(
                "POST",
                f"assignments/{aid}/submissions",
                {"project_id": pid},
                headers=sam,
                params={"wait": "true"},
            )
            received = time.time()
            assert reply.status == 200 and reply.json["status"] == "graded", reply.json
            sub = reply.json
            notice = await next_notice(ws, "submission")
            staff = (await api("GET", f"submissions/{sub['id']}", headers=ines)).json
            seen[name] = {
                "submitted": sub,
                "read": (await api("GET", f"submissions/{sub['id']}", headers=sam)).json,
                "listed": next(
                    s
                    for s in (await api("GET", f"assignments/{aid}/submissions", headers=sam)).json
                    if s["id"] == sub["id"]
                ),
                "results": (
                    await api("GET", f"submissions/{sub['id']}/results.json", headers=sam)
                ).json,
                "my": (await api("GET", f"assignments/{aid}", headers=sam)).json["my"],
                "notice": {k: v for k, v in notice.items() if k != "id"},
                "staff": staff,
                "received": received,
            }
            assert notice["id"] == sub["id"]
    finally:
        ws.close()

    quick, slow = seen["quick"], seen["slow"]
    # The programs did differ on the hidden test, and the staff see it.
    hidden_ms = {k: v["staff"]["tests"][2]["time_ms"] for k, v in seen.items()}
    assert hidden_ms["slow"] >= 450 > hidden_ms["quick"], slow["staff"]["tests"][2]["message"]
    assert "e" * 1000 in slow["staff"]["tests"][2]["stderr"]
    assert all(t["passed"] for v in seen.values() for t in v["staff"]["tests"])

    for one in (quick, slow):
        subs = [one["submitted"], one["read"], one["listed"]]
        assert all(s["graded_at"] is None for s in subs), "graded_at is staff-only"
        assert set(subs[0]["tests"][2]) == {"name", "hidden", "points", "points_awarded", "passed"}
        assert subs[0] == subs[1] == subs[2]
        # execution_time: the visible tests' own times, nothing of the hidden one.
        visible = [t["time_ms"] for t in subs[0]["tests"] if not t["hidden"]]
        assert one["results"]["execution_time"] == sum(visible)
        # The grade reached the student no sooner than if the hidden test had used all
        # its wall time (graded_at, for the staff, is that moment).
        released = when(one["staff"]["graded_at"])
        assert released - when(subs[0]["submitted_at"]) >= HIDDEN_WALL_MS / 1000
        assert one["received"] >= released

    assert visible_view(quick["submitted"]) == visible_view(slow["submitted"])
    assert {**quick["results"], "execution_time": 0} == {**slow["results"], "execution_time": 0}
    assert {**quick["my"], "attempts": 0, "submitted_at": 0} == {
        **slow["my"],
        "attempts": 0,
        "submitted_at": 0,
    }
    assert quick["notice"] == slow["notice"]
    # Grading runs are MUSCode's, not the student's: the run list did not change.
    assert (await api("GET", "executions", headers=sam)).json == runs_before


async def test_a_student_sees_the_grade_only_when_it_is_released(api: Any, bearer: Any) -> None:
    """Between scoring and release the student sees "grading", exactly as before
    scoring: no score, no tests, no verdict; and may not submit again meanwhile."""
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    body = {
        "title": "Echo",
        "description": "",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "print(input())\n"}],
        "tests": [
            {"name": "a", "stdin": "a\n", "expected_output": "a\n", "points": 1},
            {
                "name": "b",
                "stdin": "b\n",
                "expected_output": "b\n",
                "points": 1,
                "hidden": True,
                "limits": {"wall_time_ms": 20_000},
            },
        ],
        "published": True,
    }
    aid = (await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)).json["id"]
    pid = await start_and_write(api, aid, sam, "print(input())\n")
    url = f"assignments/{aid}/submissions"
    sub = (await api("POST", url, {"project_id": pid}, headers=sam)).json
    pending = await api("GET", f"submissions/{sub['id']}", headers=sam)
    assert pending.json["status"] == "grading"
    # Wait until the staff see it graded (the run takes well under a second)...
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (staff := (await api("GET", f"submissions/{sub['id']}", headers=ines)).json)[
        "status"
    ] != "graded":
        assert loop.time() < deadline, staff
        await asyncio.sleep(0.05)
    released = when(staff["graded_at"])
    # ...while the student, until the release, sees exactly what they saw before.
    now = time.time()
    student = (await api("GET", f"submissions/{sub['id']}", headers=sam)).json
    if now < released - 1:  # true unless this machine stalled for ~19 s
        assert student == pending.json
        assert (await api("GET", f"{url}", headers=sam)).json == [pending.json]
        results = await api("GET", f"submissions/{sub['id']}/results.json", headers=sam)
        assert results.status == 409 and results.json["reason"] == "not_graded"
        my = (await api("GET", f"assignments/{aid}", headers=sam)).json["my"]
        assert my["latest_score"] is None and my["best_score"] is None
        again = await api("POST", url, {"project_id": pid}, headers=sam)
        assert again.status == 409 and again.json["reason"] == "still_grading"
    assert released - when(staff["submitted_at"]) >= 19.0


@pytest.mark.parametrize("muscode_config", [{"workers": 1}])
async def test_the_worker_frees_up_at_the_release_not_before(api: Any, bearer: Any) -> None:
    """With one worker, a run the student queues behind their grading run would start
    the moment the hidden tests end; it starts at the grade's release instead."""
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    hidden = {"wall_time_ms": 3000}
    body = {
        "title": "Echo",
        "description": "",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "print(input())\n"}],
        "tests": [
            {"name": "a", "stdin": "a\n", "expected_output": "a\n", "points": 1},
            {"name": "b", "stdin": "b\n", "expected_output": "b\n", "points": 1, "hidden": True}
            | {"limits": hidden},
        ],
        "published": True,
    }
    aid = (await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)).json["id"]
    pid = await start_and_write(api, aid, sam, "print(input())\n")
    sub = (
        await api("POST", f"assignments/{aid}/submissions", {"project_id": pid}, headers=sam)
    ).json
    probe = await api(
        "POST",
        "executions",
        {"language": "python", "source": "print(1)"},
        headers=sam,
        params={"wait": "true", "timeout": "60"},
    )
    assert probe.status == 200 and probe.json["verdict"] == "accepted", probe.body
    staff = (await api("GET", f"submissions/{sub['id']}", headers=ines)).json
    assert staff["status"] == "graded"
    assert when(probe.json["started_at"]) >= when(staff["graded_at"])
    assert when(staff["graded_at"]) - when(staff["submitted_at"]) >= 3.0


def test_the_hold_is_what_the_hidden_tests_left_of_their_wall_time() -> None:
    tests = [
        {"name": "v", "hidden": False, "limits": None},
        {"name": "h1", "hidden": True, "limits": None},  # the run's limit: 5000
        {"name": "h2", "hidden": True, "limits": {"wall_time_ms": 2000}},
        {"name": "h3", "hidden": True, "limits": {"wall_time_ms": 1000}},
    ]
    run_limits = {"wall_time_ms": 5000}

    def ran(*walls: int) -> dict[str, Any]:
        return {"tests": [{"wall_time_ms": w} for w in walls]}

    fast = ran(40, 300, 1500, 1000)  # h3 stopped at its limit
    slow = ran(40, 4300, 1900, 1000)  # the same program, slower on the hidden input
    hold = release_hold_ms(tests, fast, "accepted", run_limits)
    assert hold == (5000 - 300) + (2000 - 1500) + 0
    # Run time plus hold: the grade comes out at the same moment for both.
    out = [
        sum(t["wall_time_ms"] for t in r["tests"]) + release_hold_ms(tests, r, "x", run_limits)
        for r in (fast, slow)
    ]
    assert out[0] == out[1] == 40 + 5000 + 2000 + 1000
    # Nothing ran (no compile): nothing to hide.
    assert release_hold_ms(tests, {"tests": []}, "compile_error", run_limits) == 0


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in Prometheus's text format."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


async def test_the_servers_metrics_say_nothing_of_a_grading_run(
    api: Any, bearer: Any, jp_fetch: Any
) -> None:
    """Under the hub any signed-in user reads the service's ``/metrics``: a grading
    run's verdict (a hidden test's) and duration must not show there."""
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    body = {
        "title": "Loop",
        "description": "",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": ""}],
        "tests": [
            {"name": "a", "stdin": "1\n", "expected_output": "1\n", "points": 1},
            {
                "name": "b",
                "stdin": "2\n",
                "expected_output": "2\n",
                "points": 1,
                "hidden": True,
                "limits": {"cpu_time_ms": 300, "wall_time_ms": 1500},
            },
        ],
        "published": True,
    }
    aid = (await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)).json["id"]
    # Answers the visible test; loops on the hidden one until its time is up.
    source = "n = input()\nwhile n != '1':\n    pass\nprint(n)\n"
    pid = await start_and_write(api, aid, sam, source)

    async def metrics() -> tuple[dict[str, float], dict[str, float]]:
        text = (await jp_fetch("metrics")).body.decode()
        return (
            _samples(text, "muscode_runs_total"),
            _samples(text, "muscode_run_duration_seconds"),
        )

    runs, durations = await metrics()
    reply = await api(
        "POST",
        f"assignments/{aid}/submissions",
        {"project_id": pid},
        headers=sam,
        params={"wait": "true"},
    )
    assert reply.json["status"] == "graded" and reply.json["score"] == 1
    staff = (await api("GET", f"submissions/{reply.json['id']}", headers=ines)).json
    assert staff["verdict"] == "time_limit_exceeded"  # the hidden test's
    runs_after, durations_after = await metrics()
    assert durations_after == durations, "a grading run's duration was observed"
    grew = {k: v - runs.get(k, 0) for k, v in runs_after.items() if v != runs.get(k, 0)}
    assert grew == {'muscode_runs_total{language="python",verdict="graded"}': 1.0}
