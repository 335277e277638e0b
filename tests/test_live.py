"""The live channel: streaming with replay, interactive stdin, cancel, batch, notices."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from .conftest import API

pytestmark = pytest.mark.usefixtures("bubblewrap")


async def submit(api: Any, body: dict[str, Any], headers: Any = None) -> str:
    reply = await api("POST", "executions", body, headers=headers)
    assert reply.status == 201, reply.body
    return str(reply.json["id"])


async def collect(ws: WebSocketClientConnection, timeout: float = 30) -> list[dict[str, Any]]:
    """Every message until the server closes the socket after ``done``."""
    events = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no done event in {timeout}s: {events[-3:]}"
        raw = await asyncio.wait_for(ws.read_message(), left)
        if raw is None:
            return events
        events.append(json.loads(raw))


def output(events: list[dict[str, Any]], stream: str = "stdout") -> str:
    return "".join(e["data"] for e in events if e["type"] == stream)


async def open_stream(jp_ws_fetch: Any, execution_id: str, headers: Any = None) -> Any:
    return await jp_ws_fetch(*API.split("/"), "executions", execution_id, "stream", headers=headers)


STEPS = (
    "import sys, time\nfor i in range(8):\n    print(f'line {i}', flush=True)\n"
    "    print(f'err {i}', file=sys.stderr, flush=True)\n    time.sleep(0.15)\n"
)


async def test_stream_in_order_and_late_subscribers_get_a_replay(
    api: Any, jp_ws_fetch: Any
) -> None:
    run_id = await submit(api, {"language": "python", "source": STEPS})
    early = await open_stream(jp_ws_fetch, run_id)
    await asyncio.sleep(0.6)  # let part of the output happen before the late one joins
    late = await open_stream(jp_ws_fetch, run_id)
    first, second = await asyncio.gather(collect(early), collect(late))
    expected = "".join(f"line {i}\n" for i in range(8))
    for events in (first, second):
        assert output(events) == expected
        assert output(events, "stderr") == "".join(f"err {i}\n" for i in range(8))
        seqs = [e["seq"] for e in events if "seq" in e]
        assert seqs == sorted(set(seqs)), "events out of order or repeated"
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap in the events"
        assert events[-1]["type"] == "done"
        assert events[-1]["result"]["verdict"] == "accepted"
        assert events[-1]["result"]["stdout"] == expected
    # Both saw the same events (the late one by replay).
    strip = [(e["type"], e.get("data")) for e in first if "seq" in e]
    assert strip == [(e["type"], e.get("data")) for e in second if "seq" in e]
    # After the end, a subscriber still gets the whole story.
    after = await collect(await open_stream(jp_ws_fetch, run_id))
    assert output(after) == expected
    assert after[-1]["type"] == "done"


INTERACTIVE = {
    "python": "while True:\n    try:\n        line = input()\n    except EOFError:\n"
    "        break\n    print('echo ' + line, flush=True)\n",
    "c": '#include <stdio.h>\nint main(void){int n; while (scanf("%d", &n) == 1)'
    ' { printf("echo %d\\n", n * 2); fflush(stdout); } return 0; }',
    "java": "import java.util.Scanner;\npublic class Echo { public static void main(String[] a) {"
    " Scanner in = new Scanner(System.in); while (in.hasNextLine()) {"
    ' System.out.println("echo " + in.nextLine()); System.out.flush(); } } }',
}
ANSWERS = {
    "python": ["echo first", "echo second"],
    "c": ["echo 42", "echo 14"],
    "java": ["echo first", "echo second"],
}
INPUTS = {"python": ["first", "second"], "c": ["21", "7"], "java": ["first", "second"]}


@pytest.mark.parametrize("language", sorted(INTERACTIVE))
async def test_interactive_stdin_reaches_the_running_program(
    api: Any, jp_ws_fetch: Any, language: str
) -> None:
    run_id = await submit(
        api,
        {
            "language": language,
            "source": INTERACTIVE[language],
            "interactive": True,
            "limits": {"wall_time_ms": 30_000, "cpu_time_ms": 10_000},
        },
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    seen = ""
    for line, answer in zip(INPUTS[language], ANSWERS[language], strict=True):
        await ws.write_message(json.dumps({"type": "stdin", "data": line + "\n"}))
        # The answer comes back while the program still runs: it read our line.
        deadline = time.monotonic() + 20
        while answer not in seen:
            assert time.monotonic() < deadline, f"{language}: no {answer!r} in {seen!r}"
            event = json.loads(await asyncio.wait_for(ws.read_message(), 20))
            if event["type"] == "stdout":
                seen += event["data"]
            assert event["type"] != "done", event
    await ws.write_message(json.dumps({"type": "eof"}))
    rest = await collect(ws)
    assert rest[-1]["result"]["verdict"] == "accepted", rest[-1]
    assert rest[-1]["result"]["stdout"] == "".join(a + "\n" for a in ANSWERS[language])


async def test_cancel_over_the_socket_stops_within_a_second(api: Any, jp_ws_fetch: Any) -> None:
    run_id = await submit(
        api,
        {
            "language": "python",
            "source": "print('spinning', flush=True)\nwhile True: pass",
            "limits": {"cpu_time_ms": 20_000, "wall_time_ms": 30_000},
        },
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    while True:
        event = json.loads(await asyncio.wait_for(ws.read_message(), 20))
        if event["type"] == "stdout":
            break
    started = time.monotonic()
    await ws.write_message(json.dumps({"type": "cancel"}))
    events = await collect(ws)
    assert time.monotonic() - started < 1.5
    assert events[-1]["result"]["verdict"] == "cancelled"
    again = await api("POST", f"executions/{run_id}/cancel")
    assert again.status == 409


async def test_cancel_by_rest_and_of_a_queued_run(api: Any) -> None:
    blockers = [
        await submit(
            api,
            {
                "language": "python",
                "source": "import time; time.sleep(30)",
                "limits": {"wall_time_ms": 40_000},
            },
        )
        for _ in range(2)
    ]
    waiting = await submit(api, {"language": "python", "source": "print('never')"})
    reply = await api("POST", f"executions/{waiting}/cancel")
    assert reply.status == 200
    assert (reply.json["status"], reply.json["verdict"]) == ("done", "cancelled")
    for run_id in blockers:
        started = time.monotonic()
        reply = await api("POST", f"executions/{run_id}/cancel")
        assert reply.status == 200
        done = await api("POST", "executions", {"language": "python", "source": "1"})
        assert done.status == 201
        final = await api("GET", f"executions/{run_id}")
        for _ in range(40):
            if final.json["status"] == "done":
                break
            await asyncio.sleep(0.05)
            final = await api("GET", f"executions/{run_id}")
        assert final.json["verdict"] == "cancelled"
        assert time.monotonic() - started < 2
    # The cancelled queued run never ran.
    assert (await api("GET", f"executions/{waiting}")).json["stdout"] == ""


async def test_batch_then_poll_by_ids(api: Any) -> None:
    runs = [
        {"language": "python", "source": f"print({i} * {i})", "expected_output": str(i * i)}
        for i in range(12)
    ]
    runs[5]["expected_output"] = "wrong"
    reply = await api("POST", "executions/batch", {"submissions": runs})
    assert reply.status == 201
    ids = reply.json["ids"]
    assert len(ids) == 12 and len(set(ids)) == 12
    deadline = time.monotonic() + 60
    while True:
        polled = await api("GET", "executions", params={"ids": ",".join(ids)})
        if all(r["status"] == "done" for r in polled.json):
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    verdicts = {r["id"]: r["verdict"] for r in polled.json}
    assert [verdicts[i] for i in ids] == ["accepted"] * 5 + ["wrong_answer"] + ["accepted"] * 6


async def test_a_bad_run_rejects_the_whole_batch(api: Any) -> None:
    runs = [{"language": "python", "source": "print(1)"}, {"language": "cobol", "source": "x"}]
    reply = await api("POST", "executions/batch", {"submissions": runs})
    assert reply.status == 422
    assert "submissions[1]" in reply.json["message"]
    assert (await api("GET", "executions")).json == []
    too_many = await api("POST", "executions/batch", {"submissions": [runs[0]] * 101})
    assert too_many.status == 422
    empty = await api("POST", "executions/batch", {"submissions": []})
    assert empty.status == 422


async def test_events_carry_only_the_callers_runs(api: Any, jp_ws_fetch: Any, bearer: Any) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    ws = await jp_ws_fetch(*API.split("/"), "events", headers=alice)
    await asyncio.sleep(0.1)
    await submit(api, {"language": "python", "source": "print('bob')"}, headers=bob)
    mine = await submit(api, {"language": "python", "source": "print('alice')"}, headers=alice)
    statuses = []
    while "done" not in statuses:
        event = json.loads(await asyncio.wait_for(ws.read_message(), 20))
        assert event["id"] == mine, "a notice about someone else's run"
        statuses.append(event["status"])
    assert statuses == ["running", "done"]
    ws.close()


async def test_sockets_check_who_is_asking(api: Any, jp_ws_fetch: Any, bearer: Any) -> None:
    run_id = await submit(
        api, {"language": "python", "source": "print(1)"}, headers=bearer("alice")
    )
    with pytest.raises(HTTPClientError) as other:
        await open_stream(jp_ws_fetch, run_id, headers=bearer("bob"))
    assert other.value.code == 404
    with pytest.raises(HTTPClientError) as no_scope:
        await open_stream(jp_ws_fetch, run_id, headers=bearer("alice", ("projects",)))
    assert no_scope.value.code == 403
    with pytest.raises(HTTPClientError) as anonymous:
        await open_stream(jp_ws_fetch, run_id, headers={"Authorization": ""})
    assert anonymous.value.code == 401


async def test_a_cookie_login_from_a_foreign_origin_is_refused(
    api: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, jp_http_port: int
) -> None:
    """Jupyter's origin check is kept: it guards cookie logins (a page on another site
    cannot attach an Authorization header, so token logins need no origin check)."""
    run_id = await submit(api, {"language": "python", "source": "print(1)"})
    login = await jp_fetch(
        *API.split("/"),
        "me",
        headers={"Authorization": ""},
        params={"token": jp_serverapp.identity_provider.token},
    )
    cookie = login.headers["Set-Cookie"].split(";")[0]
    # The login cookie is named after the host it was set for.
    no_token = {"Authorization": "", "Cookie": cookie, "Host": f"127.0.0.1:{jp_http_port}"}
    same = await open_stream(jp_ws_fetch, run_id, headers=no_token)
    assert (await collect(same))[-1]["type"] == "done"
    with pytest.raises(HTTPClientError) as foreign:
        await open_stream(
            jp_ws_fetch, run_id, headers={**no_token, "Origin": "http://evil.example"}
        )
    assert foreign.value.code == 403


async def test_stdin_to_a_non_interactive_run_is_refused(api: Any, jp_ws_fetch: Any) -> None:
    # The program runs until it is cancelled, so both refusals come while it runs
    # however busy the machine is.
    run_id = await submit(
        api,
        {
            "language": "python",
            "source": "import time\nprint('ok', flush=True)\ntime.sleep(60)",
            "limits": {"wall_time_ms": 60_000},
        },
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    await ws.write_message(json.dumps({"type": "stdin", "data": "x"}))
    await ws.write_message("not json")
    events: list[dict[str, Any]] = []
    while sum(e["type"] == "error" for e in events) < 2 or output(events) != "ok\n":
        raw = await asyncio.wait_for(ws.read_message(), 30)
        assert raw is not None, f"the socket closed too soon: {events[-3:]}"
        events.append(json.loads(raw))
    errors = [e for e in events if e["type"] == "error"]
    assert [e["reason"] for e in errors] == ["invalid", "bad_message"]
    # The refusals did not disturb the run, which printed and still runs.
    await ws.write_message(json.dumps({"type": "cancel"}))
    events += await collect(ws)
    assert events[-1]["result"]["stdout"] == "ok\n"
    assert events[-1]["result"]["verdict"] == "cancelled"
