"""One client cannot grow the server's memory without limit (docs/limits.md).

A flood of large stdin frames to an interactive run that never reads its stdin is
refused once the run's backlog is full (the client is told so) and the server's memory
stays under a ceiling. The test process hosts the server, so its RSS is the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import WebSocketClosedError

from .test_live import open_stream, submit

pytestmark = pytest.mark.usefixtures("bubblewrap")

FRAMES = 800
FRAME_DATA = 60 * 1024  # 800 frames: 47 MiB of stdin
#: The most the server may grow while it refuses the flood (bytes).
CEILING = 32 * 1024 * 1024
SLEEPER = "import time\ntime.sleep(60)\n"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the flood measures memory, not the database."""
    return f"sqlite:///{tmp_path / 'muscode.sqlite'}"


def rss() -> int:
    """This process's resident memory, in bytes (from /proc, no psutil)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def until_running(ws: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
        assert raw is not None, "closed before the run started"
        event = json.loads(raw)
        if event.get("type") == "status" and event.get("status") == "running":
            return


async def test_a_stdin_flood_is_refused_and_memory_stays_bounded(
    api: Any, jp_ws_fetch: Any
) -> None:
    run_id = await submit(
        api,
        {
            "language": "python",
            "source": SLEEPER,
            "interactive": True,
            "limits": {"wall_time_ms": 60_000},
        },
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    await until_running(ws)

    told: list[dict[str, Any]] = []

    async def listen() -> None:
        while (raw := await ws.read_message()) is not None:
            event = json.loads(raw)
            if event.get("type") == "error":
                told.append(event)

    listener = asyncio.create_task(listen())
    frame = json.dumps({"type": "stdin", "data": "x" * FRAME_DATA})
    before = peak = rss()
    started = time.monotonic()
    for i in range(FRAMES):
        await ws.write_message(frame)
        if i % 100 == 0:
            peak = max(peak, rss())
            await asyncio.sleep(0)  # let the listener read what came back
    # One last message through the same socket: all frames before it were handled.
    await ws.write_message(json.dumps({"type": "nonsense"}))
    deadline = time.monotonic() + 30
    while not any(e.get("reason") == "bad_message" for e in told):
        assert time.monotonic() < deadline, "the server never answered the last message"
        await asyncio.sleep(0.05)
    peak = max(peak, rss())
    elapsed = time.monotonic() - started
    growth = peak - before
    print(f"flood: {FRAMES} x {FRAME_DATA} B in {elapsed:.1f}s, RSS +{growth / 2**20:.1f} MiB")

    full = [e for e in told if e.get("reason") == "stdin_backlog_full"]
    assert full, f"the client was never told the backlog is full: {told[:3]}"
    assert "stdin" in full[0]["message"]
    assert growth < CEILING, f"the server grew {growth / 2**20:.0f} MiB under the flood"

    assert (await api("POST", f"executions/{run_id}/cancel")).status == 200
    await asyncio.wait_for(listener, 30)


async def test_an_oversized_frame_closes_the_socket_with_1009(api: Any, jp_ws_fetch: Any) -> None:
    run_id = await submit(
        api,
        {"language": "python", "source": SLEEPER, "interactive": True},
    )
    ws = await open_stream(jp_ws_fetch, run_id)
    with contextlib.suppress(WebSocketClosedError):
        await ws.write_message(json.dumps({"type": "stdin", "data": "x" * (70 * 1024)}))
    deadline = time.monotonic() + 10
    while await asyncio.wait_for(ws.read_message(), deadline - time.monotonic()) is not None:
        pass
    assert ws.close_code == 1009
    assert (await api("POST", f"executions/{run_id}/cancel")).status == 200
