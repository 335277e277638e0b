"""Redis for tests: the shared server, a private key prefix per test, private servers.

Every test gets its own key prefix (``muscode-test-<random>``), so tests running at the
same time, here or in another engineer's session, never see each other's keys; the
prefix's keys are deleted afterwards. With ``CI=true`` an unreachable Redis fails the
test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .conftest import need_service

REDIS_URL = os.environ.get("MUSCODE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_available(url: str = REDIS_URL) -> None:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as e:
        need_service("Redis", f"{url}: {e}")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """An empty key space for one test; its keys are removed at teardown."""
    redis_available()
    prefix = f"muscode-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(REDIS_URL, prefix)


def delete_prefix(url: str, prefix: str) -> None:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except redis.RedisError:
        pass  # a private server that is already gone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own on a free 127.0.0.1 port: it may be stopped and
    started again without disturbing anyone using the shared server."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> redis.Redis:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return redis.Redis(port=self.port, socket_connect_timeout=0.5)

    def _up(self, client: redis.Redis, deadline: float) -> bool:
        try:
            client.ping()
        except redis.RedisError:
            assert self.proc is not None
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"private redis-server on {self.port} did not start") from None
            return False
        client.close()
        return True

    def start(self, timeout: float = 10) -> None:
        """Start it (from a fixture; waits by sleeping)."""
        client = self._spawn()
        deadline = time.monotonic() + timeout
        while not self._up(client, deadline):
            time.sleep(0.05)

    async def restart(self, timeout: float = 10) -> None:
        """Start it again (from a test: waits without blocking the event loop)."""
        client = self._spawn()
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 2):
            if self._up(client, deadline):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"private redis-server on {self.port} did not start")

    def stop(self) -> None:
        """Stop it the hard way: its data is lost, like a Redis without persistence."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        need_service("redis-server", "the binary is needed to run a private Redis")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
