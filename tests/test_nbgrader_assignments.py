"""Notebook assignments (nbgrader's format) through the API: an instructor imports an
nbgrader source notebook, students start from its release, check, submit; each
autograded cell is scored as nbgrader's ``autograde`` scores it, staff score the
manually graded cells, and no student response ever holds a solution or a hidden test.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest

from muscode_ext.notebooks.release import make_release
from muscode_ext.services.assignments import nbgrader
from muscode_ext.store import Assignment

from .notebooks.conftest import load, notebook
from .test_assignments import setup_class
from .test_classes import enrol

NOTEBOOK = "squares.ipynb"
DATA_FILE = {"path": "numbers.txt", "content": "1 2 3\n"}
#: Text of the source notebook that only the staff may ever see: solutions, hidden
#: tests, the mark scheme (none of it is in the release, nor in any student's work).
SECRETS = (
    "BEGIN SOLUTION",
    "HIDDEN TESTS",
    "MARK SCHEME",
    "squares(10)",
    "squares(LIMIT)",
    "Each square multiplies",
    "Full marks for clear names",
)
#: The solutions' own text (students' notebooks may hold it, nothing else of theirs).
SOLUTIONS = ("range(1, n + 1)", "sum(xs) / len(xs)")
AUTOGRADED = ["test_squares", "test_squares_hidden", "test_mean", "test_partial", "test_quiet"]
MANUAL = ["explain", "describe", "task_style"]
POINTS = {"test_squares": 1, "test_squares_hidden": 2, "test_mean": 1, "test_partial": 2}
POINTS |= {"test_quiet": 1}
#: Each fixture student's autograded points per cell: those nbgrader's own autograde
#: gives them (tests/notebooks/test_nbgrader_parity.py checks these notebooks).
EXPECTED = {
    "perfect": dict(POINTS),
    "deleted_tests": dict(POINTS),
    "wrong": {"test_mean": 1, "test_partial": 1, "test_quiet": 1},
    # Edited test cells are the instructor's again: the same points as "wrong".
    "edited_tests": {"test_mean": 1, "test_partial": 1, "test_quiet": 1},
}


def source_text() -> str:
    return json.dumps(load("source/squares.ipynb"), indent=1)


def body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Squares",
        "language": "python",
        "format": "nbgrader",
        "starter_files": [{"path": NOTEBOOK, "content": source_text()}, DATA_FILE],
        "published": True,
        **extra,
    }


def no_secrets(reply: Any, also: tuple[str, ...] = SOLUTIONS) -> None:
    text = json.dumps(reply.json, ensure_ascii=False) + reply.body.decode()
    for secret in (*SECRETS, *also):
        assert secret not in text, (secret, text[:3000])


async def create(api: Any, cid: str, headers: Any, **extra: Any) -> Any:
    return await api("POST", f"classes/{cid}/assignments", body(**extra), headers=headers)


# -- scoring a finished run (pure) ----------------------------------------------------------


def _assignment() -> Assignment:
    return Assignment(
        format="nbgrader",
        language="python",
        starter_files=[{"path": NOTEBOOK, "content": source_text()}, DATA_FILE],
        tests=[],
    )


def test_scores_of_a_run_and_what_students_may_see() -> None:
    a = _assignment()
    files = [(NOTEBOOK, json.dumps(load("submitted/perfect.ipynb")).encode())]
    run_files, main = nbgrader.run_files(a, files)
    assert main == NOTEBOOK and dict(run_files)["numbers.txt"] == b"1 2 3\n"
    executed = json.loads(dict(run_files)[NOTEBOOK])  # as if every cell ran quietly
    scored = nbgrader.score_run(a, {"cells": []}, executed, "accepted")
    assert scored["raw_score"] == 7 and scored["max_score"] == 11
    detail = {t["name"]: t["student_detail"] for t in scored["results"]}
    # Cells from the first hidden test on never show their output to the student.
    assert detail == {
        "test_squares": True,
        "test_squares_hidden": False,
        "test_mean": False,
        "test_partial": False,
        "test_quiet": False,
    }
    # A check puts back the visible tests only.
    checked, _ = nbgrader.run_files(a, files, visible_only=True)
    assert "squares(10)" not in dict(checked)[NOTEBOOK].decode()
    assert "squares(10)" in dict(run_files)[NOTEBOOK].decode()
    # A run that did not finish scores no test, and says why without naming a cell.
    stopped = nbgrader.score_run(a, {"cells": []}, executed, "time_limit_exceeded")
    assert stopped["raw_score"] == 0 and not any(t["passed"] for t in stopped["results"])
    assert "did not finish running (time_limit_exceeded)" in stopped["message"]
    assert {t["verdict"] for t in stopped["results"]} == {"time_limit_exceeded"}


# -- authoring ---------------------------------------------------------------------------


async def test_import_a_source_notebook(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    reply = await create(api, cid, p["ines"])
    assert reply.status == 201, reply.body
    a = reply.json
    assert a["format"] == "nbgrader" and a["language"] == "python"
    # Max points: every graded cell's, autograded (7) and manually graded (4).
    assert a["max_score"] == 11
    assert [t["name"] for t in a["tests"]] == AUTOGRADED
    assert {t["name"]: t["points"] for t in a["tests"]} == POINTS
    assert [t["name"] for t in a["tests"] if t["hidden"]] == ["test_squares_hidden"]
    assert [m["name"] for m in a["manual"]] == MANUAL
    # Staff get the source; students the release only.
    staff = await api("GET", f"assignments/{a['id']}", headers=p["tim"])
    assert staff.json["starter_files"][0]["content"] == source_text()
    student = await api("GET", f"assignments/{a['id']}", headers=p["sam"])
    no_secrets(student)
    release, _ = make_release(load("source/squares.ipynb"))
    given = json.loads(student.json["starter_files"][0]["content"])
    assert given == release and student.json["starter_files"][1] == DATA_FILE
    no_secrets(await api("GET", f"classes/{cid}/assignments", headers=p["sam"]))
    # File assignments say so.
    plain = await api(
        "POST",
        f"classes/{cid}/assignments",
        {"title": "Plain", "language": "python", "starter_files": [DATA_FILE]},
        headers=p["ines"],
    )
    assert plain.status == 201 and plain.json["format"] == "files" and "manual" not in plain.json


async def test_bad_source_notebooks_are_refused(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    ines = p["ines"]

    async def refused(
        reason: str, *, starter: list[dict[str, str]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        if starter is not None:
            extra["starter_files"] = starter
        reply = await create(api, cid, ines, **extra)
        assert reply.status == 422, reply.body
        assert reply.json["reason"] == reason, reply.json
        return dict(reply.json)

    def with_source(nb: Any) -> list[dict[str, str]]:
        text = nb if isinstance(nb, str) else json.dumps(nb)
        return [{"path": NOTEBOOK, "content": text}]

    err = await refused("invalid_notebook", starter=with_source("{not json"))
    assert "JSON" in err["message"] and err["errors"][0]["field"] == "starter_files[0].content"
    old = load("source/squares.ipynb") | {"nbformat": 3}
    assert "nbformat 3" in (await refused("invalid_notebook", starter=with_source(old)))["message"]
    broken = load("source/squares.ipynb")
    broken["cells"][3]["metadata"]["nbgrader"].pop("points")
    broken["cells"][7]["metadata"]["nbgrader"]["grade_id"] = "test_mean"
    broken["cells"][2]["source"] = "### BEGIN SOLUTION\nx = 1\n"  # never ended
    err = await refused("invalid_nbgrader_notebook", starter=with_source(broken))
    messages = [e["message"] for e in err["errors"]]
    assert any("cell 4" in m and "needs points" in m for m in messages), messages
    assert any("cell 8" in m and "also used by cell 7" in m for m in messages), messages
    assert any("cell 3" in m and "without a matching" in m for m in messages), messages
    plain = notebook("print(1)", "# Title", markdown=(1,))
    assert (
        "no graded cells"
        in (await refused("invalid_nbgrader_notebook", starter=with_source(plain)))["message"]
    )
    # Notebooks (each checked), Python, no file tests, no reference solution.
    assert "found none" in (await refused("invalid", starter=[DATA_FILE]))["message"]
    two = [{"path": NOTEBOOK, "content": source_text()}, {"path": "b.ipynb", "content": "{}"}]
    err = await refused("invalid_notebook", starter=two)
    assert err["message"].startswith("b.ipynb: ") and err["errors"][0]["field"] == (
        "starter_files[1].content"
    )
    await refused("invalid", language="c")
    test = {"name": "t", "stdin": "", "expected_output": "1\n"}
    assert "graded cells" in (await refused("invalid", tests=[test]))["message"]
    await refused("invalid", reference_files=[{"path": "main.py", "content": "print(1)"}])
    bad_format = await api(
        "POST", f"classes/{cid}/assignments", body(format="jupyter"), headers=ines
    )
    assert bad_format.status in (400, 422), bad_format.body
    # Updates are checked the same way.
    a = (await create(api, cid, ines)).json
    reply = await api(
        "PATCH", f"assignments/{a['id']}", {"starter_files": with_source(broken)}, headers=ines
    )
    assert reply.status == 422 and reply.json["reason"] == "invalid_nbgrader_notebook"
    reply = await api("PATCH", f"assignments/{a['id']}", {"tests": [test]}, headers=ines)
    assert reply.status == 422, reply.body
    reply = await api("PATCH", f"assignments/{a['id']}", {"format": "files"}, headers=ines)
    assert reply.status in (400, 422), reply.body
    # A valid change of the notebook changes the points.
    fewer = load("source/squares.ipynb")
    fewer["cells"][3]["metadata"]["nbgrader"]["points"] = 3
    reply = await api(
        "PATCH", f"assignments/{a['id']}", {"starter_files": with_source(fewer)}, headers=ines
    )
    assert reply.status == 200 and reply.json["max_score"] == 13, reply.body


# -- the students' path --------------------------------------------------------------------


async def start_with(api: Any, aid: str, headers: Any, student: str) -> tuple[str, Any]:
    """Start the assignment; put the fixture student's notebook in the project."""
    reply = await api("POST", f"assignments/{aid}/start", headers=headers)
    assert reply.status in (200, 201), reply.body
    project = reply.json
    f = next(f for f in project["files"] if f["path"] == NOTEBOOK)
    text = json.dumps(load(f"submitted/{student}.ipynb"), indent=1)
    put = await api(
        "PUT",
        f"projects/{project['id']}/files/{f['id']}",
        {"content": text, "version": f["version"]},
        headers=headers,
    )
    assert put.status == 200, put.body
    return str(project["id"]), reply


async def graded(api: Any, sid: str, headers: Any, timeout: float = 600) -> dict[str, Any]:
    """The submission once graded (and, for its student, released)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        reply = await api("GET", f"submissions/{sid}", headers=headers)
        assert reply.status == 200, reply.body
        if reply.json["status"] == "graded":
            return dict(reply.json)
        assert loop.time() < deadline, reply.json
        await asyncio.sleep(0.5)


async def hand_in(api: Any, aid: str, pid: str, headers: Any) -> str:
    reply = await api(
        "POST", f"assignments/{aid}/submissions", {"project_id": pid}, headers=headers
    )
    assert reply.status == 201, reply.body
    return str(reply.json["id"])


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.timeout(1800)
async def test_submit_grade_and_score_by_hand(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    ines, tim = p["ines"], p["tim"]
    await enrol(api, cid, ines, ann="student", bob="student")
    p["ann"], p["bob"] = bearer("ann"), bearer("bob")
    a = (await create(api, cid, ines, limits={"wall_time_ms": 60_000})).json
    aid = a["id"]
    who = {"sam": "perfect", "sue": "wrong", "ann": "edited_tests", "bob": "deleted_tests"}

    # Start gives the release notebook and the data files, nothing of the source.
    first = await api("POST", f"assignments/{aid}/start", headers=p["sam"])
    assert first.status == 201, first.body
    no_secrets(first)
    assert sorted(f["path"] for f in first.json["files"]) == [DATA_FILE["path"], NOTEBOOK]
    release, _ = make_release(load("source/squares.ipynb"))
    for f in first.json["files"]:
        got = await api("GET", f"projects/{first.json['id']}/files/{f['id']}", headers=p["sam"])
        assert got.status == 200, got.body
        no_secrets(got)
        if f["path"] == NOTEBOOK:
            assert json.loads(got.json["content"]) == release

    subs, pids = {}, {}
    for student, fixture in who.items():
        pids[student], _ = await start_with(api, aid, p[student], fixture)
        subs[student] = await hand_in(api, aid, pids[student], p[student])

    # Check: the student's own notebook run, visible test cells only, not an attempt.
    reply = await api(
        "POST",
        f"assignments/{aid}/check",
        {"project_id": pids["sue"]},
        headers=p["sue"],
        params={"wait": "true"},
    )
    assert reply.status == 200, reply.body
    no_secrets(reply, also=())
    checked = reply.json
    assert checked["status"] == "done" and checked["verdict"] == "accepted", checked
    ran = {
        c["metadata"]["nbgrader"]["grade_id"]: c
        for c in checked["notebook"]["cells"]
        if "nbgrader" in c["metadata"]
    }
    assert "AssertionError" in json.dumps(ran["test_squares"]["outputs"])
    assert "".join(ran["test_squares_hidden"]["source"]) == "assert squares(2) == [1, 4]"
    staff_view = {s: await graded(api, sid, tim) for s, sid in subs.items()}
    mine = {s: await graded(api, sid, p[s]) for s, sid in subs.items()}

    for student, fixture in who.items():
        sub = staff_view[student]
        awarded = {t["name"]: t["points_awarded"] for t in sub["tests"]}
        expected = {name: 0.0 for name in AUTOGRADED} | EXPECTED[fixture]
        assert awarded == expected, (student, sub["tests"])
        assert [t["name"] for t in sub["tests"]] == AUTOGRADED
        assert {t["name"]: t["points"] for t in sub["tests"]} == POINTS
        assert [m["name"] for m in sub["manual"]] == MANUAL
        assert sub["max_score"] == 11 and sub["raw_score"] == sum(expected.values())
        assert sub["score"] == sub["raw_score"]
        # Its student sees the same points, and nothing of the hidden tests.
        own = mine[student]
        assert {t["name"]: t["points_awarded"] for t in own["tests"]} == expected
        assert own["score"] == sub["score"]
        reply = await api("GET", f"submissions/{subs[student]}", headers=p[student])
        no_secrets(reply)
        assert all("answer" not in m for m in own["manual"])

    # A failing hidden test: name, points, failed, and nothing else for the student;
    # everything (its traceback) for the staff.
    hidden = next(t for t in mine["sue"]["tests"] if t["name"] == "test_squares_hidden")
    assert hidden == {
        "name": "test_squares_hidden",
        "notebook": NOTEBOOK,
        "hidden": True,
        "points": 2,
        "points_awarded": 0,
        "passed": False,
    }
    seen = next(t for t in staff_view["sue"]["tests"] if t["name"] == "test_squares_hidden")
    assert seen["passed"] is False and "squares(10)" in seen["output"]
    visible = next(t for t in mine["sue"]["tests"] if t["name"] == "test_squares")
    assert visible["passed"] is False and "AssertionError" in visible["output"]
    # The student's answers are the staff's to read and score.
    explain = next(m for m in staff_view["sam"]["manual"] if m["name"] == "explain")
    assert explain["score"] is None and explain["answer"]
    results = await api("GET", f"submissions/{subs['sue']}/results.json", headers=p["sue"])
    assert results.status == 200
    no_secrets(results)

    # Staff score the manually graded cells; the total follows.
    sam_sid = subs["sam"]
    reply = await api(
        "PATCH",
        f"submissions/{sam_sid}",
        {"manual_scores": {"explain": 2, "describe": 0.5}},
        headers=tim,
    )
    assert reply.status == 200, reply.body
    assert reply.json["raw_score"] == 9.5 and reply.json["score"] == 9.5
    scored = {m["name"]: (m["score"], m["scored_by_staff"]) for m in reply.json["manual"]}
    assert scored == {"explain": (2, True), "describe": (0.5, True), "task_style": (None, False)}
    for bad, words in (
        ({"explain": 3}, "between 0 and 2"),
        ({"explain": -1}, "between 0 and 2"),
        ({"test_squares": 1}, "not a manually graded cell"),
        ({"nope": 1}, "not a manually graded cell"),
        ({"explain": "two"}, ""),
    ):
        reply = await api("PATCH", f"submissions/{sam_sid}", {"manual_scores": bad}, headers=ines)
        assert reply.status in (400, 422), (bad, reply.body)
        assert words in reply.json["message"], (bad, reply.json)
    mine_patch = await api(
        "PATCH", f"submissions/{sam_sid}", {"manual_scores": {"explain": 2}}, headers=p["sam"]
    )
    assert mine_patch.status == 403, mine_patch.body
    others = await api(
        "PATCH", f"submissions/{sam_sid}", {"manual_scores": {"explain": 2}}, headers=p["sue"]
    )
    assert others.status == 404, others.body
    assert (await graded(api, sam_sid, p["sam"]))["score"] == 9.5
    # null removes a staff score again.
    reply = await api(
        "PATCH", f"submissions/{sam_sid}", {"manual_scores": {"describe": None}}, headers=tim
    )
    assert reply.status == 200 and reply.json["score"] == 9, reply.body

    # Grade sheet, grades.csv and the class gradebook count it.
    sheet = (await api("GET", f"assignments/{aid}/grades", headers=ines)).json
    rows = {r["student"]: r for r in sheet}
    assert rows["sam"]["latest_score"] == 9 and rows["sam"]["max_score"] == 11
    assert rows["sue"]["latest_score"] == 3
    text = (await api("GET", f"assignments/{aid}/grades.csv", headers=ines)).body.decode()
    csv_rows = {r["student"]: r for r in csv.DictReader(io.StringIO(text))}
    assert csv_rows["sam"]["latest_score"] == "9" and csv_rows["sam"]["max_score"] == "11"
    book = (await api("GET", f"classes/{cid}/grades", headers=ines)).json
    totals = {r["name"]: r["total"] for r in book["students"]}
    assert totals["sam"] == 9 and totals["bob"] == 7 and book["max_total"] == 11

    # A regrade grades every notebook again: the same points, staff's scores kept.
    reply = await api("POST", f"assignments/{aid}/regrade", headers=ines)
    assert reply.status == 202, reply.body
    again = {s: await graded(api, sid, ines) for s, sid in subs.items()}
    for student in who:
        assert again[student]["score"] == (9 if student == "sam" else staff_view[student]["score"])
    assert again["sam"]["manual"][0]["score"] == 2
