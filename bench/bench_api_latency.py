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
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HELLO = {
    "python": ("main.py", "print('hello')\n"),
    "javascript": ("main.js", "console.log('hello')\n"),
    "php": ("main.php", "<?php echo 'hello', PHP_EOL;\n"),
    "c": ("main.c", '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n'),
    "cpp": ("main.cpp", '#include <iostream>\nint main(){std::cout<<"hello\\n";}\n'),
    "java": (
        "Main.java",
        'public class Main{public static void main(String[] a){System.out.println("hello");}}\n',
    ),
}
# The system's runtimes, which the local sandbox runs too (not a PATH shim such as
# pyenv's, whose start-up alone is several times the interpreter's).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
HOST_COMMANDS = {
    "python": ["python3 main.py"],
    "javascript": ["node main.js"],
    "php": ["php main.php"],
    "c": ["gcc -O2 -o prog main.c", "./prog"],
    "cpp": ["g++ -O2 -o prog main.cpp", "./prog"],
    "java": ["javac -d . Main.java", "java -cp . Main"],
}
TOKEN = "bench-token"
#: Runs per language before measuring.
WARM_UP = 3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_host(language: str, runs: int) -> list[float]:
    name, source = HELLO[language]
    out = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_text(source)
        for _ in range(runs):
            start = time.perf_counter()
            for command in HOST_COMMANDS[language]:
                subprocess.run(
                    command,
                    shell=True,
                    cwd=d,
                    check=True,
                    capture_output=True,
                    env={**os.environ, "PATH": SYSTEM_PATH},
                )
            out.append(time.perf_counter() - start)
    return out


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, backend: str, *extra_args: str) -> None:
        """``extra_args`` replace the default ``--MuscodeApp.workers=2``."""
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="muscode-bench-")
        env = {
            **os.environ,
            "JUPYTER_DATA_DIR": f"{self.dir}/data",
            "JUPYTER_RUNTIME_DIR": f"{self.dir}/rt",
            "MUSCODE_SANDBOX": backend,
        }
        jupyter = Path(sys.executable).parent / "jupyter-muscode"
        self.proc = subprocess.Popen(
            [
                str(jupyter),
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--ServerApp.token={TOKEN}",
                "--allow-root",
                "--MuscodeApp.run_rate_limit=1000000/minute",
                "--MuscodeApp.max_active_runs=0",
                *(extra_args or ("--MuscodeApp.workers=2",)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.get("languages")
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the {backend} server did not start")

    def get(self, path: str) -> object:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/muscode/v1/{path}",
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def run(self, language: str) -> float:
        name, source = HELLO[language]
        body = json.dumps(
            {
                "language": language,
                "files": [{"path": name, "content": source}],
                "expected_output": "hello",
            }
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/muscode/v1/executions?wait=true&timeout=120",
            data=body,
            method="POST",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=150) as r:
            result = json.loads(r.read())
        took = time.perf_counter() - start
        if result.get("verdict") != "accepted":
            raise SystemExit(f"{language}: {result.get('verdict')} {result.get('message')}")
        return took

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


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
