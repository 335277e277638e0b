"""Interactive runs through the server: the idle limit (``limits.idle_ms``) is checked,
stored and told to the live channel; a stopped run reports what it used."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from .test_live import collect, open_stream, output, submit

pytestmark = pytest.mark.usefixtures("bubblewrap")

ASK = "name = input('name?\\n')\nprint('hello ' + name, flush=True)\n"


async def test_bad_idle_limits_are_refused_with_what_to_fix(api: Any) -> None:
    ok = {"language": "python", "source": ASK, "interactive": True}
    for idle, status, mention in [
        (0, 422, "limits.idle_ms"),
        (-5, 422, "limits.idle_ms"),
        ("five minutes", 422, "limits.idle_ms"),
        (1.5, 422, "limits.idle_ms"),
        (1_800_001, 422, "must be at most 1800000"),
    ]:
        reply = await api("POST", "executions", {**ok, "limits": {"idle_ms": idle}})
        assert reply.status == status, (idle, reply.status, reply.body[:300])
        body = reply.json
        assert mention in json.dumps(body), (idle, body)
        assert any(e["field"] == "limits.idle_ms" for e in body["errors"]), body


async def test_the_running_status_tells_the_idle_limit(api: Any, jp_ws_fetch: Any) -> None:
    run_id = await submit(
        api,
        {"language": "python", "source": ASK, "interactive": True, "limits": {"idle_ms": 90_000}},
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    events: list[dict[str, Any]] = []
    while "name?" not in output(events):
        raw = await asyncio.wait_for(ws.read_message(), 30)
        assert raw is not None, events[-3:]
        events.append(json.loads(raw))
    await ws.write_message(json.dumps({"type": "stdin", "data": "Ada\n"}))
    events += await collect(ws)
    running = [e for e in events if e["type"] == "status" and e["status"] == "running"]
    assert running and all(e["idle_ms"] == 90_000 for e in running), events
    result = events[-1]["result"]
    assert result["verdict"] == "accepted", result
    assert result["limits"]["idle_ms"] == 90_000


async def test_a_run_with_stdin_up_front_has_no_idle_limit_in_its_status(
    api: Any, jp_ws_fetch: Any
) -> None:
    run_id = await submit(api, {"language": "python", "source": ASK, "stdin": "Ada\n"})
    events = await collect(await open_stream(jp_ws_fetch, run_id))
    statuses = [e for e in events if e["type"] == "status"]
    assert statuses and all("idle_ms" not in e for e in statuses), events
    assert events[-1]["result"]["stdout"] == "name?\nhello Ada\n"
    # The stored limits still say what the default would have been.
    assert events[-1]["result"]["limits"]["idle_ms"] == 300_000


async def test_a_stopped_run_reports_what_it_used(api: Any, jp_ws_fetch: Any) -> None:
    run_id = await submit(
        api,
        {
            "language": "python",
            "source": "block = b'x' * (64 << 20)\nprint('busy', flush=True)\nwhile True: pass\n",
            "limits": {"cpu_time_ms": 20_000, "wall_time_ms": 30_000},
        },
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    events: list[dict[str, Any]] = []
    while "busy" not in output(events):
        raw = await asyncio.wait_for(ws.read_message(), 30)
        assert raw is not None, events[-3:]
        events.append(json.loads(raw))
    reply = await api("POST", f"executions/{run_id}/cancel")
    assert reply.status == 200, reply.body
    events += await collect(ws)
    result = events[-1]["result"]
    assert result["verdict"] == "cancelled", result
    assert result["time_ms"] > 0 and result["wall_time_ms"] > 0, result
    assert result["memory_kb"] > 32 * 1024, result
    stored = (await api("GET", f"executions/{run_id}")).json
    assert (stored["time_ms"], stored["memory_kb"]) == (result["time_ms"], result["memory_kb"])
