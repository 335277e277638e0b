"""Grading throughput: 100 submissions x 10 tests of a C program, 1 and 2 workers.

Each submission is graded by one compile-once-run-many run, so grading 100
submissions costs about 100 compiles and 1,000 short runs. The script measures the
wall time of grading them all (submit, then wait until the assignment reports nothing
pending) and, from the grading runs themselves, the time spent compiling and running.
The baseline, measured in the same run with the same server, is what compiling for
every test would cost: single-test runs (one compile and one run each), timed and
scaled to the same 1,000 tests.

    .venv/bin/python bench/bench_grading.py [--submissions 100] [--tests 10]
        [--backends local,docker] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import TOKEN, Server

PROGRAM = (
    "#include <stdio.h>\n"
    "int main(void) { long a, b;\n"
    '  if (scanf("%ld %ld", &a, &b) != 2) return 1;\n'
    '  printf("%ld\\n", a + b); return 0; }\n'
)


def call(server: Server, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/muscode/v1/{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def tests(n: int) -> list[dict[str, Any]]:
    return [
        {"name": f"t{i}", "stdin": f"{i} {i * 7}\n", "expected_output": f"{i * 8}\n"}
        for i in range(n)
    ]


def grade(server: Server, submissions: int, n_tests: int) -> dict[str, float]:
    slug = f"bench-{int(time.time() * 1000)}"
    cid = call(server, "POST", "classes", {"slug": slug, "name": "Bench"})["id"]
    aid = call(
        server,
        "POST",
        f"classes/{cid}/assignments",
        {"title": "Add", "language": "c", "tests": tests(n_tests), "published": True},
    )["id"]
    project = call(server, "POST", f"assignments/{aid}/start")
    call(server, "POST", f"projects/{project['id']}/files", {"path": "main.c", "content": PROGRAM})
    start = time.perf_counter()
    for _ in range(submissions):
        call(server, "POST", f"assignments/{aid}/submissions", {"project_id": project["id"]})
    while call(server, "GET", f"assignments/{aid}")["grading"]["pending"]:
        time.sleep(0.2)
    wall = time.perf_counter() - start
    subs = call(server, "GET", f"assignments/{aid}/submissions")
    bad = [s for s in subs if s["score"] != n_tests]
    if bad:
        raise SystemExit(f"{len(bad)} submissions not fully correct: {bad[0]}")
    runs = [r for r in call(server, "GET", "executions?limit=200") if r.get("tests")]
    runs = runs[:submissions]
    compile_s = sum((r["compile_time_ms"] or 0) for r in runs) / 1000
    run_s = sum((r["wall_time_ms"] or 0) for r in runs) / 1000
    return {"wall": wall, "compile": compile_s, "run": run_s}


def one_test_runs(server: Server, count: int) -> float:
    """Seconds for ``count`` single-test runs (a compile and a run each), as one batch."""
    body = {
        "language": "c",
        "files": [{"path": "main.c", "content": PROGRAM}],
        "stdin": "2 3\n",
        "expected_output": "5\n",
    }
    start = time.perf_counter()
    ids = call(server, "POST", "executions/batch", {"submissions": [body] * count})["ids"]
    while True:
        runs = call(server, "GET", "executions?ids=" + ",".join(ids))
        if all(r["status"] == "done" for r in runs):
            break
        time.sleep(0.2)
    if any(r["verdict"] != "accepted" for r in runs):
        raise SystemExit("a baseline run failed")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--submissions", type=int, default=100)
    ap.add_argument("--tests", type=int, default=10)
    ap.add_argument("--backends", default="local,docker")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    total_tests = args.submissions * args.tests
    print(f"grading {args.submissions} submissions x {args.tests} tests of a C program")
    print(
        f"{'backend':8} {'workers':>7} {'wall s':>8} {'subs/s':>7} {'compile s':>9}"
        f" {'run s':>7} {'compile share':>13} {'per-test compiles s':>19} {'ratio':>6}"
    )
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            server = Server(
                backend, f"--MuscodeApp.workers={workers}", "--MuscodeApp.max_queue_depth=100000"
            )
            try:
                # Warm up (the language probe, the Docker pool), then measure.
                one_test_runs(server, 4)
                g = grade(server, args.submissions, args.tests)
                sample = min(100, total_tests)
                per_run = one_test_runs(server, sample) / sample
            finally:
                server.stop()
            naive = per_run * total_tests
            share = g["compile"] / (g["compile"] + g["run"])
            print(
                f"{backend:8} {workers:>7} {g['wall']:>8.1f} {args.submissions / g['wall']:>7.1f}"
                f" {g['compile']:>9.1f} {g['run']:>7.1f} {share:>13.0%} {naive:>19.1f}"
                f" {g['wall'] / naive:>6.2f}"
            )
    print(
        "compile s / run s: summed over the grading runs (each worker's time);"
        " per-test compiles: the same tests as single-test runs, each compiling"
        " (measured on a sample, scaled); ratio: wall / per-test compiles."
    )


if __name__ == "__main__":
    main()
