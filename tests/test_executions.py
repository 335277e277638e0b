"""Executions through the API on the local sandbox: verdicts, limits, tests, recovery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select

from muscode_ext.services.runner import Handoff
from muscode_ext.store import Execution
from muscode_ext.store.models import new_id, utcnow

from .test_projects import make_project

pytestmark = pytest.mark.usefixtures("bubblewrap")


def muscode(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["muscode"]


async def run(api: Any, body: dict[str, Any], headers: Any = None, status: int = 200) -> Any:
    reply = await api(
        "POST", "executions", body, params={"wait": "true", "timeout": "60"}, headers=headers
    )
    assert reply.status == status, reply.body
    return reply.json


async def test_languages_lists_all_six_with_real_versions(api: Any) -> None:
    reply = await api("GET", "languages")
    assert reply.status == 200
    by_id = {lang["id"]: lang for lang in reply.json}
    assert set(by_id) >= {"python", "javascript", "java", "c", "cpp", "php"}
    for lang in by_id.values():
        assert lang["available"] is True, lang
        assert lang["version"] and any(ch.isdigit() for ch in lang["version"]), lang
    assert by_id["c"]["compiled"] is True and by_id["python"]["compiled"] is False
    assert ".py" in by_id["python"]["extensions"]


HELLO = {
    "python": "print(input().upper())",
    "javascript": "const s = require('fs').readFileSync(0, 'utf8').trim();"
    " console.log(s.toUpperCase());",
    "java": "import java.util.*; public class Shout { public static void main(String[] a) {"
    " System.out.println(new Scanner(System.in).nextLine().toUpperCase()); } }",
    "c": "#include <stdio.h>\n#include <ctype.h>\nint main(void){int c;"
    " while((c=getchar())!=EOF) putchar(toupper(c)); return 0;}",
    "cpp": "#include <iostream>\n#include <string>\n#include <algorithm>\nint main(){std::string s;"
    " std::getline(std::cin, s); for (auto &c : s) c = toupper(c); std::cout << s << '\\n';}",
    "php": '<?php echo strtoupper(trim(fgets(STDIN))), "\\n";',
}


@pytest.mark.parametrize("language", sorted(HELLO))
async def test_every_language_runs_with_stdin_and_expected_output(api: Any, language: str) -> None:
    result = await run(
        api,
        {
            "language": language,
            "source": HELLO[language],
            "stdin": "hello muscode\n",
            "expected_output": "HELLO MUSCODE",
        },
    )
    assert result["status"] == "done"
    assert result["verdict"] == "accepted", result
    assert result["stdout"].strip() == "HELLO MUSCODE"
    assert result["exit_code"] == 0
    assert result["wall_time_ms"] >= 0 and result["memory_kb"] >= 0
    assert result["started_at"] and result["finished_at"]


async def test_verdicts(api: Any) -> None:
    wrong = await run(api, {"language": "python", "source": "print(41)", "expected_output": "42"})
    assert wrong["verdict"] == "wrong_answer"
    spaces = await run(
        api, {"language": "python", "source": "print('42   ')\nprint()", "expected_output": "42"}
    )
    assert spaces["verdict"] == "accepted"
    crash = await run(api, {"language": "python", "source": "raise SystemExit(3)"})
    assert (crash["verdict"], crash["exit_code"]) == ("runtime_error", 3)
    compile_error = await run(api, {"language": "c", "source": "int main( { return 0; }"})
    assert compile_error["verdict"] == "compile_error"
    assert "error" in compile_error["compile_output"]
    slow = await run(
        api,
        {
            "language": "python",
            "source": "while True: pass",
            "limits": {"cpu_time_ms": 500, "wall_time_ms": 2000},
        },
    )
    assert slow["verdict"] == "time_limit_exceeded"
    greedy = await run(
        api,
        {"language": "python", "source": "x = bytearray(400 * 2**20)", "limits": {"memory_mb": 64}},
    )
    assert greedy["verdict"] == "memory_limit_exceeded"
    chatty = await run(
        api,
        {
            "language": "python",
            "source": "while True: print('x' * 100)",
            "limits": {"output_kb": 8},
        },
    )
    assert chatty["verdict"] == "output_limit_exceeded"
    assert chatty["truncated"]["stdout"] is True
    assert 0 < len(chatty["stdout"]) <= 8 * 1024


async def test_compile_once_run_each_test(api: Any) -> None:
    source = (
        '#include <stdio.h>\nint main(void){int a,b; scanf("%d %d",&a,&b);'
        ' printf("%d\\n", a+b); return 0;}'
    )
    tests = [
        {"name": "small", "stdin": "1 2", "expected_output": "3"},
        {"name": "big", "stdin": "1000 2000", "expected_output": "3000"},
        {"name": "wrong on purpose", "stdin": "2 2", "expected_output": "5"},
        {"name": "negative", "stdin": "-1 -2", "expected_output": "-3"},
    ]
    result = await run(api, {"language": "c", "source": source, "tests": tests})
    assert [t["name"] for t in result["tests"]] == [t["name"] for t in tests]
    assert [t["verdict"] for t in result["tests"]] == [
        "accepted",
        "accepted",
        "wrong_answer",
        "accepted",
    ]
    assert result["verdict"] == "wrong_answer"
    assert result["tests"][1]["stdout"].strip() == "3000"
    broken = await run(api, {"language": "c", "source": "nope", "tests": tests})
    assert broken["verdict"] == "compile_error"
    assert {t["verdict"] for t in broken["tests"]} == {"compile_error"}


async def test_run_a_saved_project(api: Any) -> None:
    project = await make_project(
        api,
        "multi",
        files=[
            {"path": "main.py", "content": "from lib.greet import hi\nprint(hi('ada'))\n"},
            {"path": "lib/__init__.py", "content": ""},
            {"path": "lib/greet.py", "content": "def hi(n):\n    return f'hi {n}'\n"},
        ],
    )
    result = await run(api, {"language": "python", "project_id": project["id"]})
    assert result["verdict"] == "accepted", result
    assert result["stdout"] == "hi ada\n"
    assert result["project_id"] == project["id"]
    listed = await api("GET", "executions", params={"project_id": project["id"]})
    assert [r["id"] for r in listed.json] == [result["id"]]


async def test_without_wait_the_run_is_queued_then_done(api: Any) -> None:
    reply = await api("POST", "executions", {"language": "python", "source": "print(1)"})
    assert reply.status == 201
    assert reply.json["status"] in ("queued", "running")
    assert reply.headers["Location"].endswith(f"/executions/{reply.json['id']}")
    for _ in range(200):
        got = await api("GET", f"executions/{reply.json['id']}")
        if got.json["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert got.json["verdict"] == "accepted"
    both = await api("GET", "executions", params={"ids": reply.json["id"]})
    assert [r["id"] for r in both.json] == [reply.json["id"]]


async def test_a_short_wait_returns_202_with_the_unfinished_run(api: Any) -> None:
    reply = await api(
        "POST",
        "executions",
        {"language": "python", "source": "import time; time.sleep(1.5)"},
        params={"wait": "true", "timeout": "0.2"},
    )
    assert reply.status == 202
    assert reply.json["status"] in ("queued", "running")


async def test_bad_execution_requests(api: Any) -> None:
    ok = {"language": "python", "source": "print(1)"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**ok, "language": "cobol"}, 422, "language"),
        ({"language": "python"}, 422, "source"),
        ({**ok, "files": [{"path": "a.py", "content": ""}]}, 422, "exactly one"),
        ({**ok, "limits": {"memory_mb": 999_999}}, 422, "limits.memory_mb"),
        ({**ok, "limits": {"cpu_time_ms": 0}}, 422, "limits.cpu_time_ms"),
        ({**ok, "limits": {"gpu": 1}}, 422, "limits.gpu"),
        ({**ok, "source": "x" * (256 * 1024 + 1)}, 413, "limit"),
        ({**ok, "stdin": "x" * (1024 * 1024 + 1)}, 413, "stdin"),
        ({**ok, "compiler_options": "-O2 'unclosed"}, 422, "compiler_options"),
        ({**ok, "tests": []}, 422, "tests"),
        ({**ok, "interactive": True, "tests": [{"name": "t"}]}, 422, "interactive"),
        ({**ok, "callback_url": "https://example.invalid/x"}, 422, "callback_url"),
        ({**ok, "args": "a b"}, 422, "args"),
        ({"language": "python", "files": [{"path": "../a.py", "content": ""}]}, 422, "path"),
        (
            {"language": "python", "files": [{"path": "a.py", "content": ""}], "main": "b.py"},
            422,
            "main",
        ),
        ({"language": "python", "project_id": "nope"}, 404, "project"),
    ]
    for body, status, mention in cases:
        reply = await api("POST", "executions", body)
        assert reply.status == status, (body.keys(), reply.status, reply.body[:300])
        assert mention in reply.body.decode(), (mention, reply.body[:300])
    for params, mention in [
        ({"wait": "maybe"}, "wait"),
        ({"wait": "true", "timeout": "-1"}, "timeout"),
        ({"wait": "true", "timeout": "nan"}, "timeout"),
    ]:
        reply = await api("POST", "executions", ok, params=params)
        assert reply.status == 422 and mention in reply.body.decode()
    assert (await api("GET", "executions", params={"limit": "0"})).status == 422
    assert (await api("GET", "executions", params={"status": "weird"})).status == 422
    assert (await api("GET", "executions")).json == []


async def test_runs_are_private(api: Any, bearer: Any) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    mine = await run(api, {"language": "python", "source": "print('secret')"}, headers=alice)
    assert (await api("GET", f"executions/{mine['id']}", headers=bob)).status == 404
    assert (await api("GET", "executions", headers=bob)).json == []
    assert (await api("GET", "executions", headers=bob, params={"ids": mine["id"]})).json == []
    no_scope = await api(
        "POST",
        "executions",
        {"language": "python", "source": "1"},
        headers=bearer("carol", ("projects",)),
    )
    assert no_scope.status == 403


async def test_restart_requeues_queued_runs_and_finishes_interrupted_ones(
    api: Any, jp_serverapp: Any
) -> None:
    app = muscode(jp_serverapp)
    first = await run(api, {"language": "python", "source": "print('again')"})
    async with app.db.session() as s:
        template = await s.get(Execution, first["id"])
        queued = Execution(
            owner="owner",
            language="python",
            status="queued",
            request=dict(template.request),
            created_at=utcnow(),
        )
        running = Execution(
            owner="owner",
            language="python",
            status="running",
            request=dict(template.request),
            created_at=utcnow(),
            started_at=utcnow(),
        )
        s.add_all([queued, running])
    await app.executions.recover()
    for _ in range(200):
        async with app.db.session() as s:
            rows = {r.id: r for r in await s.scalars(select(Execution))}
        if rows[queued.id].status == "done":
            break
        await asyncio.sleep(0.05)
    assert rows[queued.id].verdict == "accepted"
    assert rows[queued.id].result["stdout"] == "again\n"
    assert rows[running.id].status == "done"
    assert rows[running.id].verdict == "internal_error"
    assert "stopped" in rows[running.id].message


async def test_a_handed_over_run_no_one_may_claim_is_stopped_and_shows_nothing(
    api: Any, jp_serverapp: Any
) -> None:
    """The in-process queue hands the row to the runner, which starts the program while
    the run is claimed. A run cancelled while queued is claimed by no one: the program
    is stopped, nothing of it is published, and the cancelled row stays."""
    app = muscode(jp_serverapp)
    first = await run(api, {"language": "python", "source": "print('template')"})
    async with app.db.session() as s:
        template = await s.get(Execution, first["id"])
        request = dict(template.request)
        request["files"] = [
            {
                **request["files"][0],
                "content": "import time\nprint('leaked', flush=True)\ntime.sleep(60)\n",
            }
        ]
        row = Execution(
            owner="owner",
            language="python",
            status="done",
            verdict="cancelled",
            message="cancelled before it started",
            request=request,
            created_at=utcnow(),
            finished_at=utcnow(),
        )
        s.add(row)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(app.executions.runner.run(row.id, handoff=Handoff(row)), 30)
    assert loop.time() - started < 20  # not the program's 60 s
    assert not app.executions.bus_has(row.id)  # no status, no "leaked"
    async with app.db.session() as s:
        after = await s.get(Execution, row.id)
    assert (after.status, after.verdict, after.result) == ("done", "cancelled", None)
    assert after.message == "cancelled before it started" and after.attempts == 0

    # A run whose row could not be written (the database failed the submitter, who
    # answered 503) is claimed by no one either, and leaves nothing behind.
    unsaved = Execution(
        id=new_id(), owner="owner", language="python", status="queued", request=request
    )
    written = loop.create_future()
    running = asyncio.ensure_future(
        app.executions.runner.run(unsaved.id, handoff=Handoff(unsaved, written))
    )
    await asyncio.sleep(0.5)
    assert not running.done()  # the claim waits for the write to be over
    written.set_result(None)
    await asyncio.wait_for(running, 30)
    assert loop.time() - started < 40
    assert not app.executions.bus_has(unsaved.id)
    async with app.db.session() as s:
        assert await s.get(Execution, unsaved.id) is None


async def test_health_reports_the_executor(api: Any) -> None:
    reply = await api("GET", "health", headers={"Authorization": ""})
    assert reply.json["checks"] == {"database": "ok", "queue": "ok", "executor": "ok"}


async def test_a_run_an_idle_worker_takes_is_claimed_in_its_insert(
    api: Any, jp_serverapp: Any
) -> None:
    """A worker free when a run arrives takes it before its row is written: the row is
    inserted ``running``, and the run's only other write is its result."""
    app = muscode(jp_serverapp)
    await run(api, {"language": "python", "source": "print('warm')"})  # workers idle again
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "executions" in statement and statement.split()[0] in ("INSERT", "UPDATE"):
            statements.append(statement.split()[0])

    engine = app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        done = await run(api, {"language": "python", "source": "print('hi')"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (done["status"], done["verdict"], done["stdout"]) == ("done", "accepted", "hi\n")
    assert statements == ["INSERT", "UPDATE"]
    async with app.db.session() as s:
        row = await s.get(Execution, done["id"])
    assert row is not None and row.attempts == 1
    assert row.created_at <= row.started_at <= row.finished_at


async def test_a_run_claimed_in_a_write_its_submitter_did_not_see_end_still_runs(
    api: Any, jp_serverapp: Any
) -> None:
    """The submitter's insert of a run claimed in it was stored, but the submitter
    never learnt so (interrupted): the runner finds the row as it wrote it and runs it."""
    app = muscode(jp_serverapp)
    first = await run(api, {"language": "python", "source": "print('template')"})
    async with app.db.session() as s:
        request = dict((await s.get(Execution, first["id"])).request)
    row = Execution(
        id=new_id(),
        owner="owner",
        language="python",
        status="queued",
        request=request,
        created_at=utcnow(),
        attempts=0,
    )
    written = asyncio.get_running_loop().create_future()
    handoff = Handoff(row, written)
    running = asyncio.ensure_future(app.executions.runner.run(row.id, handoff=handoff))
    await asyncio.sleep(0)  # the runner takes the run before its write begins
    assert (row.status, row.attempts) == ("running", 1)
    async with app.db.session() as s:
        s.add(row)
    written.set_result(None)  # "stored" never set
    await asyncio.wait_for(running, 30)
    async with app.db.session() as s:
        after = await s.get(Execution, row.id)
    assert after is not None
    assert (after.status, after.verdict, after.attempts) == ("done", "accepted", 1)
    assert after.result["stdout"] == "template\n"
