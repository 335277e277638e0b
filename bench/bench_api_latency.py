"""End-to-end run latency through the API, against floors measured in the same run.

For each sandbox backend (local, docker) a real `jupyter muscode` server is started;
for each language a hello world is sent N times to `POST /executions?wait=true`, and
the p50/p90 latencies are printed next to:

- the floor: the same program run directly on the host (compiled languages: the
  compile and the run, as MUSCode does);
- for docker, a plain `docker run --rm` of the runner image doing the same work.

The floor and the API are sampled in turn (one host run, one API run, ...), so noise on
a shared machine (other tenants, CPU frequency) lands on both sides of each ratio.

Then sustained runs per second with several clients keeping both cores busy.

    .venv/bin/python bench/bench_api_latency.py [--runs 20] [--backends local,docker]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchkit import HELLO, HOST_COMMANDS, WARM_UP, Server, pct, time_host


def time_docker_run(language: str, runs: int, image: str) -> list[float]:
    name, source = HELLO[language]
    out = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_text(source)
        os.chmod(d, 0o755)
        script = " && ".join(HOST_COMMANDS[language]).replace("-o prog", "-o /tmp/prog")
        script = script.replace("./prog", "/tmp/prog").replace("-d .", "-d /tmp")
        script = script.replace("-cp .", "-cp /tmp")
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network=none",
                    "-v",
                    f"{d}:/src:ro",
                    "-w",
                    "/src",
                    image,
                    "sh",
                    "-c",
                    script,
                ],
                check=True,
                capture_output=True,
            )
            out.append(time.perf_counter() - start)
    return out


def sustained(server: Server, language: str, clients: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    done = 0

    def loop() -> int:
        n = 0
        while time.monotonic() < deadline:
            server.run(language)
            n += 1
        return n

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(lambda _: loop(), range(clients)))
    return done / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--backends", default="local,docker")
    parser.add_argument("--languages", default=",".join(HELLO))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--image", default="muscode-runner:latest")
    args = parser.parse_args()
    languages = args.languages.split(",")

    print(f"# {args.runs} runs each; p50 / p90 in ms; ratio = MUSCode p50 / floor p50\n")
    for backend in args.backends.split(","):
        server = Server(backend)
        try:
            print(f"## backend: {backend}")
            header = "| language | host p50 | MUSCode p50 | MUSCode p90 | ratio to host |"
            if backend == "docker":
                header += " docker run p50 | ratio to docker run |"
            print(header)
            print("|" + "---|" * (header.count("|") - 1))
            for lang in languages:
                for _ in range(WARM_UP):  # pools, page cache, lazily built state
                    server.run(lang)
                floor, api = [], []
                for _ in range(args.runs):
                    floor += time_host(lang, 1)
                    api.append(server.run(lang))
                host = statistics.median(floor)
                line = (
                    f"| {lang} | {host * 1000:.0f} | {statistics.median(api) * 1000:.0f} | "
                    f"{pct(api, 0.9) * 1000:.0f} | {statistics.median(api) / host:.2f} |"
                )
                if backend == "docker":
                    plain = statistics.median(
                        time_docker_run(lang, max(5, args.runs // 3), args.image)
                    )
                    line += f" {plain * 1000:.0f} | {statistics.median(api) / plain:.2f} |"
                print(line, flush=True)
            for lang in ("python", "c"):
                if lang in languages:
                    rate = sustained(server, lang, clients=6, seconds=args.seconds)
                    print(
                        f"\nsustained {lang} hello worlds, 6 clients, {backend}: "
                        f"{rate:.1f} runs/s ({rate / (os.cpu_count() or 1):.1f} per core)"
                    )
            print()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
