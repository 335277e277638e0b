"""Notebook assignments of several notebooks (``ps1/problem1.ipynb``,
``ps1/problem2.ipynb``): each notebook is checked, released and graded on its own (one
grading run, one fresh kernel, per notebook), a grade_id is unique within its
notebook only, each result names its notebook, and staff score manual cells by
``"<notebook>:<grade_id>"`` (or the plain grade_id when it is unique).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from muscode_ext.errors import Invalid
from muscode_ext.notebooks.release import make_release
from muscode_ext.services.assignments import grading, nbgrader
from muscode_ext.store import Assignment, Execution, Submission

from .nbsets import problem_notebook
from .notebooks.conftest import load
from .test_assignments import setup_class
from .test_classes import enrol
from .test_nbgrader_assignments import graded, hand_in

ONE, TWO = "ps1/problem1.ipynb", "ps1/problem2.ipynb"
DATA_FILE = {"path": "ps1/numbers.txt", "content": "1 2 3\n"}
SECRET_ONE, SECRET_TWO = 70913, 52361
#: Text only the staff may see: both notebooks' solutions and hidden tests.
SECRETS = (
    str(SECRET_ONE),
    str(SECRET_TWO),
    "BEGIN SOLUTION",
    "HIDDEN TESTS",
    "return 2 * n",
    "return 3 * n",
    "Doubling is adding",
)
#: Wall time of each notebook's run: an endless loop ends there (before the 30 s a
#: cell may take), so its notebook does not finish.
WALL_MS = 12_000


def sources() -> dict[str, dict[str, Any]]:
    return {
        ONE: problem_notebook("double", 2, SECRET_ONE, "Doubling is adding the number to itself."),
        TWO: problem_notebook("triple", 3, SECRET_TWO, "Three times.", style=True),
    }


def starter() -> list[dict[str, str]]:
    return [{"path": p, "content": nbgrader.dump(nb)} for p, nb in sources().items()] + [DATA_FILE]


def answered(path: str, code: str) -> str:
    """The release of ``path`` with ``code`` as the student's answer."""
    release, _ = make_release(sources()[path])
    release["cells"][0]["source"] = code
    for cell in release["cells"]:
        if cell["cell_type"] == "markdown" and "YOUR ANSWER HERE" in "".join(cell["source"]):
            cell["source"] = "Because."
    return nbgrader.dump(release)


RIGHT = {ONE: "def double(n):\n    return n + n\n", TWO: "def triple(n):\n    return n * 3\n"}
#: The student's kernel dies in the first cell of problem 1: it scores none of its cells.
CRASH = "import os\nos._exit(1)\n"
#: Problem 2 never ends: its run reaches its time limit, it scores none of its cells.
ENDLESS = "def triple(n):\n    return n * 3\n\nwhile True:\n    pass\n"


def _assignment() -> Assignment:
    return Assignment(
        format="nbgrader",
        language="python",
        starter_files=starter(),
        tests=[],
        late_policy={"mode": "accept"},
    )


# -- pure: import checks, scoring, manual keys, the hold -----------------------------------


def test_each_notebook_is_checked_and_grade_ids_are_per_notebook() -> None:
    nbgrader.check_starter_files(starter())  # q1, q2, explain in both: allowed
    a = _assignment()
    assert [(t["notebook"], t["name"]) for t in nbgrader.cell_tests(a)] == [
        (ONE, "q1"),
        (ONE, "q2"),
        (TWO, "q1"),
        (TWO, "q2"),
    ]
    assert [(m["notebook"], m["name"]) for m in nbgrader.manual_cells(a)] == [
        (ONE, "explain"),
        (TWO, "explain"),
        (TWO, "style"),
    ]
    assert nbgrader.assignment_max(a) == 5 + 6
    releases = {f["path"]: f["content"] for f in nbgrader.release_files(a)}
    assert releases[DATA_FILE["path"]] == DATA_FILE["content"]
    for path in (ONE, TWO):
        assert not any(s in releases[path] for s in SECRETS), path
    # A notebook with no graded cell (an introduction) is released but never run.
    intro = {"path": "ps1/intro.ipynb", "content": json.dumps(problem_notebook("f", 1, 1, "Once."))}
    plain = json.loads(intro["content"])
    plain["cells"] = [{**plain["cells"][1], "metadata": {}, "source": "x = 1\n"}]
    intro["content"] = json.dumps(plain)
    nbgrader.check_starter_files([intro, *starter()])
    with_intro = Assignment(format="nbgrader", starter_files=[intro, *starter()], tests=[])
    assert nbgrader.graded_paths(with_intro) == [ONE, TWO]
    assert [f["path"] for f in nbgrader.release_files(with_intro)][:1] == ["ps1/intro.ipynb"]
    with pytest.raises(Invalid) as none:
        nbgrader.check_starter_files([intro])
    assert none.value.reason == "invalid_nbgrader_notebook"
    # A grade_id twice in one notebook is refused, naming the notebook and the cell
    # (numbered from 1).
    broken = sources()[TWO]
    broken["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "q1"
    files = starter()
    files[1]["content"] = json.dumps(broken)
    with pytest.raises(Invalid) as err:
        nbgrader.check_starter_files(files)
    assert err.value.reason == "invalid_nbgrader_notebook"
    messages = [e["message"] for e in err.value.errors or []]
    assert any(m.startswith(f"{TWO}: cell 3") and "also used by cell 2" in m for m in messages)
    assert err.value.errors and err.value.errors[0]["field"] == "starter_files[1].content"


def test_runs_of_each_notebook_and_their_scores() -> None:
    a = _assignment()
    files = [(p, answered(p, RIGHT[p]).encode()) for p in (ONE, TWO)]
    run_one, main = nbgrader.run_files(a, files, ONE)
    assert main == ONE and dict(run_one)[DATA_FILE["path"]] == b"1 2 3\n"
    # Only the notebook being graded is its grading version: no hidden test of the other.
    assert str(SECRET_ONE) in dict(run_one)[ONE].decode()
    assert str(SECRET_TWO) not in dict(run_one)[TWO].decode()
    executed = json.loads(dict(run_one)[ONE])  # as if every cell ran quietly
    one = nbgrader.score_run(a, {"cells": []}, executed, "accepted", ONE)
    two = nbgrader.score_run(a, {"cells": []}, None, "runtime_error", TWO)
    both = nbgrader.combine([(ONE, one), (TWO, two)])
    assert [(t["notebook"], t["name"], t["points_awarded"]) for t in both["results"]] == [
        (ONE, "q1", 1),
        (ONE, "q2", 2),
        (TWO, "q1", 0),
        (TWO, "q2", 0),
    ]
    assert both["raw_score"] == 3 and both["max_score"] == 11
    assert both["verdict"] == "runtime_error"
    assert f"{TWO}: The notebook did not finish" in both["message"]


def test_manual_keys_qualified_plain_and_ambiguous() -> None:
    manual = [
        {"name": "explain", "notebook": ONE, "points": 2},
        {"name": "explain", "notebook": TWO, "points": 2},
        {"name": "style", "notebook": TWO, "points": 1},
    ]
    keys, problems = nbgrader.resolve_manual_keys(manual, {f"{ONE}:explain": 2, "style": 1})
    assert keys == {f"{ONE}:explain": 2, f"{TWO}:style": 1} and not problems
    _, problems = nbgrader.resolve_manual_keys(manual, {"explain": 1})
    assert len(problems) == 1
    assert f"'{ONE}:explain'" in problems[0]["message"]
    assert f"'{TWO}:explain'" in problems[0]["message"]
    _, problems = nbgrader.resolve_manual_keys(manual, {f"{TWO}:style": 2, "nope": 1})
    assert [p["message"] for p in problems] == [
        f"'{TWO}:style': the score must be between 0 and 1",
        "'nope' is not a manually graded cell",
    ]
    # Entries stored before cells named their notebook: plain keys, as they were.
    legacy = [{"name": "explain", "points": 2, "points_awarded": None}]
    keys, problems = nbgrader.resolve_manual_keys(legacy, {"explain": 1.5})
    assert keys == {"explain": 1.5} and not problems
    keys, _ = nbgrader.resolve_manual_keys(legacy, {"squares.ipynb:explain": 1})
    assert keys == {"explain": 1}
    assert nbgrader.manual_points(legacy, {"explain": 1.5}) == 1.5
    # Such a plain key follows its cell when the submission is graded again.
    keys, _ = nbgrader.resolve_manual_keys(manual[2:], {"style": 1})
    assert keys == {f"{TWO}:style": 1}


def _run(path: str, ids: list[str], finished: datetime, cells: list[Any], rid: str) -> Execution:
    return Execution(
        id=rid,
        request={
            "main": path,
            "limits": {"wall_time_ms": WALL_MS},
            "notebook": {"cell_timeout_s": 30},
            "grading": {"notebook": path, "runs": ids},
        },
        result={"cells": cells},
        notebook=json.loads(answered(path, RIGHT[path])),
        verdict="accepted",
        finished_at=finished,
    )


def test_the_grade_is_held_until_the_latest_notebook_lets_it_out() -> None:
    a = _assignment()
    t0 = datetime(2026, 12, 3, tzinfo=UTC)
    # Problem 1 ran its hidden test (cell 2): held as if cells 2 and 3 took 30 s each,
    # at most what the cells before left of the wall time (12 s - 1 s).
    cells = [
        {"index": 0, "status": "ok", "time_ms": 500},
        {"index": 1, "status": "ok", "time_ms": 500},
        {"index": 2, "status": "ok", "time_ms": 10},
    ]
    one = _run(ONE, ["r1", "r2"], t0, cells, "r1")
    assert grading.run_release(a, one) == t0 + timedelta(milliseconds=11_000 - 10)
    # Problem 2 ended later but stopped before its hidden test: not held.
    two = _run(TWO, ["r1", "r2"], t0 + timedelta(seconds=3), cells[:2], "r2")
    assert grading.run_release(a, two) == t0 + timedelta(seconds=3)
    sub = Submission(manual_scores={"explain": 1.0}, days_late=0)
    grading.apply_notebook_score(sub, a, [one, two])
    assert sub.graded_at == t0 + timedelta(milliseconds=10_990)
    assert [(t["notebook"], t["passed"]) for t in sub.results or []] == [
        (ONE, True),
        (ONE, True),
        (TWO, True),
        (TWO, True),
    ]
    # The plain "explain" of before is ambiguous now: dropped, not guessed.
    assert sub.manual_scores == {}


# -- through the API --------------------------------------------------------------------------


def no_secrets(reply: Any) -> None:
    text = json.dumps(reply.json, ensure_ascii=False) + reply.body.decode()
    for secret in SECRETS:
        assert secret not in text, (secret, text[:3000])


async def start_with(api: Any, aid: str, headers: Any, answers: dict[str, str]) -> str:
    reply = await api("POST", f"assignments/{aid}/start", headers=headers)
    assert reply.status in (200, 201), reply.body
    no_secrets(reply)
    project = reply.json
    for f in project["files"]:
        got = await api("GET", f"projects/{project['id']}/files/{f['id']}", headers=headers)
        no_secrets(got)
        if f["path"] in answers:
            put = await api(
                "PUT",
                f"projects/{project['id']}/files/{f['id']}",
                {"content": answered(f["path"], answers[f["path"]]), "version": f["version"]},
                headers=headers,
            )
            assert put.status == 200, put.body
    return str(project["id"])


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.timeout(1200)
async def test_two_notebooks_submitted_graded_and_scored(api: Any, bearer: Any) -> None:
    cid, p = await setup_class(api, bearer)
    ines, tim = p["ines"], p["tim"]
    await enrol(api, cid, ines, ann="student")
    p["ann"] = bearer("ann")
    body = {
        "title": "Problem set 1",
        "language": "python",
        "format": "nbgrader",
        "starter_files": starter(),
        "limits": {"wall_time_ms": WALL_MS},
        "published": True,
    }
    reply = await api("POST", f"classes/{cid}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    a = reply.json
    aid = a["id"]
    assert a["max_score"] == 11
    assert [(t["notebook"], t["name"]) for t in a["tests"]] == [
        (ONE, "q1"),
        (ONE, "q2"),
        (TWO, "q1"),
        (TWO, "q2"),
    ]
    assert [(m["notebook"], m["name"]) for m in a["manual"]] == [
        (ONE, "explain"),
        (TWO, "explain"),
        (TWO, "style"),
    ]
    no_secrets(await api("GET", f"assignments/{aid}", headers=p["sam"]))

    who = {
        "sam": dict(RIGHT),
        "sue": {ONE: CRASH, TWO: RIGHT[TWO]},
        "ann": {ONE: RIGHT[ONE], TWO: ENDLESS},
    }
    pids = {s: await start_with(api, aid, p[s], answers) for s, answers in who.items()}
    subs = {s: await hand_in(api, aid, pids[s], p[s]) for s in who}

    # Check: the notebook named (else the first with visible tests), visible tests only.
    for named, expect in ((None, "double"), (TWO, "triple")):
        req = {"project_id": pids["sam"]} | ({"notebook": named} if named else {})
        reply = await api(
            "POST", f"assignments/{aid}/check", req, headers=p["sam"], params={"wait": "true"}
        )
        assert reply.status == 200, reply.body
        assert reply.json["verdict"] == "accepted", reply.json
        assert f"def {expect}(n)" in json.dumps(reply.json["notebook"]), reply.json
        no_secrets(reply)
    reply = await api(
        "POST",
        f"assignments/{aid}/check",
        {"project_id": pids["sam"], "notebook": "nope.ipynb"},
        headers=p["sam"],
    )
    assert reply.status == 422 and ONE in reply.json["message"], reply.body

    staff = {s: await graded(api, sid, tim) for s, sid in subs.items()}
    points = {
        s: {(t["notebook"], t["name"]): t["points_awarded"] for t in sub["tests"]}
        for s, sub in staff.items()
    }
    full = {(ONE, "q1"): 1, (ONE, "q2"): 2, (TWO, "q1"): 1, (TWO, "q2"): 2}
    assert points["sam"] == full
    # A notebook that did not finish scores none of its own cells; the other counts.
    assert points["sue"] == full | {(ONE, "q1"): 0, (ONE, "q2"): 0}, staff["sue"]
    assert points["ann"] == full | {(TWO, "q1"): 0, (TWO, "q2"): 0}, staff["ann"]
    assert staff["sue"]["raw_score"] == 3 and staff["ann"]["raw_score"] == 3
    assert staff["sam"]["raw_score"] == 6 and staff["sam"]["max_score"] == 11
    assert f"{ONE}: The notebook did not finish" in staff["sue"]["message"]
    assert f"{TWO}: The notebook did not finish" in staff["ann"]["message"]
    assert [(m["notebook"], m["name"]) for m in staff["sam"]["manual"]] == [
        (ONE, "explain"),
        (TWO, "explain"),
        (TWO, "style"),
    ]
    # Students: their points per notebook, nothing hidden of either notebook.
    for s, sid in subs.items():
        mine = await graded(api, sid, p[s])
        assert {(t["notebook"], t["name"]): t["points_awarded"] for t in mine["tests"]} == (
            points[s]
        )
        for url in (f"submissions/{sid}", f"submissions/{sid}/results.json"):
            no_secrets(await api("GET", url, headers=p[s]))
        hidden = [t for t in mine["tests"] if t["hidden"]]
        assert all(
            set(t) == {"name", "hidden", "points", "points_awarded", "passed", "notebook"}
            for t in hidden
        ), hidden
    no_secrets(await api("GET", f"assignments/{aid}/submissions", headers=p["sam"]))

    # Manual scores: a grade_id in both notebooks needs its notebook; a unique one not.
    sid = subs["sam"]
    reply = await api("PATCH", f"submissions/{sid}", {"manual_scores": {"explain": 1}}, headers=tim)
    assert reply.status == 422, reply.body
    assert f"'{ONE}:explain'" in reply.json["message"]
    assert f"'{TWO}:explain'" in reply.json["message"]
    reply = await api(
        "PATCH",
        f"submissions/{sid}",
        {"manual_scores": {f"{ONE}:explain": 2, f"{TWO}:explain": 0.5, "style": 1}},
        headers=tim,
    )
    assert reply.status == 200, reply.body
    assert reply.json["raw_score"] == 9.5 and reply.json["score"] == 9.5
    scored = {(m["notebook"], m["name"]): m["score"] for m in reply.json["manual"]}
    assert scored == {(ONE, "explain"): 2, (TWO, "explain"): 0.5, (TWO, "style"): 1}
    reply = await api(
        "PATCH", f"submissions/{sid}", {"manual_scores": {f"{TWO}:style": None}}, headers=tim
    )
    assert reply.status == 200 and reply.json["score"] == 8.5, reply.body

    # Grades, grades.csv and a regrade (staff's scores kept).
    sheet = {
        r["student"]: r for r in (await api("GET", f"assignments/{aid}/grades", headers=ines)).json
    }
    assert sheet["sam"]["latest_score"] == 8.5 and sheet["sue"]["latest_score"] == 3
    text = (await api("GET", f"assignments/{aid}/grades.csv", headers=ines)).body.decode()
    assert "sam" in text and "8.5" in text
    reply = await api("POST", f"assignments/{aid}/regrade", headers=ines)
    assert reply.status == 202, reply.body
    again = {s: await graded(api, sid, ines) for s, sid in subs.items()}
    assert again["sam"]["score"] == 8.5
    assert again["sue"]["score"] == 3 and again["ann"]["score"] == 3


async def test_submissions_stored_before_cells_named_their_notebook(
    api: Any, bearer: Any, jp_serverapp: Any
) -> None:
    """A single-notebook submission graded before results named their notebook reads and
    scores as it did; its manual cells take plain and qualified keys alike."""
    cid, p = await setup_class(api, bearer)
    squares = json.dumps(load("source/squares.ipynb"), indent=1)
    body = {
        "title": "Squares",
        "language": "python",
        "format": "nbgrader",
        "starter_files": [{"path": "squares.ipynb", "content": squares}],
        "published": True,
    }
    reply = await api("POST", f"classes/{cid}/assignments", body, headers=p["ines"])
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    assert {t["notebook"] for t in reply.json["tests"]} == {"squares.ipynb"}
    test = {"name": "test_squares", "hidden": False, "points": 1.0, "points_awarded": 1.0}
    test |= {"passed": True, "verdict": "accepted", "message": None, "output": ""}
    manual = [
        {"name": "explain", "points": 2.0, "points_awarded": None, "message": None},
        {"name": "describe", "points": 1.0, "points_awarded": None, "message": None},
    ]
    async with jp_serverapp.web_app.settings["muscode"].db.session() as s:
        sub = Submission(
            assignment_id=aid,
            student="sam",
            attempt=1,
            files=[],
            main="squares.ipynb",
            status="graded",
            verdict="accepted",
            results=[test],
            manual=manual,
            manual_scores={"explain": 1.5},
            raw_score=2.5,
            score=2.5,
            max_score=11.0,
            graded_at=datetime.now(UTC) - timedelta(minutes=1),
        )
        s.add(sub)
        await s.flush()
        sid = sub.id
    seen = (await api("GET", f"submissions/{sid}", headers=p["tim"])).json
    assert [m["name"] for m in seen["manual"]] == ["explain", "describe"]
    assert "notebook" not in seen["manual"][0] and seen["manual"][0]["score"] == 1.5
    own = (await api("GET", f"submissions/{sid}", headers=p["sam"])).json
    assert own["tests"][0]["name"] == "test_squares" and "notebook" not in own["tests"][0]
    for scores, total in (({"describe": 1}, 3.5), ({"squares.ipynb:explain": 2}, 4.0)):
        reply = await api(
            "PATCH", f"submissions/{sid}", {"manual_scores": scores}, headers=p["tim"]
        )
        assert reply.status == 200 and reply.json["raw_score"] == total, reply.body
