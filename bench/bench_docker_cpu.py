"""Where the CPU of a Docker-sandbox run goes, per part, and the throughput it allows.

A server on the Docker sandbox (runc; ``--runtime``) runs bursts of Python hello worlds
from 6 clients (``--clients``) through ``POST /executions?wait=true``, as
``bench_throughput.py --docker auto`` does, while ``perf record -a`` samples every CPU
(``--freq`` Hz, the ``cpu-clock`` event). Samples are summed per part:

- the MUSCode server (its process, every thread);
- ``dockerd``, ``containerd``, each container's ``containerd-shim``, and ``runc``'s
  commands (create, start, delete);
- ``runc init`` (its ``runc:[n:...]`` stages: the container's namespaces, mounts,
  seccomp filter; it becomes the container's PID 1);
- the containers' own processes (``sh``, ``cp``, ``python3``): the host's ``cpuacct``
  of ``/muscode.docker`` (every container's parent) less ``runc init``, which runs in
  the container's cgroup;
- kernel workers (``kworker``, ``ksoftirqd``, ...: the deferred work of mounts,
  namespaces and cgroups going away, among others' work);
- everything else on the machine (other users' load: not counted).

CPU is load-independent: a busy machine slows the runs, not the CPU each costs. Shared
parts (the engine, the shims, runc, kernel workers) are divided by every container the
engine created in the window (``docker events``: others may use the engine too), the
server by this bench's runs. The implied ceiling is cores / CPU seconds per run.

    .venv/bin/python bench/bench_docker_cpu.py [--burst 60] [--rounds 3] [--clients 6]
        [--workers 2] [--runtime runc] [--freq 999]

Needs root (perf, the cgroupfs), dockerd and the runner image.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_throughput import burst, docker_ready
from benchkit import WARM_UP, Server

CPUACCT = Path("/sys/fs/cgroup/cpuacct/muscode.docker/cpuacct.usage")
KERNEL_THREADS = ("kworker", "ksoftirqd", "rcu_", "kswapd", "migration", "kcompactd")


def pid_of(name: str) -> int:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) if out.stdout.split() else -1


def containers_created(since: float, until: float) -> tuple[int, int]:
    """(all, ours) containers the engine created between the two times; ours are the
    ``muscode-`` ones."""
    out = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--format",
            "{{json .Actor.Attributes.name}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return len(names), sum(1 for n in names if n.startswith("muscode-"))


def cpuacct_ns() -> int:
    try:
        return int(CPUACCT.read_text())
    except (OSError, ValueError):
        return 0


def part_of(comm: str, pid: int, pids: dict[str, int]) -> str:
    if pid == pids["server"]:
        return "server"
    if pid == pids["dockerd"]:
        return "dockerd"
    if pid == pids["containerd"]:
        return "containerd"
    if comm.startswith("containerd-shim"):
        return "shim"
    if comm.startswith("runc:["):
        return "runc init"
    if comm.startswith("runc"):
        return "runc"
    if comm.startswith(KERNEL_THREADS):
        return "kernel workers"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runtime", default="runc")
    parser.add_argument("--freq", type=int, default=999)
    parser.add_argument("--image", default="muscode-runner:latest")
    parser.add_argument("--server-arg", action="append", default=[], help="extra server flag")
    args = parser.parse_args()
    why = docker_ready(args.image)
    if why is not None or shutil.which("perf") is None:
        raise SystemExit(f"cannot measure: {why or 'no perf'}")
    cores = os.cpu_count() or 1
    server = Server(
        "docker",
        f"--Queue.concurrency={args.workers}",
        f"--DockerSandbox.runtime={args.runtime}",
        *args.server_arg,
        start_timeout=240,
    )
    pids = {"server": server.proc.pid, "dockerd": pid_of("dockerd"), "containerd": -1}
    pids["containerd"] = pid_of("containerd")
    tmp = Path(tempfile.mkdtemp(prefix="muscode-cpu-"))
    totals: collections.Counter[str] = collections.Counter()
    others: collections.Counter[str] = collections.Counter()
    rates, runs, created_all, created_ours, wall = [], 0, 0, 0, 0.0
    container_ns = 0
    try:
        for _ in range(WARM_UP):
            server.run("python")
        for r in range(args.rounds):
            data = tmp / f"perf-{r}.data"
            perf = subprocess.Popen(
                ["perf", "record", "-e", "cpu-clock", "-F", str(args.freq), "-a", "-o", str(data)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # perf is recording
            t0, ns0 = time.time(), cpuacct_ns()
            seconds, done = burst(lambda c, i: server.run("python"), args.burst, args.clients)
            # The last runs' containers are removed in the background: let that finish.
            time.sleep(1.0)
            t1, ns1 = time.time(), cpuacct_ns()
            perf.send_signal(2)
            perf.wait(60)
            rates.append(len(done) / seconds)
            runs += len(done)
            wall += t1 - t0
            container_ns += ns1 - ns0
            all_made, ours = containers_created(t0, t1)
            created_all += all_made
            created_ours += ours
            script = subprocess.run(
                ["perf", "script", "-i", str(data), "-F", "comm,pid"],
                capture_output=True,
                text=True,
                check=True,
            )
            for line in script.stdout.splitlines():
                comm, _, pid = line.strip().rpartition(" ")
                if pid.isdigit():
                    part = part_of(comm.strip(), int(pid), pids)
                    totals[part] += 1
                    if part == "other":
                        others[comm.strip()] += 1
            print(
                f"round {r + 1}: {rates[-1]:.1f} runs/s, {ours} of {all_made} containers "
                f"created ours, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    per_sample_ms = 1000 / args.freq
    # The engine's events can miss a few creations: each run of ours made one container.
    shared = max(created_all - created_ours + runs, 1)
    # runc init runs in the container's cgroup: cpuacct counts it with the program.
    init_ms = totals["runc init"] * per_sample_ms / shared
    own_ms = container_ns / 1e6 / max(runs, 1)
    rows = {
        "MUSCode server": totals["server"] * per_sample_ms / max(runs, 1),
        "dockerd": totals["dockerd"] * per_sample_ms / shared,
        "containerd": totals["containerd"] * per_sample_ms / shared,
        "containerd-shim": totals["shim"] * per_sample_ms / shared,
        "runc (create, start, delete)": totals["runc"] * per_sample_ms / shared,
        "runc init (the container's set-up)": init_ms,
        "the container's own processes (sh, cp, python3)": max(0.0, own_ms - init_ms),
        "kernel workers": totals["kernel workers"] * per_sample_ms / shared,
    }
    total = sum(rows.values())
    print(
        f"\n## Docker sandbox ({args.runtime}), Python hello world, {args.clients} clients, "
        f"{args.workers} workers: CPU per run ({runs} runs; {created_all} containers "
        f"created, {created_ours} ours; perf at {args.freq} Hz)\n"
    )
    print("| part | CPU ms/run | share |")
    print("|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.1f} | {ms / total:.0%} |")
    print(f"| **total** | **{total:.1f}** | |")
    other = totals["other"] * per_sample_ms / 1000 / wall
    print(
        f"\nimplied ceiling: {cores} cores / {total:.1f} ms = {cores * 1000 / total:.1f} runs/s; "
        f"measured {statistics.median(rates):.1f} runs/s (median of {len(rates)} bursts); "
        f"other processes used {other:.2f} cores meanwhile"
    )
    busiest = others.most_common(12)
    top = ", ".join(f"{comm} {n * per_sample_ms / 1000:.1f} s" for comm, n in busiest)
    print(f"other processes' CPU (not counted; the containers' own are among them): {top}")


if __name__ == "__main__":
    main()
