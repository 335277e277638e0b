"""Rate limits, concurrent-run caps, queue depth, callbacks and their SSRF guard, metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

SLEEP = {
    "language": "python",
    "source": "import time; time.sleep(20)",
    "limits": {"wall_time_ms": 30_000},
}
QUICK = {"language": "python", "source": "print('hi')"}


pytestmark = pytest.mark.usefixtures("bubblewrap")


@pytest.mark.parametrize(
    "muscode_config", [{"run_rate_limit": "3/minute", "grader_rate_limit": "5/minute"}]
)
async def test_run_rate_is_429_with_retry_after(api: Any, bearer: Any) -> None:
    alice = bearer("alice")
    for _ in range(3):
        assert (await api("POST", "executions", QUICK, headers=alice)).status == 201
    refused = await api("POST", "executions", QUICK, headers=alice)
    assert refused.status == 429
    assert refused.json["reason"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 per minute" in refused.json["message"]
    # Another user, and a grader token, have their own budgets.
    assert (await api("POST", "executions", QUICK, headers=bearer("bob"))).status == 201
    grader = bearer("autograder", ("execute", "grade"))
    batch = {"submissions": [QUICK] * 5}
    assert (await api("POST", "executions/batch", batch, headers=grader)).status == 201
    assert (await api("POST", "executions", QUICK, headers=grader)).status == 429
    # Refused requests cost nothing: a bad one is 422, not 429.
    bad = await api("POST", "executions", {"language": "nope", "source": ""}, headers=alice)
    assert bad.status == 422


@pytest.mark.parametrize("muscode_config", [{"max_active_runs": 1}])
async def test_one_user_cannot_hog_the_workers(api: Any, bearer: Any) -> None:
    alice = bearer("alice")
    first = await api("POST", "executions", SLEEP, headers=alice)
    assert first.status == 201
    second = await api("POST", "executions", QUICK, headers=alice)
    assert second.status == 429
    assert "at most 1" in second.json["message"]
    assert (await api("POST", "executions", QUICK, headers=bearer("bob"))).status == 201
    await api("POST", f"executions/{first.json['id']}/cancel", headers=alice)
    for _ in range(100):
        if (await api("GET", f"executions/{first.json['id']}", headers=alice)).json[
            "status"
        ] == "done":
            break
        await asyncio.sleep(0.05)
    assert (await api("POST", "executions", QUICK, headers=alice)).status == 201


@pytest.mark.parametrize("muscode_config", [{"max_queue_depth": 1, "workers": 1}])
async def test_a_full_queue_is_503(api: Any) -> None:
    running = await api("POST", "executions", SLEEP)
    for _ in range(100):  # wait until the worker took it, so the queue is empty
        if (await api("GET", f"executions/{running.json['id']}")).json["status"] == "running":
            break
        await asyncio.sleep(0.05)
    queued = await api("POST", "executions", QUICK)
    assert queued.status == 201
    full = await api("POST", "executions", QUICK)
    assert full.status == 503
    assert full.json["reason"] == "queue_full"
    assert "full" in full.json["message"]
    await api("POST", f"executions/{running.json['id']}/cancel")


class _Receiver(RequestHandler):
    def initialize(self, log: list[dict[str, Any]], fail_first: int) -> None:
        self.record, self.fail_first = log, fail_first

    def post(self) -> None:
        self.record.append({"body": self.request.body, "headers": dict(self.request.headers)})
        self.set_status(500 if len(self.record) <= self.fail_first else 204)


SECRET = "callback-secret-" + "9" * 32


@pytest.mark.parametrize(
    "muscode_config",
    [
        {
            "callback_secret": SECRET,
            "callback_allow_hosts": ["127.0.0.1"],
            "callback_first_delay": 0.1,
        }
    ],
)
async def test_callbacks_are_signed_and_retried(api: Any) -> None:
    received: list[dict[str, Any]] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    server = HTTPServer(Application([("/hook", _Receiver, {"log": received, "fail_first": 2})]))
    server.add_sockets([sock])
    try:
        reply = await api(
            "POST",
            "executions",
            {**QUICK, "callback_url": f"http://127.0.0.1:{port}/hook"},
            params={"wait": "true"},
        )
        assert reply.json["verdict"] == "accepted"
        for _ in range(100):
            if len(received) >= 3:
                break
            await asyncio.sleep(0.05)
        assert len(received) == 3, "two failures, then one delivery"
        for delivery in received:
            body = delivery["body"]
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert delivery["headers"]["X-Muscode-Signature"] == expected
            result = json.loads(body)
            assert (result["id"], result["verdict"]) == (reply.json["id"], "accepted")
            assert result["stdout"] == "hi\n"
        await asyncio.sleep(0.5)
        assert len(received) == 3, "no delivery after a success"
    finally:
        server.stop()


BAD_CALLBACKS = [
    "http://127.0.0.1:8888/x",
    "http://localhost/x",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://0.0.0.0/x",
    "http://[fe80::1]/x",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "ftp://10.0.0.1/x",
    "http://user:secret@1.2.3.4/x",
    "http:///no-host",
    "not a url",
]


@pytest.mark.parametrize("muscode_config", [{"callback_secret": SECRET}])
async def test_callbacks_to_private_or_odd_urls_are_refused(api: Any) -> None:
    for url in BAD_CALLBACKS:
        reply = await api("POST", "executions", {**QUICK, "callback_url": url})
        assert reply.status == 422, url
        assert reply.json["errors"][0]["field"] == "callback_url", url
    assert (await api("GET", "executions")).json == []


async def test_callbacks_need_a_secret(api: Any) -> None:
    reply = await api("POST", "executions", {**QUICK, "callback_url": "http://1.2.3.4/x"})
    assert reply.status == 422
    assert "callback_secret" in reply.json["message"]


async def test_metrics_appear_on_the_servers_metrics_endpoint(api: Any, jp_fetch: Any) -> None:
    reply = await api("POST", "executions", QUICK, params={"wait": "true"})
    assert reply.json["verdict"] == "accepted"
    text = (await jp_fetch("metrics")).body.decode()
    assert 'muscode_runs_total{language="python",verdict="accepted"}' in text
    assert "muscode_queue_wait_seconds_bucket" in text
    assert 'muscode_run_duration_seconds_count{language="python"}' in text
    assert "muscode_queue_depth" in text
    assert "muscode_sandbox_failures_total" in text
