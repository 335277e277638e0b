"""Bulk grading does not starve people's runs: the queue's two lanes, on both queue
backends, and the limits on regrades (one at a time per assignment, a per-user rate).

Order is asserted on what the workers claimed, never on wall time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from muscode_ext.queue import BULK, InProcessQueue, Queue
from muscode_ext.queue.redis import RedisQueue

from .redis_support import REDIS_URL, redis_prefix  # noqa: F401 - fixture
from .test_assignments import STAFF, start_and_write, submit
from .test_classes import enrol, make_class

# -- the queue on its own, both backends ------------------------------------------------


class Gated:
    """A job handler that records the order jobs were claimed in and holds each one
    until the test lets it go (``release``)."""

    def __init__(self) -> None:
        self.claimed: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def __call__(self, execution_id: str, **_: Any) -> None:
        self.claimed.append(execution_id)
        await self.gates.setdefault(execution_id, asyncio.Event()).wait()

    def release(self, execution_id: str) -> None:
        self.gates.setdefault(execution_id, asyncio.Event()).set()


async def until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["memory", "redis"])
def make_queue(request: pytest.FixtureRequest) -> Callable[..., Queue]:
    """``make_queue(concurrency=2, ...)``: a queue of the parametrized backend that
    runs jobs in this process (the test starts and stops it)."""

    def make(**traits: Any) -> Queue:
        if request.param == "redis":
            prefix = request.getfixturevalue("redis_prefix")
            return RedisQueue(REDIS_URL, prefix=prefix, consume=True, depth_every=0.05, **traits)
        return InProcessQueue(**traits)

    return make


async def test_a_free_worker_takes_an_interactive_job_before_waiting_bulk_ones(
    make_queue: Callable[..., Queue],
) -> None:
    handler = Gated()
    # Every worker may run bulk jobs: a big regrade takes them all.
    queue = make_queue(concurrency=2, bulk_concurrency=2)
    await queue.start(handler)
    try:
        await _interactive_first(queue, handler)
    finally:
        await queue.stop()


async def _interactive_first(queue: Queue, handler: Gated) -> None:
    bulk = [f"grade-{i}" for i in range(8)]
    for job in bulk:
        await queue.put(job, lane=BULK)
    await until(lambda: len(handler.claimed) == 2, "both workers busy with the regrade")
    assert handler.claimed == bulk[:2]
    await queue.put("print-1")  # a student's run, behind six waiting bulk jobs
    await until(lambda: queue.depth("interactive") == 1 and queue.depth() == 7, "depths")
    assert queue.depth("bulk") == 6
    handler.release(bulk[0])
    await until(lambda: len(handler.claimed) == 3, "the freed worker's next job")
    assert handler.claimed[2] == "print-1"
    for job in [*bulk, "print-1"]:
        handler.release(job)
    await until(lambda: len(handler.claimed) == 9, "every job")
    # Two workers race for the rest: which claims first is theirs to decide.
    assert handler.claimed[:3] == [*bulk[:2], "print-1"]
    assert sorted(handler.claimed[3:]) == bulk[2:]
    await until(lambda: queue.depth() == 0, "an empty queue")


async def test_bulk_jobs_leave_a_worker_free_for_interactive_ones(
    make_queue: Callable[..., Queue],
) -> None:
    handler = Gated()
    # By default one worker of two stays for interactive runs.
    queue = make_queue(concurrency=2)
    assert queue.bulk_slots == 1
    await queue.start(handler)
    try:
        await _one_worker_stays_free(queue, handler)
    finally:
        await queue.stop()


async def _one_worker_stays_free(queue: Queue, handler: Gated) -> None:
    for i in range(5):
        await queue.put(f"grade-{i}", lane=BULK)
    await until(lambda: handler.claimed == ["grade-0"], "one bulk job running")
    await queue.put("print-1")
    # Claimed at once by the free worker, though grade-0 still runs and four wait.
    await until(lambda: len(handler.claimed) == 2, "the interactive job's claim")
    assert handler.claimed == ["grade-0", "print-1"]
    handler.release("print-1")
    await queue.put("print-2")
    await until(lambda: len(handler.claimed) == 3, "the next interactive job's claim")
    assert handler.claimed[2] == "print-2"  # still no second bulk job running
    for i in range(5):
        handler.release(f"grade-{i}")
    handler.release("print-2")
    await until(lambda: len(handler.claimed) == 7, "every job")
    assert handler.claimed[3:] == [f"grade-{i}" for i in range(1, 5)]


def test_the_bulk_share_is_configurable_and_bounded() -> None:
    assert InProcessQueue(concurrency=1).bulk_slots == 1  # one worker: it does both
    assert InProcessQueue(concurrency=4).bulk_slots == 3
    assert InProcessQueue(concurrency=4, bulk_concurrency=2).bulk_slots == 2
    assert InProcessQueue(concurrency=2, bulk_concurrency=5).bulk_slots == 2
    with pytest.raises(Exception, match="bulk_concurrency must be 0"):
        InProcessQueue(bulk_concurrency=-1)


# -- through the server: a regrade and a student's run ----------------------------------

#: Each grading run takes a moment, so a regrade keeps a worker busy for a while.
SLOW_SOLUTION = "import time\ntime.sleep(0.4)\nn = int(input())\nprint(n * 2)\n"
STUDENTS = [f"s{i}" for i in range(6)]


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "Queue": {"concurrency": 2},
        "RunLimiter": {"regrade_rate": "2/minute"},
    }


async def runs_of(api: Any) -> list[dict[str, Any]]:
    """Every run (the embedded user is an admin), grading runs included."""
    reply = await api("GET", "executions", params={"limit": "200"})
    assert reply.status == 200, reply.body
    return list(reply.json)


async def wait_graded(api: Any, aid: str, headers: Any) -> None:
    for _ in range(600):
        view = (await api("GET", f"assignments/{aid}", headers=headers)).json
        if view["grading"]["pending"] == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the regrade did not finish: {view['grading']}")


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.timeout(240)
async def test_a_regrade_neither_starves_runs_nor_piles_up(api: Any, bearer: Any) -> None:
    ines = bearer("ines", STAFF)
    c = await make_class(api, ines)
    await enrol(api, c["id"], ines, **dict.fromkeys(STUDENTS, "student"))
    body = {
        "title": "Double it",
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "n = int(input())\n"}],
        "tests": [{"name": "two", "stdin": "2\n", "expected_output": "4\n", "points": 1}],
        "published": True,
    }
    reply = await api("POST", f"classes/{c['id']}/assignments", body, headers=ines)
    assert reply.status == 201, reply.body
    aid = reply.json["id"]
    for name in STUDENTS:
        student = bearer(name)
        await submit(api, aid, await start_and_write(api, aid, student, SLOW_SOLUTION), student)
    before = {r["id"] for r in await runs_of(api)}

    reply = await api("POST", f"assignments/{aid}/regrade", headers=ines)
    assert reply.status == 202 and reply.json["total"] == len(STUDENTS)
    # A second regrade while the first is being graded only doubles the backlog: 409.
    again = await api("POST", f"assignments/{aid}/regrade", headers=ines)
    assert again.status == 409, again.body
    assert again.json["reason"] == "regrade_in_progress"
    assert "already in progress" in again.json["message"]
    # A student's print(1), queued behind the regrade, is not kept waiting by it.
    alice = bearer(STUDENTS[0])
    run = await api(
        "POST",
        "executions",
        {"language": "python", "source": "print(1)"},
        headers=alice,
        params={"wait": "true", "timeout": "60"},
    )
    assert run.status == 200 and run.json["stdout"] == "1\n", run.body
    await wait_graded(api, aid, ines)

    regrade = [r for r in await runs_of(api) if r["id"] not in before and r["id"] != run.json["id"]]
    assert len(regrade) == len(STUDENTS)
    started = run.json["started_at"]
    # It started while at most the one bulk worker was on the regrade: every grading
    # run but the first began after it.
    assert sum(r["started_at"] < started for r in regrade) <= 1, (started, regrade)

    # Once the regrade is over another may start; past the per-user rate it is 429.
    assert (await api("POST", f"assignments/{aid}/regrade", headers=ines)).status == 202
    await wait_graded(api, aid, ines)
    limited = await api("POST", f"assignments/{aid}/regrade", headers=ines)
    assert limited.status == 429, limited.body
    assert "too many regrades" in limited.json["message"]
    assert int(limited.headers["Retry-After"]) >= 1
