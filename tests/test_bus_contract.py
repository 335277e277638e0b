"""The event bus contract, run against every implementation (in-process and Redis).

Each test gets a pair of buses, ``a`` and ``b``: the same object for the in-process
bus, two clients of the same Redis key space for the Redis bus, as a worker and a
server process would be. Events go in on one and are read on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from muscode_ext.errors import DependencyDown, TooLarge
from muscode_ext.events import EventBus, InProcessEventBus
from muscode_ext.events.redis import RedisEventBus
from muscode_ext.redis_common import RedisKeys

from .redis_support import REDIS_URL, free_port, redis_prefix  # noqa: F401 - fixture

Pair = Callable[..., contextlib.AbstractAsyncContextManager[tuple[EventBus, EventBus]]]


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def buses(kind: str, request: pytest.FixtureRequest) -> Pair:
    """``async with buses(retention=...) as (a, b)``."""
    prefix = request.getfixturevalue("redis_prefix") if kind == "redis" else ""

    @contextlib.asynccontextmanager
    async def pair(
        retention: float = 300.0, **options: Any
    ) -> AsyncIterator[tuple[EventBus, EventBus]]:
        if kind == "memory":
            bus = InProcessEventBus(retention=retention, **options)
            try:
                yield bus, bus
            finally:
                await bus.close()
            return
        a = RedisEventBus(REDIS_URL, prefix=prefix, retention=retention, **options)
        b = RedisEventBus(REDIS_URL, prefix=prefix, retention=retention, **options)
        try:
            yield a, b
        finally:
            await a.close()
            await b.close()

    return pair


async def gather_events(
    bus: EventBus, execution_id: str, after: int = 0, timeout: float = 10
) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [e async for e in bus.subscribe(execution_id, after)]

    return await asyncio.wait_for(run(), timeout)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def assert_contiguous(events: list[dict[str, Any]], first: int = 1) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(first, first + len(seqs))), f"gaps or repeats: {seqs}"


# -- output channel ---------------------------------------------------------------------


async def test_publish_numbers_events_and_a_subscriber_replays_them(buses: Pair) -> None:
    async with buses() as (a, b):
        seqs = [await a.publish("r1", {"type": "stdout", "data": f"{i}\n"}) for i in range(5)]
        seqs.append(await a.publish("r1", {"type": "done", "result": {"verdict": "accepted"}}))
        assert seqs == [1, 2, 3, 4, 5, 6]
        events = await gather_events(b, "r1")
        assert [e.get("data") for e in events[:5]] == [f"{i}\n" for i in range(5)]
        assert events[-1] == {"type": "done", "result": {"verdict": "accepted"}, "seq": 6}
        assert_contiguous(events)
        # Another run's channel is separate.
        assert await a.publish("r2", {"type": "status", "status": "running"}) == 1


async def test_text_round_trips_exactly(buses: Pair) -> None:
    data = "héllo ✓ \x00\t\r\n" + "λ" * 50_000
    async with buses() as (a, b):
        await a.publish("r", {"type": "stdout", "data": data})
        await a.publish("r", {"type": "done", "result": {}})
        events = await gather_events(b, "r")
    assert events[0]["data"] == data


async def test_late_subscribers_get_the_replay_then_the_live_rest(buses: Pair) -> None:
    async with buses() as (a, b):
        early = asyncio.create_task(gather_events(b, "run"))
        published = asyncio.Event()

        async def produce() -> None:
            for i in range(40):
                await a.publish("run", {"type": "stdout", "data": f"line {i}\n"})
                if i == 20:
                    published.set()
                await asyncio.sleep(0.005)
            await a.publish("run", {"type": "done", "result": {}})

        producer = asyncio.create_task(produce())
        await asyncio.wait_for(published.wait(), 10)
        late = asyncio.create_task(gather_events(b, "run"))
        resumed = asyncio.create_task(gather_events(b, "run", after=10))
        await producer
        first, second, third = await asyncio.gather(early, late, resumed)
    assert len(first) == 41 and first[-1]["type"] == "done"
    assert_contiguous(first)
    assert second == first, "the late subscriber saw something else"
    assert third == first[10:], "subscribe(after=10) must start at seq 11"


async def test_concurrent_publishers_get_distinct_seqs_without_gaps(buses: Pair) -> None:
    async with buses() as (a, b):

        async def producer(name: str) -> list[int]:
            return [
                await a.publish("busy", {"type": "stdout", "data": f"{name}{i}"}) for i in range(25)
            ]

        watcher = asyncio.create_task(gather_events(b, "busy", timeout=20))
        seqs = await asyncio.gather(*(producer(n) for n in "wxyz"))
        assert sorted(s for part in seqs for s in part) == list(range(1, 101))
        await a.publish("busy", {"type": "done", "result": {}})
        events = await watcher
    assert_contiguous(events)
    datas = [e["data"] for e in events[:-1]]
    assert sorted(datas) == sorted(f"{n}{i}" for n in "wxyz" for i in range(25))
    for name in "wxyz":  # each producer's own order is kept
        mine = [d for d in datas if d.startswith(name)]
        assert mine == [f"{name}{i}" for i in range(25)]


async def test_nothing_after_done_is_delivered(buses: Pair) -> None:
    async with buses() as (a, b):
        await a.publish("r", {"type": "stdout", "data": "x"})
        await a.publish("r", {"type": "done", "result": {}})
        await a.publish("r", {"type": "stdout", "data": "late"})
        events = await gather_events(b, "r")
    assert [e["type"] for e in events] == ["stdout", "done"]


# -- control channel --------------------------------------------------------------------


async def test_controls_come_from_the_start_in_order_then_live(buses: Pair) -> None:
    async with buses() as (a, b):
        await a.control("run", {"type": "stdin", "data": "one\n"})
        await a.control("run", {"type": "stdin", "data": "two\n"})
        seen: list[dict[str, Any]] = []

        async def listen() -> None:
            async for message in b.controls("run"):
                seen.append(message)
                if message["type"] == "cancel":
                    return

        listener = asyncio.create_task(listen())

        async def got(n: int) -> bool:
            return len(seen) >= n

        await wait_until(lambda: got(2))
        await a.control("run", {"type": "eof"})
        await a.control("other", {"type": "cancel"})  # another run's: not ours
        await a.control("run", {"type": "cancel"})
        await asyncio.wait_for(listener, 10)
    assert seen == [
        {"type": "stdin", "data": "one\n"},
        {"type": "stdin", "data": "two\n"},
        {"type": "eof"},
        {"type": "cancel"},
    ]


async def test_a_runs_control_backlog_is_bounded_and_frees_as_it_is_taken(
    buses: Pair,
) -> None:
    async with buses(max_control_backlog=3) as (a, b):
        for i in range(3):
            await a.control("run", {"type": "stdin", "data": f"{i}\n"})
        with pytest.raises(TooLarge) as refused:
            await a.control("run", {"type": "stdin", "data": "3\n"})
        assert refused.value.reason == "stdin_backlog_full"
        await a.control("other", {"type": "cancel"})  # another run's backlog is its own
        taken = b.controls("run")
        assert [(await anext(taken))["data"] for _ in range(3)] == ["0\n", "1\n", "2\n"]
        # Taken, they no longer count: the channel has room again.
        await a.control("run", {"type": "cancel"})
        assert await asyncio.wait_for(anext(taken), 10) == {"type": "cancel"}
        await taken.aclose()


async def test_output_kept_for_replay_is_bounded() -> None:
    bus = InProcessEventBus(max_replay_bytes=1000)
    await bus.publish("run", {"type": "status", "status": "running"})
    for _ in range(20):
        await bus.publish("run", {"type": "stdout", "data": "x" * 100})
    await bus.publish("run", {"type": "done", "result": {}})
    events = [e async for e in bus.subscribe("run")]
    kinds = [e["type"] for e in events]
    assert kinds == ["status", *["stdout"] * 5, "error", "done"], kinds
    assert events[6]["reason"] == "replay_full"
    await bus.close()


# -- notices ----------------------------------------------------------------------------


async def test_notices_reach_every_live_listener_of_that_user_only(buses: Pair) -> None:
    async with buses() as (a, b):
        got: dict[str, list[dict[str, Any]]] = {"alice1": [], "alice2": [], "bob": []}

        async def listen(name: str, user: str) -> None:
            async for notice in b.notices(user):
                got[name].append(notice)

        tasks = [
            asyncio.create_task(listen("alice1", "alice")),
            asyncio.create_task(listen("alice2", "alice")),
            asyncio.create_task(listen("bob", "bob")),
        ]
        try:
            # Notices are live only: wait until the listeners are listening.
            async def listening() -> bool:
                await a.notify("alice", {"type": "ping"})
                await a.notify("bob", {"type": "ping"})
                await asyncio.sleep(0.05)
                return all(got.values())

            await wait_until(listening)
            for notes in got.values():
                notes.clear()
            await a.notify("alice", {"type": "execution", "id": "r1", "status": "running"})
            await a.notify("alice", {"type": "execution", "id": "r1", "status": "done"})

            async def delivered() -> bool:
                return len(got["alice1"]) >= 2 and len(got["alice2"]) >= 2

            await wait_until(delivered)
            await asyncio.sleep(0.1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    pings = {"type": "ping"}
    for name in ("alice1", "alice2"):
        statuses = [n["status"] for n in got[name] if n != pings]
        assert statuses == ["running", "done"]
    assert [n for n in got["bob"] if n != pings] == []


async def test_a_listener_that_left_gets_nothing_and_breaks_nothing(buses: Pair) -> None:
    async with buses() as (a, b):
        gen = b.notices("carol")
        first = asyncio.ensure_future(gen.__anext__())

        async def heard() -> bool:
            await a.notify("carol", {"type": "ping"})
            await asyncio.sleep(0.05)
            return first.done()

        await wait_until(heard)
        await gen.aclose()
        await a.notify("carol", {"type": "after"})  # nobody listens: no error


# -- expiry -----------------------------------------------------------------------------


async def test_finished_channels_expire_after_the_retention(
    buses: Pair, kind: str, request: pytest.FixtureRequest
) -> None:
    async with buses(retention=0.3) as (a, _b):
        await a.publish("gone", {"type": "stdout", "data": "x"})
        await a.control("gone", {"type": "eof"})
        await a.publish("gone", {"type": "done", "result": {}})
        await a.publish("kept", {"type": "stdout", "data": "y"})
        if kind == "redis":
            keys = RedisKeys(request.getfixturevalue("redis_prefix"))
            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                # Live channels expire too, in case a run never finishes (its worker died).
                assert 0 < await client.ttl(keys.output("kept")) <= 3600
                assert 0 < await client.ttl(keys.control("gone")) <= 3600

                async def exists(run: str) -> int:
                    return int(
                        await client.exists(keys.output(run))
                        + await client.exists(keys.control(run))
                    )

                await a.finished("gone")

                async def expired() -> bool:
                    return await exists("gone") == 0

                await wait_until(expired, timeout=5)
                assert await exists("kept") == 1
            finally:
                await client.aclose()
        else:
            assert isinstance(a, InProcessEventBus)
            await a.finished("gone")

            async def forgotten() -> bool:
                return not a.known("gone")

            await wait_until(forgotten, timeout=5)
            assert a.known("kept")


# -- health -----------------------------------------------------------------------------


async def test_check_says_ok(buses: Pair) -> None:
    async with buses() as (a, _b):
        assert await a.check() is None


async def test_redis_down_is_a_503_naming_redis_not_a_crash() -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere", retry_for=0.3)
    try:
        problem = await bus.check()
        assert problem is not None and "Redis at 127.0.0.1" in problem
        for call in (
            bus.publish("r", {"type": "stdout", "data": "x"}),
            bus.control("r", {"type": "cancel"}),
        ):
            with pytest.raises(DependencyDown) as caught:
                await call
            assert caught.value.status == 503
            assert caught.value.reason == "redis_unavailable"
        await bus.notify("u", {"type": "x"})  # best effort: logged, not raised
        await bus.finished("r")  # not fatal either: the channels expire by themselves
    finally:
        await bus.close()


async def test_a_retried_publish_is_not_repeated(redis_prefix: str) -> None:  # noqa: F811
    """A publish whose reply was lost is sent again with the same token: one event."""
    bus = RedisEventBus(REDIS_URL, prefix=redis_prefix)
    try:
        key = bus.keys.output("r")
        payload = json.dumps({"type": "stdout", "data": "once"})
        first = await bus._append(keys=[key], args=["tok", payload, 60])
        again = await bus._append(keys=[key], args=["tok", payload, 60])
        assert first == again == "0-1"
        assert await bus.publish("r", {"type": "stdout", "data": "next"}) == 2
    finally:
        await bus.close()
