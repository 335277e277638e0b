"""Sustained throughput against the bare machine's, measured side by side in one run.

Six clients (``--clients``) each run hello worlds back to back until a burst of
``--burst`` runs is done, in two ways, one after the other in every round (the order
swapped each round) so that other load on a shared machine lands on both:

- **bare**: the same clients run the same program directly on the host, each in its
  own directory: ``python3 main.py``; ``gcc -O2 -o prog main.c`` then ``./prog``;
- **MUSCode**: the clients send it to an embedded ``jupyter muscode`` (SQLite, the
  in-process queue, 2 runs at a time, the local sandbox) with
  ``POST /executions?wait=true`` and check the verdict is ``accepted``.

Languages: ``python``; ``c``, whose every run is a new source (a unique comment), so
nothing from an earlier run can be reused; ``c-again``, the same source each time (a
student pressing Run again, or Check then Submit): the host compiles it every time,
MUSCode may reuse its build.

Printed per language: runs/s (median over rounds) and latency p50 (over every run of
every round) for both, MUSCode's ratio to bare, and CPU per run: the bare programs', and
MUSCode's server process's own (its Python: HTTP, database, queue, sandbox set-up; the
sandboxed programs are not in it). With the Docker
sandbox available (``--docker auto``), sustained Python runs/s through a server on
the Docker sandbox (runc) too.

    .venv/bin/python bench/bench_throughput.py [--burst 60] [--rounds 5] [--clients 6]
        [--languages python,c,c-again] [--docker auto|off] [--profile out.txt]

``--profile FILE`` records the server with py-spy (``pip install py-spy``) during the
MUSCode bursts, as collapsed stacks (``py-spy record --format raw``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import HELLO, HOST_COMMANDS, SYSTEM_PATH, WARM_UP, Server, pct

LANGUAGE = {"python": "python", "c": "c", "c-again": "c"}


def source_for(name: str, serial: int, tag: str) -> str:
    """The program of run ``serial``: the hello world, unique per run for ``c``."""
    source = HELLO[LANGUAGE[name]][1]
    if name == "c":
        source += f"/* {tag} {serial} */\n"
    return source


@dataclass
class Burst:
    seconds: float
    latencies: list[float]
    #: Bare: the programs' CPU time; MUSCode: the server process's own (not the programs').
    cpu_s: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


def burst(run: Callable[[int, int], float], n: int, clients: int) -> tuple[float, list[float]]:
    """``n`` calls of ``run(client, serial)`` by ``clients`` threads; wall time, latencies."""
    serials = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []

    def client(index: int) -> None:
        while True:
            with lock:
                serial = next(serials)
            if serial >= n:
                return
            took = run(index, serial)
            with lock:
                latencies.append(took)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for done in [pool.submit(client, i) for i in range(clients)]:
            done.result()
    return time.perf_counter() - start, latencies


class Bare:
    """The host running the programs itself, one directory per client."""

    def __init__(self, clients: int) -> None:
        self.dirs = [tempfile.mkdtemp(prefix="muscode-bare-") for _ in range(clients)]
        self.env = {**os.environ, "PATH": SYSTEM_PATH}

    def run(self, name: str, client: int, source: str) -> float:
        language = LANGUAGE[name]
        path = Path(self.dirs[client], HELLO[language][0])
        start = time.perf_counter()
        path.write_text(source)
        for command in HOST_COMMANDS[language]:
            done = subprocess.run(
                command,
                shell=True,
                cwd=path.parent,
                capture_output=True,
                env=self.env,
                check=True,
            )
        took = time.perf_counter() - start
        if done.stdout != b"hello\n":
            raise SystemExit(f"bare {name}: printed {done.stdout!r}")
        return took

    def close(self) -> None:
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def measure_bare(bare: Bare, name: str, n: int, clients: int, tag: str) -> Burst:
    before = children_cpu()
    seconds, latencies = burst(lambda c, i: bare.run(name, c, source_for(name, i, tag)), n, clients)
    return Burst(seconds, latencies, children_cpu() - before)


def measure_api(server: Server, name: str, n: int, clients: int, tag: str) -> Burst:
    before = server.cpu_seconds()
    seconds, latencies = burst(
        lambda c, i: server.run(LANGUAGE[name], source_for(name, i, tag)), n, clients
    )
    # Only the server's own CPU: most of the programs' never reaches the kernel's count
    # of the server's children, so a total would understate it.
    return Burst(seconds, latencies, server.cpu_seconds() - before)


@dataclass
class Side:
    bursts: list[Burst] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(b.rate for b in self.bursts)

    @property
    def p50_ms(self) -> float:
        return statistics.median(x for b in self.bursts for x in b.latencies) * 1000

    @property
    def p90_ms(self) -> float:
        return pct([x for b in self.bursts for x in b.latencies], 0.9) * 1000

    @property
    def cpu_ms(self) -> float:
        runs = sum(len(b.latencies) for b in self.bursts)
        return sum(b.cpu_s for b in self.bursts) / runs * 1000


def docker_ready(image: str) -> str | None:
    """None when the Docker engine answers and has ``image``, else why not."""
    if shutil.which("docker") is None:
        return "no docker command"
    probe = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, check=False, timeout=30
    )
    if probe.returncode != 0:
        return probe.stderr.decode(errors="replace").strip() or "no engine"
    return None


def start_profile(server: Server, out: str) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.proc.pid),
            "--format",
            "raw",
            "-o",
            out,
            "--rate",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--languages", default="python,c,c-again")
    parser.add_argument("--docker", choices=["auto", "off"], default="auto")
    parser.add_argument("--image", default="muscode-runner:latest")
    parser.add_argument(
        "--workers", type=int, default=2, help="runs MUSCode runs at a time (Queue.concurrency)"
    )
    parser.add_argument("--profile", help="py-spy's collapsed stacks of the server, to FILE")
    args = parser.parse_args()
    names = args.languages.split(",")
    unknown = set(names) - set(LANGUAGE)
    if unknown:
        parser.error(f"unknown languages {sorted(unknown)}; known: {sorted(LANGUAGE)}")
    tag = uuid.uuid4().hex[:8]
    cores = os.cpu_count() or 1
    print(
        f"# bench_throughput: {cores} cores, {args.clients} clients, bursts of {args.burst}, "
        f"{args.rounds} rounds, {args.workers} MUSCode workers, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    bare = Bare(args.clients)
    server = Server("local", f"--Queue.concurrency={args.workers}", start_timeout=240)
    sides: dict[tuple[str, str], Side] = {(n, s): Side() for n in names for s in ("bare", "api")}
    spy = None
    try:
        for name in names:
            for i in range(WARM_UP):  # page cache, pools, lazily built state
                bare.run(name, 0, source_for(name, -1 - i, tag))
                server.run(LANGUAGE[name], source_for(name, -1 - i, tag))
        if args.profile:
            spy = start_profile(server, args.profile)
        for r in range(args.rounds):
            for name in names:
                order = ("bare", "api") if r % 2 == 0 else ("api", "bare")
                for side in order:
                    round_tag = f"{tag}-{r}-{side}"
                    if side == "bare":
                        b = measure_bare(bare, name, args.burst, args.clients, round_tag)
                    else:
                        b = measure_api(server, name, args.burst, args.clients, round_tag)
                    sides[name, side].bursts.append(b)
                    print(
                        f"round {r + 1} {name:8} {side:4}: {b.rate:5.1f} runs/s, "
                        f"p50 {statistics.median(b.latencies) * 1000:4.0f} ms, "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(60)
        server.stop()
        bare.close()

    print(
        f"\n## Local sandbox vs bare host, {args.clients} clients (runs/s: median of "
        f"{args.rounds} rounds; latency over all runs; CPU per run from the kernel's "
        "accounting: the bare programs', and the MUSCode server's own)\n"
    )
    print(
        "| program | bare runs/s | MUSCode runs/s | ratio | bare p50 ms | MUSCode p50 ms | "
        "p50 ratio | MUSCode p90 ms | bare programs' CPU ms/run | MUSCode server's CPU ms/run |"
    )
    print("|" + "---|" * 10)
    for name in names:
        b, a = sides[name, "bare"], sides[name, "api"]
        print(
            f"| {name} | {b.rate:.1f} | {a.rate:.1f} | {a.rate / b.rate:.2f} | "
            f"{b.p50_ms:.0f} | {a.p50_ms:.0f} | {a.p50_ms / b.p50_ms:.2f} | {a.p90_ms:.0f} | "
            f"{b.cpu_ms:.0f} | {a.cpu_ms:.0f} |"
        )

    if args.docker == "auto":
        why = docker_ready(args.image)
        if why is not None:
            print(f"\nDocker sandbox: not measured ({why})")
        else:
            try:
                docker = Server("docker", f"--Queue.concurrency={args.workers}", start_timeout=240)
            except SystemExit as exc:  # a busy engine can take longer than the wait
                print(f"\nDocker sandbox: not measured ({exc})")
            else:
                try:
                    for _ in range(WARM_UP):
                        docker.run("python")
                    rates = []
                    for _ in range(max(1, args.rounds // 2)):
                        seconds, done = burst(
                            lambda c, i: docker.run("python"), args.burst, args.clients
                        )
                        rates.append(len(done) / seconds)
                    print(
                        f"\nDocker sandbox (runc), sustained Python hello worlds, "
                        f"{args.clients} clients: {statistics.median(rates):.1f} runs/s "
                        f"(median of {len(rates)} bursts)"
                    )
                finally:
                    docker.stop()
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
