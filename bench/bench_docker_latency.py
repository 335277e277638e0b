"""Python hello-world latency: DockerSandbox vs a plain ``docker run --rm`` vs the host.

    python bench/bench_docker_latency.py [--runs 30] [--runtime runc|runsc] [--pool-size 2]

Three ways to run ``print("Hello, world!")``, measured in the same run and interleaved
(one of each per round, so a busy machine slows all three alike):

- ``sandbox``: end to end through ``DockerSandbox`` and the engine: prepare the job,
  run it, leave the job (which waits until its container is removed), as the server does;
- ``docker run``: the CLI's ``docker run --rm`` of the same image with the same flags
  that matter for speed (``--network none --read-only``, the runtime);
- ``host``: the bare host interpreter (the floor).

Prints p50/p90 of each and the ratios. The issue's target: sandbox p50 below half of
``docker run``. Needs dockerd and the runner image (``scripts/setup-docker.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from muscode_ext.execution import DEFAULT_LANGUAGES, Job, Limits, SourceFile, execute
from muscode_ext.execution.docker import DEFAULT_IMAGE, DockerSandbox

HELLO = 'print("Hello, world!")'


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def docker_run(runtime: str, image: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--user",
            "65534:65534",
            "--runtime",
            runtime,
            image,
            "python3",
            "-c",
            HELLO,
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def host_python() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", HELLO], check=True, capture_output=True)
    return time.perf_counter() - t0


async def sandbox_run(sandbox: DockerSandbox, job: Job) -> float:
    t0 = time.perf_counter()
    result = await execute(sandbox, job, limits=Limits())
    took = time.perf_counter() - t0
    if result.verdict != "accepted" or result.stdout != "Hello, world!\n":
        raise SystemExit(f"the sandbox run failed: {result}")
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--runtime", default="runc")
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument(
        "--pause", type=float, default=0.3, help="seconds between rounds (pool refill time)"
    )
    args = parser.parse_args()
    if shutil.which("docker") is None:
        raise SystemExit("the docker CLI is missing")

    sandbox = DockerSandbox(runtime=args.runtime, pool_size=args.pool_size)
    await sandbox.start()
    problem = await sandbox.check()
    if problem is not None:
        raise SystemExit(problem)
    lang = DEFAULT_LANGUAGES["python"]
    job = Job(language=lang, files=(SourceFile("main.py", HELLO.encode()),), main="main.py")
    image = DEFAULT_IMAGE
    try:
        # Warm-up: image layers in the page cache, the pool filled, the CLI loaded.
        await sandbox_run(sandbox, job)
        await asyncio.to_thread(docker_run, args.runtime, image)
        await asyncio.sleep(1)
        times: dict[str, list[float]] = {"sandbox": [], "docker run": [], "host": []}
        for _ in range(args.runs):
            times["sandbox"].append(await sandbox_run(sandbox, job))
            await asyncio.sleep(args.pause)
            times["docker run"].append(await asyncio.to_thread(docker_run, args.runtime, image))
            times["host"].append(await asyncio.to_thread(host_python))
            await asyncio.sleep(args.pause)
    finally:
        await sandbox.stop()

    print(
        f"python hello world, runtime {args.runtime}, pool_size {args.pool_size}, "
        f"{args.runs} runs each (interleaved)"
    )
    for name, values in times.items():
        print(
            f"  {name:11s} p50 {quantile(values, 0.5) * 1000:7.1f} ms   "
            f"p90 {quantile(values, 0.9) * 1000:7.1f} ms   "
            f"mean {statistics.fmean(values) * 1000:7.1f} ms"
        )
    p50 = {name: quantile(values, 0.5) for name, values in times.items()}
    print(f"  sandbox / docker run (p50): {p50['sandbox'] / p50['docker run']:.2f}  (target < 0.5)")
    print(f"  sandbox / host (p50):       {p50['sandbox'] / p50['host']:.1f}x")
    print(f"  docker run / host (p50):    {p50['docker run'] / p50['host']:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
