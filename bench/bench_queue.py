"""Queues and sandboxes compared, Jobe's way: bursts, sustained runs/s, print-to-frame latency.

For each configuration a real `jupyter muscode` server is started on a fresh
PostgreSQL database, once with each sandbox (``--sandboxes``: the local bubblewrap
sandbox and the Docker sandbox, runc unless ``--docker-runtime`` says otherwise):

- ``memory``: the in-process queue, the server runs programs itself (2 at a time).
  This is the baseline the queue ratios are computed against (same sandbox), measured
  in the same run; docker rows also get a ratio against local (same queue);
- ``redis-1``: the Redis queue and one ``muscode-worker`` (2 at a time);
- ``redis-2``: the Redis queue and two ``muscode-worker`` processes (2 at a time each).

For Python, C and Java hello worlds (Jobe's test programs), a **burst** of N runs is
submitted at once by N concurrent clients, then polled until every run is done:

- burst size: how many runs of the burst were finished within ``--window`` seconds of
  the submission (Jobe counts the largest burst it completes without failing; a queue
  never refuses, so the deadline plays that role). "≥N" means the whole burst made it;
- sustained runs/s: N / (time from the submission to the last run's end), the rate at
  which a saturated queue drains, which is the highest rate it can sustain;
- queue wait at saturation: p50 / p99 of (started_at - created_at) over the burst.

Then the **print-to-frame latency**: an interactive Python program waits for "go" on
stdin, then prints ``time.time()`` 40 times, 25 ms apart; the client, subscribed to the
run's websocket beforehand, takes each frame's arrival time minus the printed time
(p50 / p99 over ``--latency-runs`` runs). Same machine, same clock.

    .venv/bin/python bench/bench_queue.py [--configs memory,redis-1,redis-2]
        [--sandboxes local,docker] [--docker-runtime runc]
        [--burst python=60,c=60,java=20] [--window 5] [--latency-runs 4] [--rounds 3]

Needs PostgreSQL (MUSCODE_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/
postgres) and Redis (MUSCODE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0); its
keys use a private prefix and are deleted at the end. The Docker sandbox needs dockerd
and the runner image (``scripts/setup-docker.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from benchkit import free_port, pct
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

PG_URL = os.environ.get("MUSCODE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MUSCODE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-token-" + uuid.uuid4().hex
API = "api/muscode/v1"
BIN = Path(sys.executable).parent

HELLO = {
    "python": "print('hello')\n",
    "c": '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n',
    "java": "public class Main{public static void main(String[] a)"
    '{System.out.println("hello");}}\n',
}
TICKER = (
    "import sys, time\n"
    "sys.stdin.readline()\n"
    "for _ in range(40):\n"
    "    print(repr(time.time()), flush=True)\n"
    "    time.sleep(0.025)\n"
)


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- the services under test ------------------------------------------------------------


class Database:
    """A fresh PostgreSQL database for one configuration."""

    def __init__(self) -> None:
        self.name = f"muscode_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base, _, _ = PG_URL.rpartition("/")
        self.url = f"{base}/{self.name}"

    def drop(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Setup:
    """A server and its workers for one configuration and sandbox."""

    def __init__(self, config: str, sandbox: str, docker_runtime: str) -> None:
        self.name = f"{config}/{sandbox}"
        self.workers = {"memory": 0, "redis-1": 1, "redis-2": 2}[config]
        self.redis = config != "memory"
        self.prefix = f"muscode-bench-{uuid.uuid4().hex[:8]}"
        self.db = Database()
        self.dir = tempfile.mkdtemp(prefix="muscode-bench-")
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MUSCODE_")},
            "JUPYTER_CONFIG_DIR": f"{self.dir}/config",
            "JUPYTER_DATA_DIR": f"{self.dir}/data",
            "JUPYTER_RUNTIME_DIR": f"{self.dir}/rt",
            "MUSCODE_SANDBOX": sandbox,
        }
        common = [f"--MuscodeApp.db_url={self.db.url}", "--MuscodeApp.workers=2"]
        if sandbox == "docker":
            common.append(f"--MuscodeApp.docker_runtime={docker_runtime}")
        if self.redis:
            common += [
                f"--MuscodeApp.redis_url={REDIS_URL}",
                f"--MuscodeApp.redis_prefix={self.prefix}",
            ]
        self.procs: list[subprocess.Popen[bytes]] = []
        self._start(
            [
                str(BIN / "jupyter-muscode"),
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--ServerApp.token={TOKEN}",
                "--allow-root",
                "--MuscodeApp.upgrade_db=True",
                "--MuscodeApp.run_rate_limit=1000000/minute",
                "--MuscodeApp.max_active_runs=0",
                "--MuscodeApp.max_queue_depth=0",
                *common,
            ],
            "server.log",
        )
        self._wait_for(lambda: self._answers(), "the server")
        for i in range(self.workers):
            log = f"worker-{i}.log"
            self._start([str(BIN / "muscode-worker"), *common], log)
            self._wait_for(lambda log=log: " ready: " in Path(self.dir, log).read_text(), log)

    def _start(self, argv: list[str], log: str) -> None:
        with open(Path(self.dir, log), "wb") as out:
            self.procs.append(
                subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            )

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _wait_for(self, ready: Any, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{self.name}: {what} exited; see {self.dir}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: {what} did not start; see {self.dir}")
            time.sleep(0.2)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{API}/{path}"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.redis:
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        self.db.drop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- measurements -----------------------------------------------------------------------

HEADERS = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}


@dataclass
class Burst:
    size: int
    within: int
    seconds: float
    waits: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.size / self.seconds


async def post(http: AsyncHTTPClient, setup: Setup, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.fetch(
        HTTPRequest(setup.url("executions"), "POST", HEADERS, json.dumps(body), request_timeout=300)
    )
    reply: dict[str, Any] = json.loads(response.body)
    return reply


async def results(http: AsyncHTTPClient, setup: Setup, ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(0, len(ids), 100):
        part = ",".join(ids[i : i + 100])
        response = await http.fetch(
            HTTPRequest(setup.url(f"executions?ids={part}&limit=100"), headers=HEADERS)
        )
        out.extend(json.loads(response.body))
    return out


async def burst(http: AsyncHTTPClient, setup: Setup, language: str, n: int, window: float) -> Burst:
    body = {"language": language, "source": HELLO[language], "expected_output": "hello"}
    await post(http, setup, {**body, "stdin": ""})  # warm-up
    t0 = time.time()
    ids = [r["id"] for r in await asyncio.gather(*(post(http, setup, body) for _ in range(n)))]
    deadline = time.monotonic() + 600
    while True:
        runs = await results(http, setup, ids)
        if all(r["status"] == "done" for r in runs):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{setup.name}: a {language} burst did not finish in 600 s")
        await asyncio.sleep(0.2)
    bad = [r for r in runs if r["verdict"] != "accepted"]
    if bad:
        raise SystemExit(f"{setup.name} {language}: {bad[0]['verdict']} {bad[0]['message']}")
    ends = [stamp(r["finished_at"]) - t0 for r in runs]
    waits = [stamp(r["started_at"]) - stamp(r["created_at"]) for r in runs]
    return Burst(n, sum(1 for e in ends if e <= window), max(ends), waits)


async def frame_latency(http: AsyncHTTPClient, setup: Setup, runs: int) -> list[float]:
    samples: list[float] = []
    body = {"language": "python", "source": TICKER, "interactive": True}
    for _ in range(runs):
        run_id = (await post(http, setup, body))["id"]
        ws = await websocket_connect(
            HTTPRequest(setup.url(f"executions/{run_id}/stream", "ws"), headers=HEADERS)
        )
        # Start the ticks only once the run is live, so no tick arrives as a replay.
        while True:
            message = await asyncio.wait_for(ws.read_message(), 60)
            assert message is not None
            if json.loads(message) == {"type": "status", "status": "running", "seq": 1}:
                break
        await asyncio.sleep(0.1)
        await ws.write_message(json.dumps({"type": "stdin", "data": "go\n"}))
        while True:
            message = await asyncio.wait_for(ws.read_message(), 60)
            arrived = time.time()
            if message is None:
                break
            event = json.loads(message)
            if event["type"] == "stdout":
                samples += [arrived - float(line) for line in event["data"].split()]
            elif event["type"] == "done":
                break
        ws.close()
    return samples


# -- report -----------------------------------------------------------------------------


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "-"


async def measure(
    config: str,
    sandbox: str,
    docker_runtime: str,
    bursts: dict[str, int],
    window: float,
    latency_runs: int,
) -> dict[str, Any]:
    setup = Setup(config, sandbox, docker_runtime)
    name = setup.name
    http = AsyncHTTPClient(force_instance=True, max_clients=max(bursts.values()) + 5)
    try:
        out: dict[str, Any] = {}
        for language, n in bursts.items():
            out[language] = await burst(http, setup, language, n, window)
            b = out[language]
            print(
                f"  {name} {language}: burst {b.size} done in {b.seconds:.1f} s "
                f"({b.rate:.1f} runs/s), {b.within} within {window:g} s",
                flush=True,
            )
        out["latency"] = await frame_latency(http, setup, latency_runs)
        return out
    finally:
        http.close()
        setup.stop()


def merge(rounds: list[Burst]) -> Burst:
    """Rounds of one burst: the median drain time and burst size, all waits pooled."""
    seconds = statistics.median(b.seconds for b in rounds)
    within = round(statistics.median(b.within for b in rounds))
    return Burst(rounds[0].size, within, seconds, [w for b in rounds for w in b.waits])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--configs", default="memory,redis-1,redis-2")
    parser.add_argument("--sandboxes", default="local,docker")
    parser.add_argument("--docker-runtime", default="runc", choices=["runc", "runsc"])
    parser.add_argument("--burst", default="python=60,c=60,java=20")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--latency-runs", type=int, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="configurations are measured in turn this many times (the machine is shared: "
        "interleaving spreads other load over all of them); medians are reported",
    )
    args = parser.parse_args()
    bursts = {k: int(v) for k, v in (p.split("=") for p in args.burst.split(","))}
    configs = args.configs.split(",")
    sandboxes = args.sandboxes.split(",")
    setups = [(config, sandbox) for sandbox in sandboxes for config in configs]
    cores = os.cpu_count() or 1
    loads = [os.getloadavg()[0]]
    runtime = f" (docker: {args.docker_runtime})" if "docker" in sandboxes else ""
    print(
        f"# bench_queue: {cores} cores, {args.rounds} rounds, "
        f"sandboxes {', '.join(sandboxes)}{runtime}",
        flush=True,
    )
    raw: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in setups}
    for i in range(args.rounds):
        for config, sandbox in setups:
            print(
                f"round {i + 1}, {config}/{sandbox} (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            raw[config, sandbox].append(
                asyncio.run(
                    measure(
                        config,
                        sandbox,
                        args.docker_runtime,
                        bursts,
                        args.window,
                        args.latency_runs,
                    )
                )
            )
            loads.append(os.getloadavg()[0])
    data: dict[tuple[str, str], dict[str, Any]] = {
        key: {
            **{lang: merge([r[lang] for r in rounds]) for lang in bursts},
            "latency": [x for r in rounds for x in r["latency"]],
        }
        for key, rounds in raw.items()
    }

    print(
        f"\n## Bursts (medians of {args.rounds} rounds; ratios against {configs[0]} with the "
        f"same sandbox, and against {sandboxes[0]} with the same queue; same run)\n"
    )
    print(
        f"| config | sandbox | language | burst | burst size (≤{args.window:g} s) | "
        f"sustained runs/s | per core | ratio | vs {sandboxes[0]} | queue wait p50 s | "
        "p99 s | ratio p50 |"
    )
    print("|" + "---|" * 12)
    for config, sandbox in setups:
        for language in bursts:
            b: Burst = data[config, sandbox][language]
            b0: Burst = data[configs[0], sandbox][language]
            bs: Burst = data[config, sandboxes[0]][language]
            size = f"≥{b.size}" if b.within == b.size else str(b.within)
            print(
                f"| {config} | {sandbox} | {language} | {b.size} | {size} | {b.rate:.1f} | "
                f"{b.rate / cores:.1f} | {ratio(b.rate, b0.rate)} | {ratio(b.rate, bs.rate)} | "
                f"{statistics.median(b.waits):.2f} | {pct(b.waits, 0.99):.2f} | "
                f"{ratio(statistics.median(b.waits), statistics.median(b0.waits))} |"
            )
    print("\n## Print to websocket frame (interactive Python, 40 ticks a run, all rounds)\n")
    print("| config | sandbox | samples | p50 ms | p99 ms | ratio p50 | ratio p99 |")
    print("|---|---|---|---|---|---|---|")
    for config, sandbox in setups:
        lat = data[config, sandbox]["latency"]
        lat0 = data[configs[0], sandbox]["latency"]
        print(
            f"| {config} | {sandbox} | {len(lat)} | {statistics.median(lat) * 1000:.1f} | "
            f"{pct(lat, 0.99) * 1000:.1f} | "
            f"{ratio(statistics.median(lat), statistics.median(lat0))} | "
            f"{ratio(pct(lat, 0.99), pct(lat0, 0.99))} |"
        )
    print(
        f"\nload average (1 min) seen: min {min(loads):.1f}, max {max(loads):.1f} "
        f"(other processes share these {cores} cores)"
    )


if __name__ == "__main__":
    main()
