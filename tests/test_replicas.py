"""Two API replicas on one PostgreSQL and one Redis behave as one server.

Each test starts two ``jupyter-muscode`` processes (replicas A and B) and, where runs
must run, ``muscode-worker`` processes, all on the test's own database and Redis key
prefix (:mod:`tests.replica_support`). What one replica starts, the other shows and
controls: live output, stdin and cancel, rate limits and active-run caps, regrades (one
at a time, their progress), the audit log; and a run's callback is sent once whoever
finishes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketClientConnection

from .conftest import need_bubblewrap
from .redis_support import REDIS_URL, free_port, redis_prefix  # noqa: F401 - fixtures
from .replica_support import SERVER_TOKEN, Cluster, Replica, cluster, wait_until  # noqa: F401
from .test_assignments import SOLUTION, STAFF, make_assignment, setup_class, start_and_write
from .test_socket_credentials import closed_with

# Slow to start on a busy 2-core machine: two servers and a worker at once.
pytestmark = [pytest.mark.timeout(600)]

CALLBACK_SECRET = "replica-callback-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    need_bubblewrap()


# -- helpers ------------------------------------------------------------------------------


async def submit(replica: Replica, body: dict[str, Any], headers: dict[str, str]) -> str:
    reply = await replica.api("POST", "executions", body, headers=headers)
    assert reply.status == 201, reply.body
    return str(reply.json["id"])


async def next_event(ws: WebSocketClientConnection, timeout: float = 30) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.read_message(), timeout)
    assert raw is not None, "the socket closed"
    return dict(json.loads(raw))


async def read_until(ws: WebSocketClientConnection, text: str, timeout: float = 60) -> str:
    """Stdout until ``text`` appears; the run must still be going."""
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in {seen!r}"
        event = await next_event(ws, left)
        assert event["type"] != "done", (seen, event)
        if event["type"] == "stdout":
            seen += event["data"]
    return seen


async def until_done(ws: WebSocketClientConnection, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event = await next_event(ws, max(0.1, deadline - time.monotonic()))
        if event["type"] == "done":
            return dict(event["result"])


# -- live runs across replicas ----------------------------------------------------------

ECHO = (
    "print('ready', flush=True)\n"
    "while True:\n    try:\n        line = input()\n    except EOFError:\n        break\n"
    "    print('echo ' + line, flush=True)\n"
)


async def test_a_run_submitted_on_a_streams_live_on_b_with_stdin_and_cancel(
    cluster: Cluster,  # noqa: F811
    bearer: Any,
) -> None:
    (a, b), _ = await cluster.up(replicas=2, workers=1)
    sam = bearer("sam")
    run_id = await submit(a, {"language": "python", "source": ECHO, "interactive": True}, sam)

    ws = await b.ws(f"executions/{run_id}/stream", sam)
    try:
        await read_until(ws, "ready")  # printed live: the run is still going
        ws.write_message(json.dumps({"type": "stdin", "data": "from b\n"}))
        await read_until(ws, "echo from b")
        # The run is still waiting for input; A sees it running.
        running = await a.api("GET", f"executions/{run_id}", headers=sam)
        assert running.json["status"] == "running", running.json
        ws.write_message(json.dumps({"type": "cancel"}))
        result = await until_done(ws)
    finally:
        ws.close()
    assert result["verdict"] == "cancelled", result
    on_a = (await a.api("GET", f"executions/{run_id}", headers=sam)).json
    assert (on_a["status"], on_a["verdict"]) == ("done", "cancelled")

    # A REST cancel on B stops a run submitted on A as well, watched from A.
    second = await submit(a, {"language": "python", "source": ECHO, "interactive": True}, sam)
    watch = await a.ws(f"executions/{second}/stream", sam)
    try:
        await read_until(watch, "ready")
        reply = await b.api("POST", f"executions/{second}/cancel", headers=sam)
        assert reply.status == 200, reply.body
        assert (await until_done(watch))["verdict"] == "cancelled"
    finally:
        watch.close()


# -- back-pressure across replicas -------------------------------------------------------


@pytest.fixture
def limits_args() -> list[str]:
    return ["--RunLimiter.user_rate=4/minute", "--RunLimiter.max_active_runs=2"]


async def test_rate_limits_and_active_run_caps_are_shared_by_the_replicas(
    pg_database: str,
    redis_prefix: str,  # noqa: F811
    tmp_path: Path,
    limits_args: list[str],
    bearer: Any,
) -> None:
    pool = Cluster(pg_database, REDIS_URL, redis_prefix, tmp_path, limits_args)
    try:
        a, b = await pool.replicas(2)
        # No worker: runs stay queued, so they count as active until cancelled.
        body = {"language": "python", "source": "print(1)"}

        cap = bearer("cap")
        await submit(a, body, cap)
        second = await submit(b, body, cap)
        for replica in (a, b):
            reply = await replica.api("POST", "executions", body, headers=cap)
            assert reply.status == 429, (replica.name, reply.body)
            assert "at most 2 at a time" in reply.json["message"], reply.json
        # One cancelled on B frees a place on A.
        assert (await b.api("POST", f"executions/{second}/cancel", headers=cap)).status == 200
        await submit(a, body, cap)

        rita = bearer("rita")
        for i in range(4):  # the rate: 4 a minute, whichever replica counts them
            here, there = (a, b) if i % 2 == 0 else (b, a)
            run = await submit(here, body, rita)
            assert (await there.api("POST", f"executions/{run}/cancel", headers=rita)).status == 200
        for replica in (a, b):
            reply = await replica.api("POST", "executions", body, headers=rita)
            assert reply.status == 429, (replica.name, reply.body)
            assert "4 per minute" in reply.json["message"], reply.json
            assert int(reply.headers["Retry-After"]) >= 1
    finally:
        pool.close()


# -- regrades across replicas ------------------------------------------------------------


async def test_revoking_a_token_on_a_closes_its_sockets_on_b(
    cluster: Cluster,  # noqa: F811
) -> None:
    a, b = await cluster.replicas(2)
    session = {"Authorization": f"token {SERVER_TOKEN}"}
    minted = await a.api(
        "POST",
        "tokens",
        {"name": "script", "scopes": ["execute"], "expires_in": 600},
        headers=session,
    )
    assert minted.status == 201, minted.body
    auth = {"Authorization": f"Bearer {minted.json['token']}"}
    # No worker: the run stays queued, its stream open on B.
    run = await submit(b, {"language": "python", "source": "print(1)"}, auth)
    stream = await b.ws(f"executions/{run}/stream", auth)
    notices = await b.ws("events", auth)

    revoked_at = time.monotonic()
    assert (await a.api("DELETE", f"tokens/{minted.json['id']}", headers=session)).status == 204
    codes = await asyncio.gather(closed_with(stream, 2), closed_with(notices, 2))
    assert codes == [4401, 4401]
    assert time.monotonic() - revoked_at < 2
    # And B refuses the token from now on, as A does.
    assert (await b.api("GET", f"executions/{run}", headers=auth)).status == 401


async def test_regrade_progress_is_seen_on_both_replicas(
    cluster: Cluster,  # noqa: F811
    bearer: Any,
) -> None:
    (a, b), _ = await cluster.up(replicas=2, workers=1)
    cid, people = await setup_class(a.api, bearer)
    assignment = await make_assignment(b.api, cid, people["ines"])
    aid = assignment["id"]
    for student, replica in (("sam", a), ("sue", b)):
        pid = await start_and_write(replica.api, aid, people[student], SOLUTION)
        reply = await replica.api(
            "POST",
            f"assignments/{aid}/submissions",
            {"project_id": pid},
            headers=people[student],
            params={"wait": "true", "timeout": "60"},
        )
        assert reply.status == 200 and reply.json["status"] == "graded", reply.body

    # The instructor watches their notices on both replicas and regrades on A and on B
    # at the same moment: one regrade is admitted, the other finds it in progress.
    sockets = {r.name: await r.ws("events", people["ines"]) for r in (a, b)}
    try:
        replies = await asyncio.gather(
            *(r.api("POST", f"assignments/{aid}/regrade", headers=people["ines"]) for r in (a, b))
        )
        assert sorted(r.status for r in replies) == [202, 409], [r.body for r in replies]
        reply = next(r for r in replies if r.status == 202)
        refused = next(r for r in replies if r.status == 409)
        assert refused.json["reason"] == "regrade_in_progress", refused.body
        assert reply.json["total"] == 2

        async def last_progress(ws: WebSocketClientConnection) -> dict[str, Any]:
            while True:
                notice = await next_event(ws, 60)
                if notice["type"] == "regrade" and notice["pending"] == 0:
                    return notice

        finals = await asyncio.gather(*(last_progress(ws) for ws in sockets.values()))
    finally:
        for ws in sockets.values():
            ws.close()
    for notice in finals:
        assert (notice["assignment_id"], notice["total"], notice["pending"]) == (aid, 2, 0)
    # And the assignment's own progress reads the same on either replica.
    for replica in (a, b):
        got = (await replica.api("GET", f"assignments/{aid}", headers=people["ines"])).json
        assert (got["grading"]["total"], got["grading"]["pending"]) == (2, 0), got


# -- callbacks ---------------------------------------------------------------------------


class _Receiver(RequestHandler):
    def initialize(self, got: list[tuple[dict[str, str], bytes]]) -> None:
        self.got = got

    def post(self) -> None:
        self.got.append((dict(self.request.headers), self.request.body))
        self.write("ok")


class Grader:
    """An HTTP endpoint on 127.0.0.1 that records the callbacks it gets."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        self.server = HTTPServer(Application([(r"/cb", _Receiver, {"got": self.got})]))
        self.server.listen(self.port, "127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}/cb"

    def results(self) -> list[dict[str, Any]]:
        out = []
        for headers, body in self.got:
            mac = hmac.new(CALLBACK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Muscode-Signature"] == "sha256=" + mac
            out.append(json.loads(body))
        return out


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    """The audit log every process of the cluster appends to (in the compose stack: the
    ``audit-log`` volume that replicas and workers share)."""
    return tmp_path / "shared" / "audit.jsonl"


@pytest.fixture
def replica_args(audit_file: Path) -> list[str]:
    return [
        f"--MuscodeApp.audit_log={audit_file}",
        f"--CallbackSender.secret={CALLBACK_SECRET}",
        "--CallbackSender.allow_hosts=127.0.0.1",
        "--CallbackSender.first_delay=0.2",
    ]


@pytest.fixture
def grader() -> Iterator[Grader]:
    yield (receiver := Grader())
    receiver.server.stop()


async def test_a_run_cancelled_while_queued_sends_its_callback_once(
    cluster: Cluster,  # noqa: F811
    bearer: Any,
    grader: Grader,
) -> None:
    a, b = await cluster.replicas(2)
    sam = bearer("sam")
    # No worker yet: the run waits in the queue.
    body = {"language": "python", "source": "print(1)", "callback_url": grader.url}
    run_id = await submit(a, body, sam)
    reply = await b.api("POST", f"executions/{run_id}/cancel", headers=sam)
    assert reply.status == 200 and reply.json["verdict"] == "cancelled", reply.body

    async def called() -> bool:
        return len(grader.got) >= 1

    await wait_until(called, 30, "the cancelled run's callback")
    (result,) = grader.results()
    assert (result["id"], result["status"], result["verdict"]) == (run_id, "done", "cancelled")

    # A worker that starts now finds the run in the queue, finished: it neither runs it
    # nor calls back.
    (worker,) = await cluster.workers(1)

    async def skipped() -> bool:
        return f"execution {run_id}: already taken (done), skipped" in worker.log()

    await wait_until(skipped, 30, "the worker skipping the cancelled run")
    assert len(grader.got) == 1


SLOW = "import time\nprint('start', flush=True)\ntime.sleep(4)\nprint('end', flush=True)\n"


async def test_a_callback_is_sent_once_when_two_workers_finish_one_run(
    cluster: Cluster,  # noqa: F811
    bearer: Any,
    grader: Grader,
) -> None:
    """A worker frozen mid-run loses its run to another worker, which finishes it and
    calls back; the frozen one wakes, finishes it too, and must not call back again."""
    (a, b), (first,) = await cluster.up(replicas=2, workers=1)
    sam = bearer("sam")
    body = {"language": "python", "source": SLOW, "callback_url": grader.url}
    run_id = await submit(a, body, sam)
    ws = await b.ws(f"executions/{run_id}/stream", sam)
    try:
        await read_until(ws, "start")  # the first worker runs it
    finally:
        ws.close()
    first.signal(signal.SIGSTOP)
    try:
        await cluster.workers(1)  # takes the run over once the first one's claim lapses

        async def called() -> bool:
            return len(grader.got) >= 1

        await wait_until(called, 60, "the callback of the run taken over")
    finally:
        first.signal(signal.SIGCONT)

    async def first_finished() -> bool:
        # Either outcome ends the wait: it called back again, or it found the claim taken.
        return len(grader.got) > 1 or f"callback of execution {run_id}: already sent" in first.log()

    await wait_until(first_finished, 90, "the first worker finishing the run too")
    results = grader.results()
    assert [r["id"] for r in results] == [run_id], results
    assert results[0]["verdict"] == "accepted" and results[0]["stdout"] == "start\nend\n"
    row = (await b.api("GET", f"executions/{run_id}", headers=sam)).json
    assert row["status"] == "done", row


# -- the audit log ------------------------------------------------------------------------


async def test_the_audit_log_holds_what_every_replica_and_worker_did(
    cluster: Cluster,  # noqa: F811
    bearer: Any,
    audit_file: Path,
) -> None:
    (a, b), _ = await cluster.up(replicas=2, workers=1)
    ines = bearer("ines", STAFF)

    async def create(replica: Replica, slug: str) -> str:
        reply = await replica.api("POST", "classes", {"slug": slug, "name": slug}, headers=ines)
        assert reply.status == 201, reply.body
        return str(reply.json["id"])

    # Both replicas at once, so that their lines meet in the file.
    slugs = [f"{r.name.lower()}{i}" for i in range(10) for r in (a, b)]
    ids = await asyncio.gather(*(create(a if s[0] == "a" else b, s) for s in slugs))
    reply = await b.api(
        "POST",
        f"classes/{ids[0]}/members",
        {"members": [{"name": "sam", "role": "student"}]},
        headers=ines,
    )
    assert reply.status == 200, reply.body
    sam = bearer("sam")
    run_id = await submit(a, {"language": "python", "source": "print(1)"}, sam)

    def events() -> list[dict[str, Any]]:
        lines = audit_file.read_text().splitlines() if audit_file.exists() else []
        return [json.loads(line) for line in lines]  # each line whole: none interleaved

    async def run_logged() -> bool:
        return any(e.get("run_id") == run_id and e["action"] == "finish" for e in events())

    await wait_until(run_logged, 60, "the worker's audit event of the run")
    seen = events()
    created = {e["slug"]: e for e in seen if e["action"] == "create" and "slug" in e}
    assert sorted(created) == sorted(slugs), created
    assert all(e["outcome"] == "success" and e["actor"] == "ines" for e in created.values())
    (roster,) = [e for e in seen if e["action"] == "add"]
    assert (roster["class_id"], roster["actor"]) == (ids[0], "ines")
    run_events = [(e["action"], e["actor"]) for e in seen if e.get("run_id") == run_id]
    assert run_events == [("start", "sam"), ("finish", "sam")], run_events
