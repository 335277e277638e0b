"""One collaborative room across two MUSCode API processes on one PostgreSQL and Redis.

Replica A is pytest-jupyter's server; replica B is a second ``jupyter muscode`` process
with the same database, Redis and token key. A student edits on A, their instructor on
B: each sees the other's edits within a second, the awareness (who is there) crosses
too, a joiner on B gets edits that A has not saved yet, and the file ends up holding
both edits, saved by one replica at a time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .conftest import JWT_SECRET
from .redis_support import REDIS_URL, free_port, redis_prefix  # noqa: F401 - fixture
from .test_collab import Peer, file_text, join, setup

# Replica B is a process that takes a minute to answer on a busy machine.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def db_url(pg_database: str) -> str:
    return pg_database  # two processes share it


@pytest.fixture
def muscode_config(redis_prefix: str) -> dict[str, Any]:  # noqa: F811
    return {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}


@dataclass
class Replica:
    url: str  # host:port/
    proc: subprocess.Popen[bytes]


@pytest.fixture
def replica_b(
    db_url: str,
    redis_prefix: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replica]:
    """The second API process."""
    home = tmp_path_factory.mktemp("replica-b")
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
    }
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "MUSCODE_SERVICE_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter-muscode")),
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.token=replica-b-token",
            f"--ServerApp.root_dir={home}",
            "--MuscodeApp.embedded_user=owner",
            f"--MuscodeApp.db_url={db_url}",
            f"--MuscodeApp.jwt_secret={JWT_SECRET}",
            f"--MuscodeApp.redis_url={REDIS_URL}",
            f"--MuscodeApp.redis_prefix={redis_prefix}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "stderr.log").open("wb"),
    )
    url = f"127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"http://{url}api/muscode/v1/health", timeout=5).read()
                break
            except OSError:
                log = (home / "stderr.log").read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, f"replica B did not start: {log}"
                assert proc.poll() is None, f"replica B exited: {log}"
                time.sleep(0.3)
        yield Replica(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


async def join_b(b: Replica, file_id: str, headers: dict[str, str]) -> Peer:
    request = HTTPRequest(f"ws://{b.url}api/muscode/v1/collab/{file_id}", headers=headers)
    peer = Peer(await websocket_connect(request))
    await peer.sync()
    return peer


async def saved(api: Any, s: dict[str, Any], want: str, timeout: float = 20) -> int:
    """Wait until the file holds ``want``; its version."""
    deadline = time.monotonic() + timeout
    while True:
        text, version = await file_text(api, s["pid"], s["fid"], s["sam"])
        if text == want:
            return version
        assert time.monotonic() < deadline, f"not saved: {text!r}"
        await asyncio.sleep(0.2)


async def test_one_room_across_two_replicas(
    api: Any, bearer: Any, jp_ws_fetch: Any, replica_b: Replica
) -> None:
    s = await setup(api, bearer)
    student = await join(jp_ws_fetch, s["fid"], s["sam"])  # on A
    await student.insert(0, "# a\n")  # not saved yet when B's member joins
    helper = await join_b(replica_b, s["fid"], s["ines"])  # on B
    await helper.until("# a\nprint(1)\n")

    started = time.monotonic()
    await helper.insert(len(str(helper.text)), "print(2)\n")
    await student.until("# a\nprint(1)\nprint(2)\n")
    b_to_a = time.monotonic() - started
    started = time.monotonic()
    await student.insert(0, "# c\n")
    await helper.until("# c\n# a\nprint(1)\nprint(2)\n")
    a_to_b = time.monotonic() - started
    assert b_to_a < 1.0 and a_to_b < 1.0, (b_to_a, a_to_b)

    # Who is there crosses too.
    await helper.announce("ines")
    await student.wait_for(lambda: "ines" in student.seen)
    await student.announce("sam")
    await helper.wait_for(lambda: "sam" in helper.seen)

    # Saved with both edits; one save per quiet spell at most (never one per replica).
    want = "# c\n# a\nprint(1)\nprint(2)\n"
    await saved(api, s, want)
    student.ws.close()
    helper.ws.close()
    text, version = await file_text(api, s["pid"], s["fid"], s["sam"])
    assert text == want
    assert 2 <= version <= 4, version


async def test_the_room_outlives_the_replica_that_saved_it(
    api: Any, bearer: Any, jp_ws_fetch: Any, replica_b: Replica
) -> None:
    s = await setup(api, bearer)
    helper = await join_b(replica_b, s["fid"], s["ines"])  # B alone: B saves
    await helper.insert(0, "# b\n")
    assert await saved(api, s, "# b\nprint(1)\n") == 2
    student = await join(jp_ws_fetch, s["fid"], s["sam"])  # on A
    await student.until("# b\nprint(1)\n")
    replica_b.proc.kill()  # B dies holding the right to save
    replica_b.proc.wait(15)
    await student.insert(0, "# a\n")
    # A takes the right over once B's lease runs out, and saves once.
    assert await saved(api, s, "# a\n# b\nprint(1)\n") == 3
    student.ws.close()
