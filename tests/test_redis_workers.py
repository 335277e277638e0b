"""Runs through Redis and real ``muscode-worker`` processes, on PostgreSQL.

The server (pytest-jupyter's, with ``redis_url`` set) only queues runs; separate
worker processes, started here with the console script, run them. The tests kill
workers, restart the server's service, and stop a private Redis, and check that no run
is lost or left ``running``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection

from muscode_ext.errors import DependencyDown
from muscode_ext.queue.redis import RedisQueue
from muscode_ext.redis_common import RedisKeys
from muscode_ext.services.runner import WORKER_DIED
from muscode_ext.store import Execution, Submission

from .conftest import API, need_service
from .redis_support import (  # noqa: F401 - fixtures
    REDIS_URL,
    PrivateRedis,
    free_port,
    private_redis,
    redis_prefix,
)
from .test_live import collect

# Worker processes take a minute to start on a busy machine.
pytestmark = pytest.mark.timeout(600)

#: Seconds after which a killed worker's run is taken over (short, to keep tests quick;
#: the live workers renew their claims every third of it).
CLAIM_AFTER = 3.0
WORKER_SCRIPT = Path(sys.executable).with_name("muscode-worker")


@pytest.fixture(autouse=True)
def _needs() -> None:
    if shutil.which("bwrap") is None:
        need_service("bubblewrap", "the local sandbox needs the bwrap command")
    if not WORKER_SCRIPT.exists():
        pytest.fail(f"{WORKER_SCRIPT} is missing: reinstall the package (pip install -e .)")


@pytest.fixture
def db_url(pg_database: str) -> str:
    """Workers are other processes: they need a server database (no SQLite here)."""
    return pg_database


@pytest.fixture
def redis_url(redis_prefix: str) -> str:  # noqa: F811
    return REDIS_URL


@pytest.fixture
def muscode_config(redis_url: str, redis_prefix: str) -> dict[str, Any]:  # noqa: F811
    return {
        "redis_url": redis_url,
        "redis_prefix": redis_prefix,
        "redis_claim_after": CLAIM_AFTER,
    }


# -- workers --------------------------------------------------------------------------


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log_path = log

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def exited(self) -> bool:
        return self.proc.poll() is not None

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)


class Workers:
    """Starts ``muscode-worker`` processes against the test's database and Redis."""

    def __init__(self, db_url: str, redis_url: str, prefix: str, home: Path) -> None:
        self.args = [
            f"--MuscodeApp.db_url={db_url}",
            f"--MuscodeApp.redis_url={redis_url}",
            f"--MuscodeApp.redis_prefix={prefix}",
            f"--MuscodeApp.redis_claim_after={CLAIM_AFTER}",
            "--MuscodeApp.workers=2",
            "--WorkerApp.stop_timeout=20",
        ]
        self.home = home
        self.all: list[Worker] = []
        # Only this test's settings: no config files or MUSCODE_* variables of the
        # machine leak into the workers.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MUSCODE_")}
        self.env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )

    def start(self) -> Worker:
        log = self.home / f"worker-{len(self.all)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(WORKER_SCRIPT), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        worker = Worker(proc, log)
        self.all.append(worker)
        return worker

    async def started(self, count: int = 1, timeout: float = 180) -> list[Worker]:
        """Start ``count`` workers and wait (bounded) until each is consuming."""
        started = [self.start() for _ in range(count)]
        deadline = time.monotonic() + timeout
        for worker in started:
            while " ready: " not in worker.log():
                code = worker.proc.poll()
                assert code is None, f"the worker exited ({code}):\n{worker.log()}"
                assert time.monotonic() < deadline, f"worker not ready:\n{worker.log()}"
                await asyncio.sleep(0.1)
        return started

    def close(self) -> None:
        for worker in self.all:
            if worker.proc.poll() is None:
                worker.proc.kill()
        for worker in self.all:
            worker.proc.wait(10)


@pytest.fixture
def workers(
    db_url: str,
    redis_url: str,
    redis_prefix: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Workers]:
    pool = Workers(db_url, redis_url, redis_prefix, tmp_path)
    yield pool
    pool.close()


# -- helpers ----------------------------------------------------------------------------


def muscode(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["muscode"]


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


async def submit(api: Any, body: dict[str, Any], headers: Any = None) -> str:
    reply = await api("POST", "executions", body, headers=headers)
    assert reply.status == 201, reply.body
    return str(reply.json["id"])


async def finished(api: Any, run_id: str, timeout: float = 60) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal result
        result = (await api("GET", f"executions/{run_id}")).json
        return result["status"] == "done"

    await wait_until(done, timeout, f"execution {run_id} finished")
    return result


async def open_stream(jp_ws_fetch: Any, run_id: str) -> WebSocketClientConnection:
    return await jp_ws_fetch(*API.split("/"), "executions", run_id, "stream")  # type: ignore[no-any-return]


async def read_until(ws: WebSocketClientConnection, text: str, timeout: float = 30) -> str:
    """Stdout until ``text`` appears (the run goes on)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in {seen!r}"
        raw = await asyncio.wait_for(ws.read_message(), left)
        assert raw is not None, f"socket closed before {text!r}: {seen!r}"
        event = json.loads(raw)
        assert event["type"] != "done", event
        if event["type"] == "stdout":
            seen += event["data"]
    return seen


def output(events: list[dict[str, Any]], stream: str = "stdout") -> str:
    return "".join(e["data"] for e in events if e["type"] == stream)


async def attempts(app: Any, run_id: str) -> int:
    async with app.db.session() as s:
        row = await s.get(Execution, run_id)
        return int(row.attempts)


# -- the happy paths, across processes --------------------------------------------------


async def test_a_run_goes_through_a_worker_process(api: Any, workers: Workers) -> None:
    (worker,) = await workers.started()
    reply = await api(
        "POST",
        "executions",
        {"language": "python", "source": "print(input()[::-1])", "stdin": "olleh\n"},
        params={"wait": "true", "timeout": "60"},
    )
    assert reply.status == 200, reply.body
    result = reply.json
    assert (result["status"], result["verdict"], result["stdout"]) == (
        "done",
        "accepted",
        "hello\n",
    )

    # The worker ran it (the server has no consumer), and logged one line about it.
    async def logged() -> bool:
        return f"execution {result['id']}: python accepted" in worker.log()

    await wait_until(logged, 10, "the worker's log line")


async def test_a_worker_grades_a_submission_and_the_student_hears_of_it(
    api: Any, workers: Workers, bearer: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    """The grading run's done hook runs in the worker process; the notice crosses Redis."""
    from .test_assignments import SOLUTION, make_assignment, setup_class, start_and_write

    await workers.started()
    cid, people = await setup_class(api, bearer)
    a = await make_assignment(api, cid, people["ines"])
    pid = await start_and_write(api, a["id"], people["sam"], SOLUTION)
    ws = await jp_ws_fetch("api", "muscode", "v1", "events", headers=people["sam"])
    try:
        reply = await api(
            "POST",
            f"assignments/{a['id']}/submissions",
            {"project_id": pid},
            headers=people["sam"],
        )
        assert reply.status == 201, reply.body
        while True:
            notice = json.loads(await asyncio.wait_for(ws.read_message(), 60))
            if notice["type"] == "submission":
                break
        assert (notice["id"], notice["status"], notice["score"]) == (reply.json["id"], "graded", 10)
    finally:
        ws.close()
    # Scored by the worker already: the row says so without any read-time scoring.
    async with muscode(jp_serverapp).db.session() as s:
        row = await s.get(Submission, reply.json["id"])
        assert (row.status, row.score) == ("graded", 10)


STEPS = (
    "import sys, time\nfor i in range(8):\n    print(f'line {i}', flush=True)\n"
    "    print(f'err {i}', file=sys.stderr, flush=True)\n    time.sleep(0.15)\n"
)


async def test_output_streams_live_across_processes_with_replay(
    api: Any, jp_ws_fetch: Any, workers: Workers
) -> None:
    await workers.started()
    run_id = await submit(api, {"language": "python", "source": STEPS})
    early = await open_stream(jp_ws_fetch, run_id)
    await read_until(early, "line 2")  # part of the output happened before the late one
    late = await open_stream(jp_ws_fetch, run_id)
    first, second = await asyncio.gather(collect(early), collect(late))
    expected = "".join(f"line {i}\n" for i in range(8))
    assert first[-1]["result"]["verdict"] == "accepted"
    assert output(second) == expected
    assert output(second, "stderr") == "".join(f"err {i}\n" for i in range(8))
    seqs = [e["seq"] for e in second if "seq" in e]
    assert seqs == list(range(1, len(seqs) + 1)), "the replay has gaps or repeats"
    # The early subscriber got the same events, from its first one on.
    assert [e for e in second if e.get("seq", 0) >= first[0].get("seq", 1)][-len(first) :] == [
        e for e in first if "seq" in e
    ][-len(first) :]
    # After the end, a subscriber still gets the whole story.
    after = await collect(await open_stream(jp_ws_fetch, run_id))
    assert output(after) == expected and after[-1]["type"] == "done"


async def test_a_notebook_runs_in_a_worker_with_live_cells(
    api: Any, jp_ws_fetch: Any, workers: Workers
) -> None:
    from .notebooks.conftest import notebook

    await workers.started()
    nb = notebook("print('one')", "1 / 0", "print('two')")
    run_id = await submit(
        api,
        {
            "language": "python",
            "files": [{"path": "nb.ipynb", "content": json.dumps(nb)}],
            "main": "nb.ipynb",
        },
    )
    events = await collect(await open_stream(jp_ws_fetch, run_id), timeout=120)
    cells = [(e["index"], e["status"]) for e in events if e["type"] == "cell"]
    assert cells == [(0, "running"), (0, "ok"), (1, "running"), (1, "error")]
    assert output(events) == "one\n"
    result = events[-1]["result"]
    assert result["verdict"] == "runtime_error" and "Cell 2" in result["message"]
    assert [c["status"] for c in result["cells"]] == ["ok", "error", "not_run"]
    # Stored by the worker: a later read has the executed notebook.
    stored = (await api("GET", f"executions/{run_id}")).json
    assert stored["notebook"]["cells"][0]["outputs"][0]["text"] == "one\n"


INTERACTIVE = {
    "python": "while True:\n    try:\n        line = input()\n    except EOFError:\n"
    "        break\n    print('echo ' + line, flush=True)\n",
    "c": '#include <stdio.h>\nint main(void){int n; while (scanf("%d", &n) == 1)'
    ' { printf("echo %d\\n", n * 2); fflush(stdout); } return 0; }',
}
INPUTS = {
    "python": (["first", "second"], ["echo first", "echo second"]),
    "c": (["21", "7"], ["echo 42", "echo 14"]),
}


@pytest.mark.parametrize("language", sorted(INTERACTIVE))
async def test_interactive_stdin_reaches_a_program_in_a_worker(
    api: Any, jp_ws_fetch: Any, workers: Workers, language: str
) -> None:
    await workers.started()
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
    lines, answers = INPUTS[language]
    for line, answer in zip(lines, answers, strict=True):
        await ws.write_message(json.dumps({"type": "stdin", "data": line + "\n"}))
        await read_until(ws, answer)  # answered while still running: it read our line
    await ws.write_message(json.dumps({"type": "eof"}))
    rest = await collect(ws)
    assert rest[-1]["result"]["verdict"] == "accepted", rest[-1]
    assert rest[-1]["result"]["stdout"] == "".join(a + "\n" for a in answers)


async def test_cancel_reaches_a_program_in_a_worker(
    api: Any, jp_ws_fetch: Any, workers: Workers
) -> None:
    await workers.started()
    spin = {
        "language": "python",
        "source": "print('spinning', flush=True)\nwhile True: pass",
        "limits": {"cpu_time_ms": 20_000, "wall_time_ms": 30_000},
    }
    # Over the socket.
    run_id = await submit(api, spin)
    ws = await open_stream(jp_ws_fetch, run_id)
    await read_until(ws, "spinning")
    started = time.monotonic()
    await ws.write_message(json.dumps({"type": "cancel"}))
    events = await collect(ws)
    assert time.monotonic() - started < 1.5
    assert events[-1]["result"]["verdict"] == "cancelled"
    # Over REST.
    run_id = await submit(api, spin)
    ws = await open_stream(jp_ws_fetch, run_id)
    await read_until(ws, "spinning")
    started = time.monotonic()
    assert (await api("POST", f"executions/{run_id}/cancel")).status == 200
    events = await collect(ws)
    assert time.monotonic() - started < 1.5
    assert events[-1]["result"]["verdict"] == "cancelled"
    assert (await api("POST", f"executions/{run_id}/cancel")).status == 409


# -- failures ---------------------------------------------------------------------------

SLOW = {
    "language": "python",
    "source": "import time\nprint('started', flush=True)\ntime.sleep(4)\nprint('finished')",
    "limits": {"wall_time_ms": 30_000},
}


async def running_on(workers: Workers, url: str, prefix: str, run_id: str) -> Worker:
    """The worker whose consumer holds ``run_id``'s queue entry (consumer names carry
    the process id)."""
    keys = RedisKeys(prefix)
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        for entry in await client.xpending_range(keys.jobs, keys.group, "-", "+", 100):
            fields = await client.xrange(keys.jobs, entry["message_id"], entry["message_id"])
            if fields and fields[0][1].get("id") == run_id:
                pid = int(entry["consumer"].split("-")[-2])
                (worker,) = [w for w in workers.all if w.proc.pid == pid]
                return worker
    finally:
        await client.aclose()
    raise AssertionError(f"no worker holds {run_id}")


async def test_a_run_whose_worker_is_killed_is_run_again_by_another(
    api: Any,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    workers: Workers,
    redis_url: str,
    redis_prefix: str,  # noqa: F811
) -> None:
    await workers.started(2)
    run_id = await submit(api, SLOW)
    await read_until(await open_stream(jp_ws_fetch, run_id), "started")
    doomed = await running_on(workers, redis_url, redis_prefix, run_id)
    doomed.signal(signal.SIGKILL)
    (other,) = [w for w in workers.all if w is not doomed]
    # The other worker takes it over after CLAIM_AFTER and runs it once more.
    result = await finished(api, run_id, timeout=CLAIM_AFTER * 4 + 30)
    assert (result["verdict"], result["stdout"]) == ("accepted", "started\nfinished\n"), result
    assert await attempts(muscode(jp_serverapp), run_id) == 2
    assert "taken over" in other.log()


async def test_a_run_whose_workers_die_twice_ends_as_internal_error(
    api: Any,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    workers: Workers,
    redis_url: str,
    redis_prefix: str,  # noqa: F811
) -> None:
    app = muscode(jp_serverapp)
    body = {**SLOW, "source": "import time\nprint('started', flush=True)\ntime.sleep(60)"}
    body["limits"] = {"wall_time_ms": 60_000}
    await workers.started(2)
    run_id = await submit(api, body)
    await read_until(await open_stream(jp_ws_fetch, run_id), "started")
    first = await running_on(workers, redis_url, redis_prefix, run_id)
    first.signal(signal.SIGKILL)

    async def retried() -> bool:
        return await attempts(app, run_id) == 2

    await wait_until(retried, CLAIM_AFTER * 4 + 20, "the second attempt")
    (third,) = await workers.started()
    second = await running_on(workers, redis_url, redis_prefix, run_id)
    assert second is not first and second is not third
    second.signal(signal.SIGKILL)
    result = await finished(api, run_id, timeout=CLAIM_AFTER * 4 + 30)
    assert result["verdict"] == "internal_error"
    assert result["message"] == WORKER_DIED
    assert third.proc.poll() is None


async def test_a_stopped_worker_lets_its_run_finish(
    api: Any, jp_ws_fetch: Any, workers: Workers
) -> None:
    (worker,) = await workers.started()
    run_id = await submit(api, SLOW)
    await read_until(await open_stream(jp_ws_fetch, run_id), "started")
    worker.signal(signal.SIGTERM)
    result = await finished(api, run_id, timeout=30)
    assert (result["verdict"], result["stdout"]) == ("accepted", "started\nfinished\n")
    await wait_until(worker.exited, 30, "the worker's exit")
    assert worker.proc.returncode == 0, worker.log()
    assert "muscode-worker stopped" in worker.log()


async def test_queued_runs_survive_a_server_restart(
    api: Any,
    jp_serverapp: Any,
    workers: Workers,
    redis_prefix: str,  # noqa: F811
) -> None:
    app = muscode(jp_serverapp)
    ids = [await submit(api, {"language": "python", "source": f"print({n} * 3)"}) for n in range(4)]
    await asyncio.sleep(0.5)
    for run_id in ids:  # no worker yet: they wait
        assert (await api("GET", f"executions/{run_id}")).json["status"] == "queued"
    # The server goes away; so does Redis's copy of the queue (the hardest case: only
    # the database remembers the runs).
    await app.executions.stop()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert await client.delete(RedisKeys(redis_prefix).jobs) == 1
    finally:
        await client.aclose()
    # The server starts again (re-queuing what was queued), then a worker does.
    await app.executions.start()
    await workers.started()
    for n, run_id in enumerate(ids):
        result = await finished(api, run_id, timeout=60)
        assert (result["verdict"], result["stdout"]) == ("accepted", f"{n * 3}\n")
        assert await attempts(app, run_id) == 1


class TestRedisOutage:
    """Redis stops and starts again (a private server: the shared one stays up)."""

    @pytest.fixture
    def redis_url(self, private_redis: PrivateRedis) -> str:  # noqa: F811
        return private_redis.url

    async def test_503_naming_redis_while_down_then_recovery_without_restart(
        self,
        api: Any,
        workers: Workers,
        private_redis: PrivateRedis,  # noqa: F811
    ) -> None:
        (worker,) = await workers.started()
        hello = {"language": "python", "source": "print('hi')"}
        assert (await finished(api, await submit(api, hello)))["verdict"] == "accepted"

        # Runs queued while no worker runs...
        worker.signal(signal.SIGTERM)
        await wait_until(worker.exited, 30, "the worker's exit")
        assert worker.proc.returncode == 0, worker.log()
        waiting = [await submit(api, hello) for _ in range(2)]
        # ...then Redis dies and comes back empty.
        private_redis.stop()
        reply = await api("POST", "executions", hello)
        assert reply.status == 503, reply.body
        assert "redis" in reply.json["reason"], reply.json
        health = await api("GET", "health", headers={"Authorization": ""})
        assert health.json["checks"]["queue"].startswith("unavailable"), health.json
        assert "Redis" in health.json["checks"]["queue"]
        await private_redis.restart()

        # Without restarting the server: it takes runs again...
        async def accepted() -> bool:
            reply = await api("POST", "executions", hello)
            assert reply.status in (201, 503), reply.body
            if reply.status == 201:
                waiting.append(reply.json["id"])
            return reply.status == 201

        await wait_until(accepted, 30, "submissions accepted after Redis came back")
        health = await api("GET", "health", headers={"Authorization": ""})
        assert health.json["checks"]["queue"] == "ok"
        # ...and a worker started now runs them all, the ones Redis forgot included.
        await workers.started()
        for run_id in waiting:
            assert (await finished(api, run_id, timeout=60))["verdict"] == "accepted"

    async def test_a_running_worker_rides_out_an_outage(
        self,
        api: Any,
        workers: Workers,
        private_redis: PrivateRedis,  # noqa: F811
    ) -> None:
        (worker,) = await workers.started()
        private_redis.stop()
        await asyncio.sleep(1.5)  # the worker's consumers fail and back off meanwhile
        await private_redis.restart()

        async def submitted() -> bool:
            return (
                await api("POST", "executions", {"language": "python", "source": "1"})
            ).status == 201

        await wait_until(submitted, 30, "submissions accepted after Redis came back")
        run_id = await submit(api, {"language": "python", "source": "print(6 * 7)"})
        result = await finished(api, run_id, timeout=60)
        assert (result["verdict"], result["stdout"]) == ("accepted", "42\n")
        assert worker.proc.poll() is None
        assert "Redis is back" in worker.log()


# -- load -------------------------------------------------------------------------------


@pytest.mark.timeout(420)
async def test_500_runs_from_50_clients_on_two_workers(
    api: Any, workers: Workers, bearer: Any, jp_http_port: int, jp_base_url: str
) -> None:
    await workers.started(2)
    http = AsyncHTTPClient(force_instance=True, max_clients=50)
    base = f"http://localhost:{jp_http_port}{jp_base_url}{API}"
    expected: dict[str, str] = {}
    statuses: list[int] = []
    started = time.monotonic()

    async def client(i: int) -> None:
        # Grader tokens: a per-user cap on active runs would (rightly) say 429 to a
        # student with ten runs at once.
        headers = {**bearer(f"grader{i}", ("execute", "grade")), "Content-Type": "application/json"}
        for j in range(10):
            n = i * 10 + j
            wrong = n % 7 == 0
            body = {
                "language": "python",
                "source": f"print({n} * {n})",
                "expected_output": "nope" if wrong else str(n * n),
            }
            response = await http.fetch(
                HTTPRequest(
                    f"{base}/executions", "POST", headers, json.dumps(body), request_timeout=120
                ),
                raise_error=False,
            )
            statuses.append(response.code)
            assert response.code == 201, response.body
            expected[json.loads(response.body)["id"]] = "wrong_answer" if wrong else "accepted"

    try:
        await asyncio.gather(*(client(i) for i in range(50)))
        assert len(expected) == 500 and set(statuses) == {201}
        submitted = time.monotonic() - started
        verdicts: dict[str, str] = {}

        async def all_done() -> bool:
            ids = [k for k in expected if k not in verdicts]
            for chunk in range(0, len(ids), 100):
                part = ids[chunk : chunk + 100]
                reply = await api(
                    "GET",
                    "executions",
                    params={"ids": ",".join(part), "limit": "100"},
                    validate=False,
                )
                assert reply.status == 200, reply.body
                for run in reply.json:
                    if run["status"] == "done":
                        verdicts[run["id"]] = run["verdict"]
            return len(verdicts) == len(expected)

        await wait_until(all_done, 300, "500 runs finished")
        took = time.monotonic() - started
        print(f"500 runs: submitted in {submitted:.1f} s, all done in {took:.1f} s")
        assert verdicts == expected
    finally:
        http.close()


# -- the queue on its own ---------------------------------------------------------------


class Recorder:
    """A job handler that records what it was given; ``hold`` makes chosen jobs wait."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.hold: dict[str, asyncio.Event] = {}

    async def __call__(self, execution_id: str, *, redelivered: bool = False) -> None:
        self.calls.append((execution_id, redelivered))
        gate = self.hold.get(execution_id)
        if gate is not None:
            await gate.wait()

    def ids(self) -> list[str]:
        return [i for i, _ in self.calls]


def queue(prefix: str, url: str = REDIS_URL, **kwargs: Any) -> RedisQueue:
    kwargs.setdefault("depth_every", 0.1)
    return RedisQueue(url, prefix=prefix, **kwargs)


async def test_queue_hands_each_job_out_once_and_counts_what_waits(
    redis_prefix: str,  # noqa: F811
) -> None:
    server = queue(redis_prefix)
    worker = queue(redis_prefix, consume=True, concurrency=2)
    handled = Recorder()
    try:
        await server.start(handled)  # consume=False: never calls it
        for i in range(5):
            await server.put(f"job{i}")

        async def counted() -> bool:
            return server.depth() == 5

        await wait_until(counted, 5, "depth 5")
        assert await server.live_consumers() == 0  # nobody would run them
        await worker.start(handled)

        async def all_handled() -> bool:
            return len(handled.calls) >= 5 and server.depth() == 0

        await wait_until(all_handled, 10, "5 jobs handled")
        await asyncio.sleep(0.3)
        assert sorted(handled.calls) == [(f"job{i}", False) for i in range(5)]
        assert await server.live_consumers() == 1  # one process, however many tasks
        client = aioredis.Redis.from_url(REDIS_URL)
        try:  # acknowledged entries are deleted: the stream holds only waiting ones
            assert await client.xlen(RedisKeys(redis_prefix).jobs) == 0
        finally:
            await client.aclose()
    finally:
        await worker.stop()
        await server.stop()


async def test_a_live_workers_long_job_stays_and_a_dead_ones_moves(
    redis_prefix: str,  # noqa: F811
) -> None:
    first = queue(redis_prefix, consume=True, concurrency=1, claim_after=1.0)
    second = queue(redis_prefix, consume=True, concurrency=1, claim_after=1.0)
    on_first, on_second = Recorder(), Recorder()
    on_first.hold = {"long": asyncio.Event()}  # never set: the job outlives its worker
    try:
        await first.start(on_first)
        await first.put("long")

        async def taken() -> bool:
            return "long" in on_first.ids()

        await wait_until(taken, 10, "the first worker took the job")
        await second.start(on_second)
        await asyncio.sleep(2.5)  # > claim_after: renewals keep the job with its worker
        assert on_second.calls == []
        await first.stop()  # the worker goes away without finishing it...

        async def moved() -> bool:
            return bool(on_second.calls)

        await wait_until(moved, 10, "the job moved to the live worker")  # ...so it moves
        assert on_second.calls == [("long", True)]
    finally:
        await first.stop()
        await second.stop()


async def test_a_lost_queue_is_rebuilt_and_reported(redis_prefix: str) -> None:  # noqa: F811
    worker = queue(redis_prefix, consume=True, concurrency=1)
    handled = Recorder()
    resets = 0

    async def on_reset() -> None:
        nonlocal resets
        resets += 1

    worker.on_reset = on_reset
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await worker.start(handled)

        async def reset_seen(n: int) -> bool:
            return resets >= n

        await wait_until(lambda: reset_seen(1), 10, "the first start makes the group")
        # Redis loses its data (a restart without persistence).
        assert await client.delete(worker.keys.jobs) == 1
        await worker.put("after")  # the server's XADD makes a stream without a group

        async def handled_after() -> bool:
            return "after" in handled.ids()

        await wait_until(handled_after, 15, "the job put after the loss")
        assert resets == 2
    finally:
        await client.aclose()
        await worker.stop()


async def test_redis_down_is_reported_and_survived(redis_prefix: str) -> None:  # noqa: F811
    down = queue(redis_prefix, url=f"redis://127.0.0.1:{free_port()}/0")
    consumer = queue(down.keys.prefix, url=down.url, consume=True)
    try:
        with pytest.raises(DependencyDown) as caught:
            await down.put("x")
        assert (caught.value.status, caught.value.reason) == (503, "redis_unavailable")
        assert "Redis" in caught.value.message
        problem = await down.check()
        assert problem is not None and "does not answer" in problem
        await consumer.start(Recorder())  # consumers wait for Redis; nothing crashes
        await asyncio.sleep(0.5)
        assert all(not t.done() for t in consumer._consumers)
        assert down.depth() == 0
    finally:
        await consumer.stop()
        await down.stop()
