"""The Docker engine stops and starts again under a running server (issue 4, item 8).

While the engine is down, runs are refused with 503 naming the executor and ``/health``
says degraded; once it is back, runs work again without restarting the server, even
though the containers the sandbox had warmed died with the engine.

This test stops the machine's real dockerd (SIGTERM, as an operator or systemd would)
and starts it again with ``scripts/setup-docker.sh``; the ``dockerd`` fixture starts it
again whatever happens. It needs root and an engine that script manages.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from muscode_ext.execution.docker import DockerSandbox

from .conftest import ROOT, need_service

SETUP = ROOT / "scripts" / "setup-docker.sh"
RUN = {"language": "python", "source": "print(6 * 7)"}


def engine_answers() -> bool:
    return (
        subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode
        == 0
    )


def dockerd_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def start_engine() -> None:
    done = subprocess.run(
        ["bash", str(SETUP)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def dockerd() -> Iterator[None]:
    """A dockerd this test may stop; running again after the test, whatever happened."""
    if shutil.which("docker") is None or shutil.which("pgrep") is None:
        need_service("Docker", "the docker or pgrep command is missing")
    if os.geteuid() != 0:
        need_service("a Docker engine this test may stop", "it must run as root")
    if not dockerd_pids() or not engine_answers():
        need_service("Docker", "dockerd is not running; run `bash scripts/setup-docker.sh`")
    image = subprocess.run(
        ["docker", "image", "inspect", "muscode-runner:latest"], capture_output=True, check=False
    )
    if image.returncode != 0:
        need_service("the runner image", "run `bash scripts/setup-docker.sh`")
    try:
        yield
    finally:
        if not engine_answers():
            start_engine()


def alive(pid: int) -> bool:
    """Running (a zombie whose parent has not reaped it yet has stopped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] not in (b"Z", b"X")


def stop_engine() -> None:
    """Stop dockerd as an operator would (SIGTERM) and wait until it is gone."""
    pids = dockerd_pids()
    assert pids, "dockerd is not running"
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "dockerd did not stop within 60 s"
        time.sleep(0.1)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("muscode_config", [{"sandbox_class": DockerSandbox}])
async def test_docker_engine_outage_is_503_then_recovers(api: Any, dockerd: None) -> None:
    async def run() -> Any:
        return await api("POST", "executions", RUN, params={"wait": "true", "timeout": "60"})

    async def executor_state() -> str:
        reply = await api("GET", "health", headers={"Authorization": ""})
        return str(reply.json["checks"]["executor"])

    before = await run()
    assert before.status == 200, before.body
    assert before.json["verdict"] == "accepted" and before.json["stdout"] == "42\n", before.json

    # In a thread: the server runs on this test's event loop and must keep answering.
    await asyncio.to_thread(stop_engine)

    async def refused() -> bool:
        return (await run()).status == 503

    await wait_until(refused, 30, "runs refused with 503 after the engine stopped")
    down = await run()
    assert down.status == 503
    assert down.json["reason"] == "executor_unavailable", down.json
    assert "Docker" in down.json["message"], down.json
    health = await api("GET", "health", headers={"Authorization": ""})
    assert health.status == 200  # the database is fine: degraded, not down
    assert health.json["status"] == "degraded"
    assert health.json["checks"]["executor"].startswith("unavailable"), health.json
    assert "Docker" in health.json["checks"]["executor"]

    await asyncio.to_thread(start_engine)

    async def healthy() -> bool:
        return await executor_state() == "ok"

    await wait_until(healthy, 60, "/health reporting the executor ok again")
    # More runs than the sandbox keeps warm containers: the ones it had warmed before
    # the outage died with the engine and must not be handed out.
    for _ in range(4):
        after = await run()
        assert after.status == 200, after.body
        assert after.json["verdict"] == "accepted", after.json
        assert after.json["stdout"] == "42\n"
