"""A notebook's hidden test cells leak nothing but pass/fail and points, not even *when*.

In a notebook the hidden test cells run in the student's kernel: from the first one on,
the student's own code can see the hidden inputs and spend time in proportion to them,
in the hidden cell itself and in any cell after it. Here two notebooks differ only in
that: one answers at once, the other, once it has been called with the hidden input,
burns half a second of CPU, allocates memory and prints 30 KB on every call (in the
hidden test cell and in the visible test cell after it). Both pass every cell, so every
figure their student can see must be the same for both: the submission (read alone and
in the list), ``results.json``, the assignment's ``my``, the ``/events`` notices and the
student's run list; and the grade reaches the student only when it would have had every
cell from the first hidden one on used its whole time allowance. Staff see everything.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from muscode_ext.notebooks.release import make_release
from muscode_ext.services.assignments import nbgrader
from muscode_ext.store import Assignment

from .test_assignments import API_EVENTS, STAFF
from .test_classes import enrol, make_class
from .test_hidden_timing import IDENTITY, next_notice, when

SECRET = 60417
NOTEBOOK = "double.ipynb"
# The notebook's whole wall time. The hold, with two cells from the first hidden one on
# (30 s each at most), is what the cells before that left of it: the grade comes
# >= WALL_MS after submission. Long enough that "still held" is seen with seconds to
# spare on a busy machine, where the slow notebook's second of CPU may take several.
WALL_MS = 20_000


def _cell(grade_id: str, source: str, **nbgrader_meta: Any) -> dict[str, Any]:
    meta = {"grade": False, "solution": False, "locked": False, "task": False}
    meta |= {"schema_version": 3, "grade_id": grade_id, **nbgrader_meta}
    return {
        "cell_type": "code",
        "id": grade_id.replace("_", "-"),
        "metadata": {"nbgrader": meta},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def source_notebook() -> dict[str, Any]:
    """The instructor's: a solution cell, a visible test, a hidden test (on SECRET) and
    a visible test after it."""
    test = {"grade": True, "locked": True}
    cells = [
        _cell(
            "double",
            "def double(n):\n    ### BEGIN SOLUTION\n    return 2 * n\n    ### END SOLUTION\n",
            solution=True,
        ),
        _cell("test_double", "assert double(2) == 4\n", points=1, **test),
        _cell(
            "test_double_hidden",
            "assert double(2) == 4\n### BEGIN HIDDEN TESTS\n"
            f"assert double({SECRET}) == {2 * SECRET}\n### END HIDDEN TESTS\n",
            points=3,
            **test,
        ),
        _cell("test_after", "assert double(10) == 20\n", points=1, **test),
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# The student's answer: the same on every input; "slow" first spends half a second of
# CPU, 32 MB and 30 KB of stdout on each call once it has seen an input other than the
# visible tests' (that is, in the hidden cell and in every cell after it).
ANSWER = """import time
seen = set()
def double(n):
    seen.add(n)
    if {slow} and seen - {{2, 10}}:
        start = time.process_time()
        while time.process_time() - start < 0.5:
            pass
        blob = b"x" * (32 * 1024 * 1024)
        del blob
        print(f"spent {{time.process_time() - start:.3f}}")
        print("x" * 30000)
    return 2 * n
"""


def student_notebook(slow: bool) -> str:
    release, _ = make_release(source_notebook())
    release["cells"][0]["source"] = ANSWER.format(slow=slow)
    return nbgrader.dump(release)


async def write_notebook(api: Any, pid: str, headers: Any, content: str) -> None:
    project = (await api("GET", f"projects/{pid}", headers=headers)).json
    f = next(f for f in project["files"] if f["path"] == NOTEBOOK)
    put = await api(
        "PUT",
        f"projects/{pid}/files/{f['id']}",
        {"content": content, "version": f["version"]},
        headers=headers,
    )
    assert put.status == 200, put.body


async def until_graded(api: Any, sid: str, headers: Any, timeout: float = 120) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (reply := await api("GET", f"submissions/{sid}", headers=headers)).json[
        "status"
    ] != "graded":
        assert loop.time() < deadline, reply.json
        await asyncio.sleep(0.05)
    return dict(reply.json)


async def listed(api: Any, url: str, sid: str, headers: Any) -> dict[str, Any]:
    """Submission ``sid`` as the student's list of submissions shows it."""
    return next(s for s in (await api("GET", url, headers=headers)).json if s["id"] == sid)


def other_notebook() -> dict[str, Any]:
    """A second notebook of the assignment, with no hidden test (its run is not held):
    a read-only cell and a visible test of 1 point that passes as released."""
    cells = [
        _cell("setup", "x = 1\n", locked=True),
        _cell("test_x", "assert x == 1\n", grade=True, locked=True, points=1),
    ]
    return {**source_notebook(), "cells": cells}


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebooks", [1, 2])
async def test_hidden_cells_leak_nothing_but_pass_fail(
    api: Any, bearer: Any, jp_ws_fetch: Any, notebooks: int
) -> None:
    """With a second notebook beside it (graded by a run of its own, not held), the
    grade is still held by the first notebook's hidden cells."""
    ines, sam = bearer("ines", STAFF), bearer("sam")
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, sam="student")
    files = [{"path": NOTEBOOK, "content": nbgrader.dump(source_notebook())}]
    if notebooks == 2:
        files.append({"path": "more/other.ipynb", "content": nbgrader.dump(other_notebook())})
    body = {
        "title": "Double it",
        "language": "python",
        "format": "nbgrader",
        "starter_files": files,
        "limits": {"wall_time_ms": WALL_MS, "cpu_time_ms": 15_000},
        "published": True,
    }
    reply = await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    extra = [False] if notebooks == 2 else []
    assert [t["hidden"] for t in reply.json["tests"]] == [False, True, False, *extra]
    started = await api("POST", f"assignments/{aid}/start", headers=sam)
    assert started.status == 201, started.body
    pid = started.json["id"]

    # A check runs the visible cells only: nothing of the hidden test reaches it.
    await write_notebook(api, pid, sam, student_notebook(slow=True))
    check = await api(
        "POST",
        f"assignments/{aid}/check",
        {"project_id": pid},
        headers=sam,
        params={"wait": "true"},
    )
    assert check.status == 200 and check.json["verdict"] == "accepted", check.body
    assert f"double({SECRET})" not in check.body.decode()
    outputs = [o for cell in check.json["notebook"]["cells"] for o in cell.get("outputs", [])]
    assert "spent" not in json.dumps(outputs), outputs
    runs_before = (await api("GET", "executions", headers=sam)).json

    seen: dict[str, dict[str, Any]] = {}
    url = f"assignments/{aid}/submissions"
    ws = await jp_ws_fetch(*API_EVENTS, headers=sam)
    try:
        for name in ("quick", "slow"):
            await write_notebook(api, pid, sam, student_notebook(slow=name == "slow"))
            reply = await api("POST", url, {"project_id": pid}, headers=sam)
            assert reply.status == 201, reply.body
            pending, sid = reply.json, reply.json["id"]
            # Scored for the staff well before the release; the student, meanwhile,
            # sees it exactly as it was while being graded. (With two notebooks, the
            # other notebook's run may wait for the held one's worker, and then the
            # grade is scored when it is released.)
            staff = await until_graded(api, sid, ines)
            held = (await api("GET", f"submissions/{sid}", headers=sam)).json
            now = time.time()
            released = when(staff["graded_at"])
            if notebooks == 1 or now < released:
                assert now < released, (now, staff)
                assert held == pending and held["status"] == "grading"
                assert held["score"] is None
                assert await listed(api, url, sid, sam) == pending
                results = await api("GET", f"submissions/{sid}/results.json", headers=sam)
                assert results.status == 409 and results.json["reason"] == "not_graded"
                my = (await api("GET", f"assignments/{aid}", headers=sam)).json["my"]
                assert my["latest_score"] is None
            # Then the grade is released, no sooner than if every cell from the first
            # hidden one on had used its whole time allowance.
            sub = await until_graded(api, sid, sam)
            received = time.time()
            notice = await next_notice(ws, "submission")
            assert notice["id"] == sid
            seen[name] = {
                "read": sub,
                "listed": await listed(api, url, sid, sam),
                "results": (await api("GET", f"submissions/{sid}/results.json", headers=sam)).json,
                "my": (await api("GET", f"assignments/{aid}", headers=sam)).json["my"],
                "notice": {k: v for k, v in notice.items() if k != "id"},
                "staff": (await api("GET", f"submissions/{sid}", headers=ines)).json,
                "received": received,
            }
    finally:
        ws.close()

    quick, slow = seen["quick"], seen["slow"]
    # The notebooks did differ on the hidden input, and the staff see it.
    hidden = {k: v["staff"]["tests"][1]["output"] for k, v in seen.items()}
    assert "spent 0.5" in hidden["slow"] and "spent" not in hidden["quick"], hidden
    assert "spent 0.5" in slow["staff"]["tests"][2]["output"]
    assert all(t["passed"] for v in seen.values() for t in v["staff"]["tests"])

    for one in (quick, slow):
        assert one["read"]["graded_at"] is None, "graded_at is staff-only"
        assert one["read"] == one["listed"]
        total = 5 + len(extra)
        assert one["read"]["score"] == total and one["my"]["latest_score"] == total
        # Cells from the first hidden one on: name, notebook, points and pass/fail only.
        for t in one["read"]["tests"][1:3]:
            assert set(t) == {"name", "notebook", "hidden", "points", "points_awarded", "passed"}
            assert t["notebook"] == NOTEBOOK
        released = when(one["staff"]["graded_at"])
        assert released - when(one["read"]["submitted_at"]) >= WALL_MS / 1000
        assert one["received"] >= released

    def visible(v: dict[str, Any]) -> dict[str, Any]:
        return {k: x for k, x in v.items() if k not in IDENTITY}

    assert visible(quick["read"]) == visible(slow["read"])
    assert quick["results"] == slow["results"]
    assert {**quick["my"], "attempts": 0, "submitted_at": 0} == {
        **slow["my"],
        "attempts": 0,
        "submitted_at": 0,
    }
    assert quick["notice"] == slow["notice"]
    # Grading runs are MUSCode's, not the student's: the run list did not change.
    assert (await api("GET", "executions", headers=sam)).json == runs_before


def _assignment() -> Assignment:
    return Assignment(
        format="nbgrader",
        language="python",
        starter_files=[{"path": NOTEBOOK, "content": nbgrader.dump(source_notebook())}],
        tests=[],
    )


def test_the_hold_is_what_the_cells_from_the_first_hidden_one_on_left() -> None:
    a = _assignment()
    executed = source_notebook()  # cells 0..3; the first hidden test is cell 2
    request = {"limits": {"wall_time_ms": 100_000}, "notebook": {"cell_timeout_s": 30}}

    def ran(*times: int | None, status: str = "ok") -> dict[str, Any]:
        return {
            "cells": [
                {"index": i, "status": "not_run" if t is None else status, "time_ms": t}
                for i, t in enumerate(times)
            ]
        }

    def hold(result: dict[str, Any], req: dict[str, Any] = request) -> int:
        return nbgrader.release_hold_ms(a, result, executed, req)

    fast, slow = ran(40, 10, 20, 5), ran(40, 10, 9000, 25_000)
    # Two cells from the first hidden one on: 2 x 30 s of allowance.
    assert hold(fast) == 60_000 - 25
    # Run time plus hold: the grade comes out at the same moment for both.
    assert 50 + 25 + hold(fast) == 50 + 34_000 + hold(slow) == 50 + 60_000
    # Bounded by what the cells before left of the notebook's wall time.
    short = {**request, "limits": {"wall_time_ms": 20_000}}
    assert hold(fast, short) == 20_000 - 50 - 25
    # No timeout per cell: the wall time is the allowance.
    untimed = {**request, "notebook": {"cell_timeout_s": 0}}
    assert hold(fast, untimed) == 100_000 - 50 - 25
    # A cell that did not run (the run stopped) still counts its allowance.
    assert hold(ran(40, 10, 20, None)) == 60_000 - 20
    # No hidden cell ran (the notebook stopped before): nothing to hide.
    assert hold(ran(40, 10, None, None)) == 0
    assert hold({"cells": []}) == 0
    assert nbgrader.release_hold_ms(a, None, None, request) == 0
