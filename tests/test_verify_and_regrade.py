"""Authoring beyond the first draft: output rules on assignment tests, a reference
solution that no student ever sees and the tests run on it, and what happens when tests
change under existing submissions (a regrade is suggested; overrides keep their
fraction)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muscode_ext.services.assignments.scoring import rescaled_override

from .test_assignments import (
    SOLUTION,
    make_assignment,
    no_secrets,
    released_submission,
    setup_class,
    start_and_write,
    submit,
    tests_spec,
)

pytestmark = pytest.mark.usefixtures("bubblewrap")

# In the reference solution only: no student response may hold it.
REFERENCE_MARK = "reference-solution-7f3a"
REFERENCE = f"# {REFERENCE_MARK}\nn = int(input())\nprint(n * 2)\n"


async def wait_regraded(api: Any, aid: str, headers: Any) -> dict[str, Any]:
    for _ in range(300):
        view = (await api("GET", f"assignments/{aid}", headers=headers)).json
        if view["grading"]["pending"] == 0:
            return dict(view)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the regrade did not finish: {view['grading']}")


def test_the_override_rule() -> None:
    assert rescaled_override(4, 5, 5) == (4, False)
    assert rescaled_override(4, 5, 10) == (8, True)  # the same fraction of the new maximum
    assert rescaled_override(2, 3, 10) == (6.6667, True)
    assert rescaled_override(0, 0, 10) == (0, True)  # no fraction: as given, for review
    assert rescaled_override(4, None, 10) == (4, False)  # nothing known to compare with


async def test_assignment_tests_compare_by_their_rules(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    tests = [
        {"name": "pi", "stdin": "", "expected_output": "3.14159", "compare": "numbers"},
        {
            "name": "loose",
            "stdin": "",
            "expected_output": "3.1",
            "compare": "numbers",
            "tolerance": 0.05,
            "hidden": True,
        },
        {"name": "shout", "stdin": "", "expected_output": "PI IS\n", "compare": "case"},
        {"name": "spaced", "stdin": "", "expected_output": "pi is", "compare": "exact"},
    ]
    a = await make_assignment(api, cid, p["ines"], tests=tests)
    assert [(t["compare"], t["tolerance"]) for t in a["tests"]] == [
        ("numbers", 1e-6),  # the default tolerance, stated
        ("numbers", 0.05),
        ("case", None),
        ("exact", None),
    ]
    seen = (await api("GET", f"assignments/{a['id']}", headers=p["sam"])).json
    assert seen["tests"][1] == {"name": "loose", "points": 1, "hidden": True}
    assert seen["tests"][0]["compare"] == "numbers"

    # Prints pi with more digits, then "pi is": the exact test fails, the others pass.
    source = "import math\nprint(round(math.pi, 6))\nprint('pi is')\n"
    pid = await start_and_write(api, a["id"], p["sam"], source)
    reply = await api(
        "POST",
        f"assignments/{a['id']}/check",
        {"project_id": pid},
        headers=p["sam"],
        params={"wait": "true"},
    )
    assert reply.status == 200, reply.body
    # Visible tests only; each with its own rule.
    assert [(t["name"], t["verdict"]) for t in reply.json["tests"]] == [
        ("pi", "wrong_answer"),  # two lines against one number
        ("shout", "wrong_answer"),
        ("spaced", "wrong_answer"),
    ]
    pid = await start_and_write(api, a["id"], p["sue"], "print(3.1415926)\n")
    sub = await submit(api, a["id"], pid, p["sue"])
    assert [t["passed"] for t in sub["tests"]] == [True, True, False, False]
    staff = (await api("GET", f"submissions/{sub['id']}", headers=p["ines"])).json
    assert [t["compare"] for t in staff["tests"]] == ["numbers", "numbers", "case", "exact"]

    async def bad(test: dict[str, Any], field: str) -> None:
        reply = await api("PATCH", f"assignments/{a['id']}", {"tests": [test]}, headers=p["ines"])
        assert reply.status == 422, reply.body
        assert field in [e["field"] for e in reply.json["errors"]], reply.json

    await bad({"name": "x", "compare": "nearly"}, "tests[0].compare")
    await bad({"name": "x", "compare": "exact", "tolerance": 0.1}, "tests[0].tolerance")
    await bad({"name": "x", "tolerance": 0.1}, "tests[0].tolerance")
    await bad({"name": "x", "compare": "numbers", "tolerance": -0.1}, "tests[0].tolerance")


async def test_the_reference_solution_is_for_staff_and_checks_the_tests(
    api: Any, bearer: Any
) -> None:
    cid, p = await setup_class(api, bearer)
    plain = await make_assignment(api, cid, p["ines"], title="No reference")
    reply = await api("POST", f"assignments/{plain['id']}/verify", headers=p["ines"])
    assert reply.status == 409 and reply.json["reason"] == "no_reference_solution"
    reply = await api("GET", f"assignments/{plain['id']}/verify", headers=p["ines"])
    assert reply.status == 404 and reply.json["reason"] == "not_verified"

    reference = [{"path": "main.py", "content": REFERENCE}]
    a = await make_assignment(api, cid, p["ines"], reference_files=reference)
    aid = a["id"]
    assert a["reference_files"] == reference and a["verification"] is None

    # Only staff verify; for outsiders the assignment does not exist.
    assert (await api("POST", f"assignments/{aid}/verify", headers=p["sam"])).status == 403
    assert (await api("GET", f"assignments/{aid}/verify", headers=p["sam"])).status == 403
    assert (await api("POST", f"assignments/{aid}/verify", headers=p["zed"])).status == 404
    reply = await api(
        "POST", f"assignments/{aid}/verify", headers=p["tim"], params={"wait": "true"}
    )
    assert reply.status == 200, reply.body
    assert reply.headers["Location"].endswith(f"/assignments/{aid}/verify")
    done = reply.json
    assert done["status"] == "done" and done["passed"] is True and done["current"] is True
    assert [(t["name"], t["verdict"]) for t in done["tests"]] == [
        ("two", "accepted"),
        ("ten", "accepted"),
        ("secret", "accepted"),
    ]
    view = (await api("GET", f"assignments/{aid}", headers=p["ines"])).json
    assert view["verification"]["passed"] is True and view["verification"]["current"] is True
    assert view["verification"]["execution_id"] == done["execution_id"]

    # The run is the grader's: no one reads it as a run, students least of all.
    for who in ("sam", "tim", "ines"):
        reply = await api("GET", f"executions/{done['execution_id']}", headers=p[who])
        assert reply.status == 404, who
    listed = (await api("GET", "executions", headers=p["sam"])).json
    assert done["execution_id"] not in {r["id"] for r in listed}

    # A student never sees the reference solution, wherever they look.
    pid = await start_and_write(api, aid, p["sam"], SOLUTION)
    sub = await submit(api, aid, pid, p["sam"])
    for path in (
        f"assignments/{aid}",
        f"classes/{cid}/assignments",
        f"assignments/{aid}/submissions",
        f"submissions/{sub['id']}",
        f"submissions/{sub['id']}/files",
        f"submissions/{sub['id']}/results.json",
        f"projects/{pid}",
        "executions",
    ):
        reply = await api("GET", path, headers=p["sam"])
        assert reply.status == 200, (path, reply.body)
        assert REFERENCE_MARK not in reply.body.decode(), path
        assert "reference_files" not in reply.body.decode(), path
        assert "verification" not in reply.body.decode(), path
        no_secrets(reply)

    # A test that the reference fails: the verification is stale, then fails.
    tests = tests_spec()
    tests[1]["expected_output"] = "21\n"
    reply = await api("PATCH", f"assignments/{aid}", {"tests": tests}, headers=p["ines"])
    assert reply.json["verification"]["current"] is False
    reply = await api(
        "POST", f"assignments/{aid}/verify", headers=p["ines"], params={"wait": "true"}
    )
    failed = reply.json
    assert failed["passed"] is False and failed["verdict"] == "wrong_answer"
    assert [t["passed"] for t in failed["tests"]] == [True, False, True]
    assert failed["tests"][1]["stdout"] == "20\n"
    latest = (await api("GET", f"assignments/{aid}/verify", headers=p["tim"])).json
    assert latest["execution_id"] == failed["execution_id"] and latest["current"] is True

    # Changing the reference makes it stale too; removing it empties it.
    other = [{"path": "main.py", "content": REFERENCE + "# again\n"}]
    view = (
        await api("PATCH", f"assignments/{aid}", {"reference_files": other}, headers=p["ines"])
    ).json
    assert view["reference_files"] == other and view["verification"]["current"] is False
    two = [{"path": "a.py", "content": "print(1)\n"}, {"path": "b.py", "content": "print(2)\n"}]
    reply = await api("PATCH", f"assignments/{aid}", {"reference_files": two}, headers=p["ines"])
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "reference_files"
    bad = [{"path": "../main.py", "content": ""}]
    reply = await api("PATCH", f"assignments/{aid}", {"reference_files": bad}, headers=p["ines"])
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "reference_files[0].path"
    reply = await api("PATCH", f"assignments/{aid}", {"reference_files": None}, headers=p["ines"])
    assert reply.json["reference_files"] == [] and reply.json["verification"]["current"] is False
    # TAs read the reference solution but do not change it.
    assert (await api("GET", f"assignments/{aid}", headers=p["tim"])).json["reference_files"] == []
    reply = await api("PATCH", f"assignments/{aid}", {"reference_files": other}, headers=p["tim"])
    assert reply.status == 403


async def test_changed_tests_suggest_a_regrade_and_overrides_keep_their_fraction(
    api: Any, bearer: Any
) -> None:
    cid, p = await setup_class(api, bearer)
    a = await make_assignment(api, cid, p["ines"])
    aid = a["id"]
    good = await submit(api, aid, await start_and_write(api, aid, p["sam"], SOLUTION), p["sam"])
    poor = await submit(api, aid, await start_and_write(api, aid, p["sue"], "print(4)\n"), p["sue"])
    assert (good["score"], poor["score"]) == (10, 2)
    reply = await api(
        "PATCH", f"submissions/{poor['id']}", {"score": 6, "comment": "ok"}, headers=p["tim"]
    )
    assert reply.json["override"] | {"at": None} == {
        "score": 6,
        "comment": "ok",
        "by": "tim",
        "at": None,
        "max": 10,
        "review": False,
    }

    # What does not change a grade suggests no regrade.
    view = (await api("PATCH", f"assignments/{aid}", {"title": "Twice"}, headers=p["ines"])).json
    assert view["grading"] == {"total": 2, "pending": 0, "stale": 0}
    assert view["regrade_suggested"] is False
    # Points doubled: both grades are stale, and the answer says so.
    doubled = [{**t, "points": t["points"] * 2} for t in tests_spec()]
    view = (await api("PATCH", f"assignments/{aid}", {"tests": doubled}, headers=p["ines"])).json
    assert view["grading"]["stale"] == 2 and view["regrade_suggested"] is True
    assert view["max_score"] == 20
    # Students see nothing of it.
    seen = (await api("GET", f"assignments/{aid}", headers=p["sam"])).json
    assert "regrade_suggested" not in seen and "grading" not in seen
    # Until the regrade, a grade stands beside the maximum it was given against.
    rows = (await api("GET", f"assignments/{aid}/grades", headers=p["tim"])).json
    assert [(r["student"], r["latest_score"], r["max_score"]) for r in rows] == [
        ("sam", 10, 10),
        ("sue", 6, 10),
    ]
    # An override is given against the submission's maximum.
    reply = await api("PATCH", f"submissions/{poor['id']}", {"score": 11}, headers=p["tim"])
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "score"

    reply = await api("POST", f"assignments/{aid}/regrade", headers=p["tim"])
    assert reply.status == 202 and reply.json["total"] == 2
    view = await wait_regraded(api, aid, p["ines"])
    assert view["grading"] == {"total": 2, "pending": 0, "stale": 0}
    assert view["regrade_suggested"] is False
    sam = (await api("GET", f"submissions/{good['id']}", headers=p["ines"])).json
    assert (sam["score"], sam["max_score"]) == (20, 20)
    # 6 of 10 is kept as 12 of 20, and flagged for review.
    sue = (await api("GET", f"submissions/{poor['id']}", headers=p["ines"])).json
    assert (sue["score"], sue["max_score"], sue["raw_score"]) == (12, 20, 4)
    assert sue["override"]["score"] == 6 and sue["override"]["max"] == 10
    assert sue["override"]["review"] is True
    mine = await released_submission(api, poor["id"], p["sue"])
    assert mine["score"] == 12
    rows = (await api("GET", f"assignments/{aid}/grades", headers=p["tim"])).json
    assert [(r["student"], r["latest_score"], r["max_score"]) for r in rows] == [
        ("sam", 20, 20),
        ("sue", 12, 20),
    ]
    # Staff confirm it (or give another): no longer for review.
    reply = await api(
        "PATCH", f"submissions/{poor['id']}", {"score": 13, "comment": "ok"}, headers=p["tim"]
    )
    assert reply.json["score"] == 13
    assert reply.json["override"]["max"] == 20 and reply.json["override"]["review"] is False
