"""Notebook runs through the API on the local sandbox: the request, the queue, the
runner, the stored ``notebook`` and ``cells``, the live per-cell events, and the runs
the grading code submits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from muscode_ext.errors import Invalid
from muscode_ext.execution.base import Limits
from muscode_ext.services.notebook_runs import submit_graded_notebook_run

from .notebooks.conftest import notebook, system_python, text_of  # noqa: F401 - fixture
from .test_live import collect, open_stream

pytestmark = pytest.mark.usefixtures("bubblewrap", "system_python")


def nb_file(nb: dict[str, Any] | str, path: str = "work/nb.ipynb") -> dict[str, Any]:
    content = nb if isinstance(nb, str) else json.dumps(nb)
    return {"path": path, "content": content}


async def run_nb(
    api: Any,
    nb: dict[str, Any] | str,
    *,
    status: int = 200,
    headers: Any = None,
    **extra: Any,
) -> Any:
    body = {"language": "python", "files": [nb_file(nb)], "main": "work/nb.ipynb", **extra}
    reply = await api(
        "POST", "executions", body, params={"wait": "true", "timeout": "120"}, headers=headers
    )
    assert reply.status == status, reply.body
    return reply.json


async def test_a_notebook_runs_and_its_executed_copy_and_cells_are_kept(
    api: Any, bearer: Any
) -> None:
    nb = notebook(
        "# Title",
        "import sys, helper\nprint('hello', helper.VALUE)\nprint('oops', file=sys.stderr)",
        "6 * 7",
        "",
        markdown=(0,),
    )
    helper = {"path": "work/helper.py", "content": "VALUE = 'from beside'\n"}
    alice = bearer("alice")
    reply = await api(
        "POST",
        "executions",
        {
            "language": "python",
            "files": [nb_file(nb), helper],
            "main": "work/nb.ipynb",
        },
        params={"wait": "true", "timeout": "120"},
        headers=alice,
    )
    assert reply.status == 200, reply.body
    run = reply.json
    assert (run["status"], run["verdict"]) == ("done", "accepted"), run
    assert [(c["index"], c["cell_id"], c["status"]) for c in run["cells"]] == [
        (1, "c1", "ok"),
        (2, "c2", "ok"),
        (3, "c3", "ok"),  # an empty cell: nothing to run
    ]
    assert all(isinstance(c["time_ms"], int) for c in run["cells"][:2])
    executed = run["notebook"]
    assert executed["nbformat"] == 4
    assert text_of(executed["cells"][1]) == "hello from beside\noops\n"
    assert executed["cells"][2]["outputs"][0]["data"]["text/plain"] == "42"
    assert executed["cells"][2]["execution_count"] is not None
    # A run's stdout and stderr are the cells' (not the executor's progress).
    assert (run["stdout"], run["stderr"]) == ("hello from beside\n", "oops\n")
    # Stored: the same on a later read; the owner only sees it.
    again = await api("GET", f"executions/{run['id']}", headers=alice)
    assert again.status == 200
    assert again.json["notebook"] == executed and again.json["cells"] == run["cells"]
    assert (await api("GET", f"executions/{run['id']}", headers=bearer("mallory"))).status == 404
    listed = await api("GET", "executions", params={"ids": run["id"]}, headers=bearer("mallory"))
    assert listed.json == []
    # An ordinary run carries neither field.
    plain = await api(
        "POST",
        "executions",
        {"language": "python", "source": "print(1)"},
        params={"wait": "true", "timeout": "60"},
        headers=alice,
    )
    assert "notebook" not in plain.json and "cells" not in plain.json


async def test_a_raising_cell_ends_the_run_unless_errors_are_allowed(api: Any) -> None:
    nb = notebook("x = 1", "print('before')\n1 / 0", "print('after')")
    failed = await run_nb(api, nb)
    assert failed["verdict"] == "runtime_error"
    assert "Cell 2" in failed["message"] and "ZeroDivisionError" in failed["message"]
    assert [c["status"] for c in failed["cells"]] == ["ok", "error", "not_run"]
    assert failed["cells"][1]["ename"] == "ZeroDivisionError"
    error = failed["notebook"]["cells"][1]["outputs"][-1]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"

    went_on = await run_nb(api, nb, allow_errors=True)
    assert (went_on["verdict"], went_on["message"]) == ("accepted", None)
    assert [c["status"] for c in went_on["cells"]] == ["ok", "error", "ok"]
    assert text_of(went_on["notebook"]["cells"][2]) == "after\n"

    greedy = await run_nb(
        api, notebook("x = bytearray(400 * 2**20)", "print(1)"), limits={"memory_mb": 64}
    )
    assert greedy["verdict"] == "memory_limit_exceeded", greedy
    died = await run_nb(api, notebook("import os\nos._exit(1)", "print(1)"), allow_errors=True)
    assert died["verdict"] == "runtime_error" and "cell 1" in died["message"], died
    assert [c["status"] for c in died["cells"]] == ["error", "not_run"]


async def test_a_project_notebook_runs_through_the_project_path(api: Any) -> None:
    reply = await api(
        "POST",
        "projects",
        {"name": "nb", "language": "python", "files": [nb_file(notebook("print(2 + 2)"))]},
    )
    assert reply.status == 201, reply.body
    project = reply.json
    run = await run_nb_project(api, project["id"])
    assert run["verdict"] == "accepted" and run["project_id"] == project["id"]
    assert run["stdout"] == "4\n" and [c["status"] for c in run["cells"]] == ["ok"]


async def run_nb_project(api: Any, project_id: str) -> Any:
    reply = await api(
        "POST",
        "executions",
        {"language": "python", "project_id": project_id, "main": "work/nb.ipynb"},
        params={"wait": "true", "timeout": "120"},
    )
    assert reply.status == 200, reply.body
    return reply.json


async def test_what_is_not_a_runnable_notebook_is_refused_saying_why(api: Any) -> None:
    async def refused(body: dict[str, Any], path: str = "executions") -> dict[str, Any]:
        reply = await api("POST", path, body)
        assert reply.status == 422, reply.body
        return dict(reply.json)

    def nb_run(content: Any, **extra: Any) -> dict[str, Any]:
        return {"language": "python", "files": [nb_file(content)], "main": "work/nb.ipynb", **extra}

    bad_json = await refused(nb_run("{not json"))
    assert bad_json["reason"] == "invalid_notebook"
    assert "work/nb.ipynb" in bad_json["message"] and "not valid JSON" in bad_json["message"]
    old = await refused(nb_run({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}))
    assert old["reason"] == "invalid_notebook" and "nbformat 3" in old["message"]
    broken = notebook("print(1)")
    del broken["cells"][0]["source"]
    shape = await refused(nb_run(broken))
    assert shape["reason"] == "invalid_notebook" and "cells[0]" in shape["message"]
    not_python = await refused({**nb_run(notebook("1")), "language": "javascript"})
    assert not_python["errors"][0]["field"] == "language"
    assert "python" in not_python["message"]
    with_tests = await refused(nb_run(notebook("1"), tests=[{"name": "t"}]))
    assert with_tests["errors"][0]["field"] == "tests"
    with_stdin = await refused(nb_run(notebook("1"), stdin="x"))
    assert with_stdin["errors"][0]["field"] == "stdin"
    not_a_notebook = await refused({"language": "python", "source": "1", "allow_errors": True})
    assert not_a_notebook["errors"][0]["field"] == "allow_errors"
    # One bad notebook rejects a batch, naming it.
    batch = await refused(
        {"submissions": [nb_run(notebook("1")), nb_run("[]")]}, path="executions/batch"
    )
    assert batch["reason"] == "invalid_notebook" and batch["message"].startswith("submissions[1]")


async def test_outputs_are_capped_by_the_output_budget(api: Any) -> None:
    nb = notebook("print('x' * 200_000)", "print('small')", "'y' * 5000")
    run = await run_nb(api, nb, limits={"output_kb": 8})
    assert run["verdict"] == "accepted", run
    assert run["truncated"]["stdout"] is True
    size = len(json.dumps(run["notebook"]))
    assert size < 40_000, size
    assert "truncated" in text_of(run["notebook"]["cells"][0])
    # A cell's result is kept, shortened, past the budget.
    result = run["notebook"]["cells"][2]["outputs"][0]["data"]["text/plain"]
    assert result.startswith("'yyy") and len(result) <= 1000


async def test_cells_are_shown_live_on_the_stream(api: Any, jp_ws_fetch: Any) -> None:
    nb = notebook("print('one')", "import time\ntime.sleep(0.3)\nprint('two')", "1 / 0")
    body = {
        "language": "python",
        "files": [nb_file(nb)],
        "main": "work/nb.ipynb",
        "allow_errors": True,
    }
    reply = await api("POST", "executions", body)
    assert reply.status == 201, reply.body
    events = await collect(await open_stream(jp_ws_fetch, reply.json["id"]), timeout=120)
    cells = [e for e in events if e["type"] == "cell"]
    assert [(e["index"], e["status"]) for e in cells] == [
        (0, "running"),
        (0, "ok"),
        (1, "running"),
        (1, "ok"),
        (2, "running"),
        (2, "error"),
    ]
    assert all(isinstance(e["time_ms"], int) for e in cells if e["status"] != "running")
    assert cells[-1]["ename"] == "ZeroDivisionError"
    out = [(e["cell"], e["data"]) for e in events if e["type"] == "stdout"]
    assert "".join(d for _, d in out) == "one\ntwo\n"
    assert {c for c, _ in out} == {0, 1}
    assert events[-1]["type"] == "done"
    assert events[-1]["result"]["cells"][2]["status"] == "error"
    assert events[-1]["result"]["notebook"]["cells"][0]["outputs"]


def muscode(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["muscode"]


async def test_the_grading_code_submits_a_notebook_run_of_its_own(
    api: Any, jp_serverapp: Any
) -> None:
    await api("GET", "me")  # the embedded user "owner" is stored
    nb = notebook("import data\nprint(data.N)", "raise ValueError('x')", "print('still')")
    data = json.dumps(nb).encode()
    row = await submit_graded_notebook_run(
        muscode(jp_serverapp).executions,
        owner="owner",
        files=[("sub/nb.ipynb", data), ("sub/data.py", b"N = 5\n")],
        main="sub/nb.ipynb",
        limits=Limits(cpu_time_ms=10_000, wall_time_ms=60_000, memory_mb=256),
    )
    for _ in range(600):
        got = (await api("GET", f"executions/{row.id}")).json
        if got["status"] == "done":
            break
        await asyncio.sleep(0.2)
    assert got["verdict"] == "accepted", got  # errors allowed, as nbgrader grades
    assert [c["status"] for c in got["cells"]] == ["ok", "error", "ok"]
    assert text_of(got["notebook"]["cells"][0]) == "5\n"
    with pytest.raises(Invalid, match="not valid JSON"):
        await submit_graded_notebook_run(
            muscode(jp_serverapp).executions,
            owner="owner",
            files=[("nb.ipynb", b"{")],
            main="nb.ipynb",
            limits=Limits(),
        )
