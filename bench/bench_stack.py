"""The classroom stack against the embedded server: same bursts, same machine.

Builds the images (``bash docker/build-images.sh --all``; cached by recipe), writes a
fresh env file, and boots the compose stack the way the README deploys it
(``up -d --wait --scale muscode=2 --scale worker=2``) under a project name, port and
run directory of its own; everything it started is torn down at the end. Through the
hub's public port only (the proxy, the load balancer, a replica, Redis, a worker, the
Docker sandbox), it measures:

- **runs/s**: a burst of ``--burst`` Python hello worlds submitted at once by
  ``--users`` users (the stack's per-user rate limit and active-run cap stay as
  deployed), polled until every run is done: burst size / (last end - submission);
- **print to websocket p50 / p99**: an interactive Python program waits for "go", then
  prints ``time.time()`` 40 times 25 ms apart; each websocket frame's arrival time minus
  the printed time (``--latency-runs`` runs; the container shares the host's clock);
- **time from ``up`` to healthy** (``up -d --wait``), and the size of each image.

The baseline is the embedded server (``jupyter muscode``: SQLite, in-process queue, the
local bubblewrap sandbox; rate limits off) on this machine, with the same burst and the
same latency runs. Ratios are stack / embedded (runs/s below 1 and latency above 1 mean
the stack is slower).

    .venv/bin/python bench/bench_stack.py [--burst 60] [--users 20] [--latency-runs 4]

Needs dockerd, Docker Compose v2 and mmdebstrap (``scripts/setup-docker.sh``), bubblewrap
for the baseline, and root. Heavy on a small machine: run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack.commands import deploy_commands  # noqa: E402
from tests.stack.conftest import free_port, teardown  # noqa: E402
from tests.stack.stack import MUSCODE_API, Stack, env_of, run, with_token  # noqa: E402

BIN = Path(sys.executable).parent
HELLO = {"language": "python", "source": "print('hello')\n", "expected_output": "hello"}
TICKER = (
    "import sys, time\n"
    "sys.stdin.readline()\n"
    "for _ in range(40):\n"
    "    print(repr(time.time()), flush=True)\n"
    "    time.sleep(0.025)\n"
)
IMAGES = ("muscode-runner", "muscode/muscode", "muscode/hub", "muscode/singleuser")
IMAGES_MORE = ("muscode/postgres", "muscode/redis", "muscode/lb")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Target:
    """Where the API is and how to call it: base URL and one header set per user."""

    def __init__(self, name: str, base: str, headers: dict[str, dict[str, str]]) -> None:
        self.name = name
        self.base = base.rstrip("/")
        self.headers = headers

    def url(self, path: str, scheme: str = "http") -> str:
        return self.base.replace("http", scheme, 1) + "/" + path


# -- measurements -------------------------------------------------------------------------


async def post(http: AsyncHTTPClient, t: Target, user: str, body: dict[str, Any]) -> str:
    """Submit one run (waiting out a 429 as a client would); its id."""
    headers = {**t.headers[user], "Content-Type": "application/json"}
    for _ in range(100):
        response = await http.fetch(
            HTTPRequest(
                t.url("executions"), "POST", headers, json.dumps(body), request_timeout=300
            ),
            raise_error=False,
        )
        if response.code == 201:
            return str(json.loads(response.body)["id"])
        if response.code != 429:
            raise SystemExit(f"{t.name}: POST executions gave {response.code}: {response.body!r}")
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise SystemExit(f"{t.name}: still rate limited after 100 tries")


async def burst(http: AsyncHTTPClient, t: Target, size: int) -> tuple[float, float]:
    """(runs/s, queue wait p50 s) of ``size`` runs submitted at once by every user."""
    users = sorted(t.headers)
    await post(http, t, users[0], HELLO)  # warm-up (image, pool, connections)
    t0 = time.time()
    jobs = [post(http, t, users[i % len(users)], HELLO) for i in range(size)]
    owners = [users[i % len(users)] for i in range(size)]
    ids = list(zip(await asyncio.gather(*jobs), owners, strict=True))
    deadline = time.monotonic() + 900
    done: dict[str, dict[str, Any]] = {}
    while len(done) < size:
        for run_id, user in ids:
            if run_id in done:
                continue
            response = await http.fetch(
                HTTPRequest(t.url(f"executions/{run_id}"), headers=t.headers[user])
            )
            row = json.loads(response.body)
            if row["status"] == "done":
                done[run_id] = row
        if time.monotonic() > deadline:
            raise SystemExit(f"{t.name}: the burst did not finish in 900 s")
        await asyncio.sleep(0.5)
    bad = [r for r in done.values() if r["verdict"] != "accepted"]
    if bad:
        raise SystemExit(f"{t.name}: {len(bad)} runs not accepted, e.g. {bad[0]}")
    last = max(stamp(r["finished_at"]) for r in done.values())
    waits = [stamp(r["started_at"]) - stamp(r["created_at"]) for r in done.values()]
    return size / (last - t0), statistics.median(waits)


async def frame_latency(http: AsyncHTTPClient, t: Target, runs: int) -> list[float]:
    samples: list[float] = []
    user = sorted(t.headers)[0]
    for _ in range(runs):
        body = {"language": "python", "source": TICKER, "interactive": True}
        run_id = await post(http, t, user, body)
        ws = await websocket_connect(
            HTTPRequest(t.url(f"executions/{run_id}/stream", "ws"), headers=t.headers[user])
        )
        while True:  # ticks start once the run is live, so none comes as a replay
            message = await asyncio.wait_for(ws.read_message(), 120)
            assert message is not None, "the socket closed before the run started"
            event = json.loads(message)
            if event.get("type") == "status" and event.get("status") == "running":
                break
        await asyncio.sleep(0.1)
        await ws.write_message(json.dumps({"type": "stdin", "data": "go\n"}))
        while True:
            message = await asyncio.wait_for(ws.read_message(), 120)
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


async def measure(t: Target, size: int, latency_runs: int) -> dict[str, float]:
    http = AsyncHTTPClient(force_instance=True, max_clients=64)
    try:
        rate, wait = await burst(http, t, size)
        frames = await frame_latency(http, t, latency_runs)
    finally:
        http.close()
    return {
        "rate": rate,
        "wait_p50": wait,
        "p50_ms": pct(frames, 0.5) * 1000,
        "p99_ms": pct(frames, 0.99) * 1000,
        "samples": len(frames),
    }


# -- the embedded server ------------------------------------------------------------------


def embedded(size: int, latency_runs: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="muscode-bench-embedded-"))
    token = "bench-" + uuid.uuid4().hex
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSCODE_")}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "rt"),
    )
    argv = [
        str(BIN / "jupyter-muscode"),
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={home}",
        "--RunLimiter.user_rate=1000000/minute",
        "--RunLimiter.max_active_runs=0",
        "--RunLimiter.max_queue_depth=0",
    ]
    with (home / "server.log").open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api/muscode/v1"
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (home / "server.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"the embedded server did not start:\n{tail}")
            time.sleep(0.3)
        target = Target("embedded", base, {"owner": {"Authorization": f"token {token}"}})
        return asyncio.run(measure(target, size, latency_runs))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


# -- the stack ------------------------------------------------------------------------------


def sh(command: str, env: dict[str, str], timeout: float) -> float:
    start = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, timeout=timeout, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - start


def stack_tokens(stack: Stack, users: int) -> dict[str, dict[str, str]]:
    """An admin signs up and logs in through the hub's pages; it makes ``users`` users
    and an API token for each."""
    pw = "Bench-" + secrets.token_hex(8)
    admin = "instructor"
    reply = stack.form(
        admin,
        "hub/signup",
        {"username": admin, "signup_password": pw, "signup_password_confirmation": pw},
    )
    reply.raise_for_status()
    reply = stack.form(admin, "hub/login?next=%2Fhub%2Fhome", {"username": admin, "password": pw})
    if not reply.url.endswith("/hub/home"):
        raise SystemExit(f"the admin could not log in: {reply.url}")
    reply = stack.hub_api(admin, "POST", f"users/{admin}/tokens", json={"note": "bench"})
    reply.raise_for_status()
    auth = with_token(reply.json()["token"])
    names = [f"bench{i:02d}" for i in range(users)]
    reply = requests.post(
        stack.url + "hub/api/users", json={"usernames": names}, headers=auth, timeout=60
    )
    reply.raise_for_status()
    headers = {}
    for name in names:
        reply = requests.post(
            stack.url + f"hub/api/users/{name}/tokens",
            json={"note": "bench"},
            headers=auth,
            timeout=60,
        )
        reply.raise_for_status()
        headers[name] = with_token(reply.json()["token"])
    return headers


def image_sizes() -> list[tuple[str, float]]:
    version = run([sys.executable, "-c", "import muscode_ext; print(muscode_ext.__version__)"])
    tag = version.stdout.strip()
    sizes = []
    for image in (*IMAGES, *IMAGES_MORE):
        ref = f"{image}:latest" if image == "muscode-runner" else f"{image}:{tag}"
        done = run(["docker", "image", "inspect", "--format", "{{.Size}}", ref])
        if done.returncode == 0:
            sizes.append((ref, int(done.stdout.strip()) / 1e6))
    return sizes


def the_stack(size: int, users: int, latency_runs: int) -> tuple[dict[str, float], float, float]:
    """(figures, seconds to build (cached or not), seconds from up to healthy)."""
    project = f"muscodebench{secrets.token_hex(4)}"
    runs_dir = Path(tempfile.mkdtemp(prefix=f"{project}-runs-", dir="/var/tmp"))
    env_file = Path(tempfile.mkdtemp(prefix="muscode-bench-env-")) / "stack.env"
    settings = {
        "COMPOSE_PROJECT_NAME": project,
        "HUB_PORT": str(free_port()),
        "MUSCODE_RUNS_DIR": str(runs_dir),
        "MUSCODE_HUB_ADMINS": "instructor",
    }
    env = env_of(settings)
    build, make_env, up = deploy_commands(str(env_file))
    stack = Stack(project, int(settings["HUB_PORT"]), env_file, env)
    try:
        print(f"building images ({build}) ...", flush=True)
        built = sh(build, env, 3600)
        sh(make_env, env, 60)
        print(f"booting the stack ({project}) ...", flush=True)
        stack.up_seconds = sh(up, env, 900)
        target = Target("stack", stack.url + MUSCODE_API, stack_tokens(stack, users))
        figures = asyncio.run(measure(target, size, latency_runs))
        return figures, built, stack.up_seconds
    finally:
        teardown(stack, runs_dir)
        shutil.rmtree(runs_dir, ignore_errors=True)
        shutil.rmtree(env_file.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=60, help="runs in the burst")
    parser.add_argument("--users", type=int, default=20, help="users submitting the burst (stack)")
    parser.add_argument("--latency-runs", type=int, default=4)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run me as root (the image build needs it)")

    base = embedded(args.burst, args.latency_runs)
    print(f"embedded: {base}", flush=True)
    stack, built, up = the_stack(args.burst, args.users, args.latency_runs)
    print(f"stack: {stack}", flush=True)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    cores = os.cpu_count() or 1
    print(f"\n## The classroom stack vs the embedded server ({cores} cores, burst {args.burst})\n")
    print("| setup | runs/s | queue wait p50 s | print→ws p50 ms | p99 ms | samples |")
    print("|---|---|---|---|---|---|")
    rows = (
        ("embedded (SQLite, in-process, local sandbox)", base),
        ("stack (2 API, 2 workers, Docker sandbox)", stack),
    )
    for name, f in rows:
        print(
            f"| {name} | {f['rate']:.1f} | {f['wait_p50']:.2f} | {f['p50_ms']:.1f} | "
            f"{f['p99_ms']:.1f} | {f['samples']:.0f} |"
        )
    print(
        f"| ratio stack / embedded | {ratio(stack['rate'], base['rate'])} | "
        f"{ratio(stack['wait_p50'], base['wait_p50'])} | "
        f"{ratio(stack['p50_ms'], base['p50_ms'])} | "
        f"{ratio(stack['p99_ms'], base['p99_ms'])} | |"
    )
    print(f"\nbuild-images.sh --all: {built:.1f} s; `up -d --wait` to healthy: {up:.1f} s\n")
    print("| image | size MB |")
    print("|---|---|")
    for ref, mb in image_sizes():
        print(f"| {ref} | {mb:.0f} |")


if __name__ == "__main__":
    main()
