"""Several MUSCode API processes on one PostgreSQL and one Redis, as in a scaled-out class.

:class:`Cluster` starts real ``jupyter-muscode`` servers (the replicas) and
``muscode-worker`` processes as subprocesses on free 127.0.0.1 ports, all sharing the
test's database and Redis key prefix, with only the test's settings (no config files or
``MUSCODE_*`` variables of the machine). A :class:`Replica`'s ``api`` is called like the
``api`` fixture (``await replica.api("POST", "executions", body, headers=...)``), so the
helpers of the other test modules work on it; ``replica.ws(...)`` opens a websocket.

Use it through the ``cluster`` fixture::

    from .replica_support import cluster, replica_args  # noqa: F401 - fixtures

    async def test_x(cluster):
        (a, b), (worker,) = await cluster.up(replicas=2, workers=1)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from .conftest import API, JWT_SECRET, Reply, need_service
from .redis_support import REDIS_URL, free_port

BIN = Path(sys.executable).parent
SERVER_SCRIPT = BIN / "jupyter-muscode"
WORKER_SCRIPT = BIN / "muscode-worker"
#: Seconds after which a stopped worker's run is taken over (short, to keep tests quick).
CLAIM_AFTER = 3.0
#: What a replica's Jupyter token is (the tests call it with MUSCode bearer tokens).
SERVER_TOKEN = "replica-test-token-" + "0123456789abcdef" * 2


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str = "condition"
) -> None:
    """Poll ``predicate`` every 0.1 s until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


class Process:
    """One subprocess of the cluster, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            self.proc.send_signal(signum)

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot die otherwise
            self.proc.kill()
        self.proc.wait(15)


class Replica(Process):
    """One API process (``jupyter-muscode``) of the cluster."""

    def __init__(self, name: str, port: int, argv: list[str], env: dict[str, str], log: Path):
        super().__init__(name, argv, env, log)
        self.port = port
        self.base = f"http://127.0.0.1:{port}/{API}"
        self.http = AsyncHTTPClient(force_instance=True)

    async def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """Call the replica's MUSCode API, like the ``api`` fixture does."""
        headers = dict(headers or {})
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        url = f"{self.base}/{path.strip('/')}"
        if params:
            url += "?" + urlencode(params)
        response = await self.http.fetch(
            HTTPRequest(
                url,
                method=method,
                body=data,
                headers=headers,
                request_timeout=120,
                allow_nonstandard_methods=True,
            ),
            raise_error=False,
        )
        return Reply(response.code, response.headers, response.body or b"")

    async def ws(self, path: str, headers: dict[str, str]) -> WebSocketClientConnection:
        """Open a websocket of the replica's API (``executions/<id>/stream``, ``events``)."""
        url = f"ws://127.0.0.1:{self.port}/{API}/{path.strip('/')}"
        return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))

    async def healthy(self) -> bool:
        assert self.alive(), f"replica {self.name} exited:\n{self.log()}"
        try:
            reply = await self.api("GET", "health")
        except OSError:
            return False
        return reply.status == 200

    def stop(self) -> None:
        self.http.close()
        super().stop()


def only_muscode(config_dir: Path) -> None:
    """A Jupyter config dir in which the replicas load MUSCode and no other extension
    installed beside it (they start faster, and nothing else answers)."""
    enabled: dict[str, bool] = {}
    for found in (Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d").glob("*.json"):
        names = json.loads(found.read_text()).get("ServerApp", {}).get("jpserver_extensions", {})
        enabled.update(dict.fromkeys(names, False))
    enabled["muscode_ext"] = True
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {"ServerApp": {"jpserver_extensions": enabled}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))


def _ready(worker: Process) -> Callable[[], Awaitable[bool]]:
    async def ready() -> bool:
        assert worker.alive(), f"{worker.name} exited:\n{worker.log()}"
        return " ready: " in worker.log()

    return ready


class Cluster:
    """API replicas and workers on one database and one Redis key prefix."""

    def __init__(
        self, db_url: str, redis_url: str, prefix: str, home: Path, args: list[str]
    ) -> None:
        for script in (SERVER_SCRIPT, WORKER_SCRIPT):
            if not script.exists():
                pytest.fail(f"{script} is missing: reinstall the package (pip install -e .)")
        self.home = home
        #: MUSCode options given to replicas and workers alike.
        self.shared = [
            f"--MuscodeApp.db_url={db_url}",
            f"--MuscodeApp.redis_url={redis_url}",
            f"--MuscodeApp.redis_prefix={prefix}",
            f"--RedisQueue.claim_after={CLAIM_AFTER}",
            *args,
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MUSCODE_")}
        self.env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        (home / "root").mkdir(exist_ok=True)
        only_muscode(home / "config")
        self.all: list[Process] = []

    def start_replica(self) -> Replica:
        port = free_port()
        name = "ABCDEFGH"[sum(isinstance(p, Replica) for p in self.all)]
        argv = [
            str(SERVER_SCRIPT),
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--IdentityProvider.token={SERVER_TOKEN}",
            f"--ServerApp.root_dir={self.home / 'root'}",
            "--ServerApp.allow_unauthenticated_access=False",
            f"--MuscodeApp.jwt_secret={JWT_SECRET}",
            "--MuscodeApp.embedded_user=owner",
            *self.shared,
        ]
        replica = Replica(name, port, argv, self.env, self.home / f"replica-{name}.log")
        self.all.append(replica)
        return replica

    def start_worker(self) -> Process:
        index = sum(not isinstance(p, Replica) for p in self.all)
        argv = [str(WORKER_SCRIPT), *self.shared, "--WorkerApp.stop_timeout=20"]
        worker = Process(f"worker-{index}", argv, self.env, self.home / f"worker-{index}.log")
        self.all.append(worker)
        return worker

    async def up(
        self, replicas: int = 2, workers: int = 0, timeout: float = 240
    ) -> tuple[list[Replica], list[Process]]:
        """Start ``replicas`` API processes and ``workers`` workers side by side, and wait
        (bounded) until each replica answers ``/health`` and each worker consumes."""
        started = [self.start_replica() for _ in range(replicas)]
        pool = [self.start_worker() for _ in range(workers)]
        for replica in started:
            await wait_until(replica.healthy, timeout, f"replica {replica.name} healthy")
        for worker in pool:
            await wait_until(_ready(worker), timeout, f"{worker.name} ready")
        return started, pool

    async def replicas(self, count: int = 2, timeout: float = 240) -> list[Replica]:
        """Start ``count`` replicas and wait until each answers ``/health``."""
        return (await self.up(count, 0, timeout))[0]

    async def workers(self, count: int = 1, timeout: float = 240) -> list[Process]:
        """Start ``count`` workers and wait until each consumes the queue."""
        return (await self.up(0, count, timeout))[1]

    def close(self) -> None:
        for process in self.all:
            process.stop()


@pytest.fixture
def replica_args() -> list[str]:
    """Extra command-line options for every process of the cluster (override it)."""
    return []


@pytest.fixture
def cluster(
    pg_database: str, redis_prefix: str, tmp_path: Path, replica_args: list[str]
) -> Iterator[Cluster]:
    """Nothing started yet: the test starts replicas and workers it needs."""
    if sys.platform != "linux":
        need_service("Linux", "the cluster's workers run programs in the local sandbox")
    pool = Cluster(pg_database, REDIS_URL, redis_prefix, tmp_path, replica_args)
    yield pool
    pool.close()
