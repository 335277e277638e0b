"""Notebook runs and nbgrader grading: MUSCode's executor against nbclient, MUSCode's
grading against ``nbgrader autograde``, both sides measured in the same run.

1. Executor overhead: one 10-cell notebook, run ``--runs`` times each by nbclient with
   a fresh ipykernel (what nbgrader and ``jupyter execute`` do), by ``nbrun.py``
   unsandboxed, and by ``nbrun.py`` in the local sandbox; all with the system python3.
2. Grading throughput: ``--submissions`` student notebooks of an nbgrader assignment
   with 10 autograded cells (plus a hidden test), graded by ``nbgrader autograde`` in
   a temporary course, and by MUSCode's grading core (grading version, executor in the
   local sandbox, scores) with 1 and 2 notebooks at a time. The scores are compared.

    .venv/bin/python bench/bench_notebooks.py [--runs 10] [--submissions 100]
        [--concurrency 1,2]

nbgrader comes with the ``test`` extra. The service's queue and workers add a few
milliseconds a run on top of the grading core (see bench_grading.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits, LocalSandbox  # noqa: E402
from muscode_ext.notebooks import executor as ex  # noqa: E402
from muscode_ext.notebooks.jobs import grade_notebook, run_notebook  # noqa: E402
from muscode_ext.notebooks.release import make_release  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_grading import call  # noqa: E402
from benchkit import Server  # noqa: E402

PYTHON = "/usr/bin/python3"
TESTS = 10
LIMITS = Limits(cpu_time_ms=30_000, wall_time_ms=60_000, memory_mb=256, processes=32)


def _cell(kind: str, source: str, nbgrader: dict[str, Any] | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def source_notebook() -> dict[str, Any]:
    """f0..f9, each a solution cell and an autograded test; f0's test has hidden tests."""
    cells = [_cell("markdown", "# Ten functions")]
    for i in range(TESTS):
        cells.append(
            _cell(
                "code",
                f"def f{i}(x):\n    ### BEGIN SOLUTION\n    return x * {i + 1}\n"
                "    ### END SOLUTION",
                {"grade": False, "solution": True, "locked": False, "grade_id": f"f{i}"},
            )
        )
        hidden = "\n### BEGIN HIDDEN TESTS\nassert f0(100) == 100\n### END HIDDEN TESTS"
        cells.append(
            _cell(
                "code",
                f"assert f{i}(2) == {2 * (i + 1)}\nassert f{i}(-1) == {-(i + 1)}"
                + (hidden if i == 0 else ""),
                {
                    "grade": True,
                    "solution": False,
                    "locked": True,
                    "grade_id": f"test_f{i}",
                    "points": 1,
                },
            )
        )
    kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return {
        "cells": cells,
        "metadata": {"kernelspec": kernelspec},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def submission(release: dict[str, Any], n: int) -> dict[str, Any]:
    """Student n: every function right, except f(n % 10) for every third student."""
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
        if grade_id.startswith("f"):
            i = int(grade_id[1:])
            factor = i + 2 if (n % 3 == 0 and i == n % TESTS) else i + 1
            cell["source"] = f"def f{i}(x):\n    return x * {factor}"
    return nb


def plain_notebook() -> dict[str, Any]:
    cells = [_cell("code", f"x{i} = sum(range({i} * 1000))\nprint(x{i})") for i in range(10)]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


NBCLIENT = textwrap.dedent(
    """
    import sys, nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(sys.argv[1], as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    """
)


def bench_executor(runs: int) -> None:
    nb = plain_notebook()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "nb.ipynb").write_text(json.dumps(nb))
        for path, content in ex.executor_files():
            (work / path).parent.mkdir(exist_ok=True)
            (work / path).write_bytes(content)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
        commands = {
            "nbclient + ipykernel": [PYTHON, "-c", NBCLIENT, "nb.ipynb"],
            "nbrun.py": [PYTHON, "-E", "-s", "-B", ex.EXECUTOR_MAIN, "nb.ipynb"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        times["nbrun.py in the local sandbox"] = []
        for _ in range(runs):  # interleaved, so that load shifts hit both
            for name, argv in commands.items():
                t0 = time.perf_counter()
                subprocess.run(argv, cwd=work, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - t0)
        times["nbrun.py in the local sandbox"] = asyncio.run(_sandboxed_runs(nb, runs))
    base = statistics.median(times["nbclient + ipykernel"])
    print(f"\n1. One 10-cell notebook, median of {runs} runs (system python3)")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"   {name:32s} {med * 1000:7.0f} ms   {base / med:4.1f}x nbclient's speed")


async def _sandboxed_runs(nb: dict[str, Any], runs: int) -> list[float]:
    sandbox = LocalSandbox(work_dir_mb=32)
    await sandbox.start()
    out = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            result = await run_notebook(sandbox, DEFAULT_LANGUAGES["python"], nb, limits=LIMITS)
            out.append(time.perf_counter() - t0)
            assert result.verdict == "accepted", result.message
    finally:
        await sandbox.stop()
    return out


def nbgrader_autograde(
    source: dict[str, Any], subs: list[dict[str, Any]]
) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "source" / "ps1").mkdir(parents=True)
        (root / "source" / "ps1" / "ten.ipynb").write_text(json.dumps(source))
        (root / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {tmp!r}\n"
        )
        for n, nb in enumerate(subs):
            (root / "submitted" / f"s{n:03d}" / "ps1").mkdir(parents=True)
            (root / "submitted" / f"s{n:03d}" / "ps1" / "ten.ipynb").write_text(json.dumps(nb))
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

        def nbgrader(*args: str) -> None:
            subprocess.run(
                [sys.executable, "-m", "nbgrader", *args, "--force"],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
            )

        nbgrader("generate_assignment", "ps1")
        t0 = time.perf_counter()
        nbgrader("autograde", "ps1")
        elapsed = time.perf_counter() - t0
        dump = (
            "import json, sys, warnings\nwarnings.simplefilter('ignore')\n"
            "from nbgrader.api import Gradebook\n"
            f"with Gradebook('sqlite:///{tmp}/gradebook.db') as gb:\n"
            "    subs = gb.find_assignment('ps1').submissions\n"
            "    print(json.dumps({s.student.id: s.score for s in subs}))"
        )
        scores = json.loads(
            subprocess.run(
                [sys.executable, "-c", dump], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        return elapsed, {k: float(v) for k, v in scores.items()}


async def muscode_grading(
    source: dict[str, Any], subs: list[dict[str, Any]], concurrency: int
) -> tuple[float, dict[str, float]]:
    _, record = make_release(source)
    sandbox = LocalSandbox(work_dir_mb=32)
    await sandbox.start()
    gate = asyncio.Semaphore(concurrency)
    scores: dict[str, float] = {}

    async def one(n: int, nb: dict[str, Any]) -> None:
        async with gate:
            score, _ = await grade_notebook(
                sandbox, DEFAULT_LANGUAGES["python"], record, nb, limits=LIMITS, path="ten.ipynb"
            )
            scores[f"s{n:03d}"] = score.auto_points

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(n, nb) for n, nb in enumerate(subs)))
        return time.perf_counter() - t0, scores
    finally:
        await sandbox.stop()


def service_grading(
    source: dict[str, Any], subs: list[dict[str, Any]], workers: int
) -> dict[str, tuple[float, dict[str, float]]]:
    """Seconds until staff see every grade, and the scores: once as the students
    submit, once for a regrade of them all."""
    server = Server(
        "local", f"--MuscodeApp.workers={workers}", "--MuscodeApp.max_queue_depth=100000"
    )

    def graded(aid: str, start: float) -> tuple[float, dict[str, float]]:
        while call(server, "GET", f"assignments/{aid}")["grading"]["pending"]:
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        done = call(server, "GET", f"assignments/{aid}/submissions")
        return elapsed, {f"s{s['attempt'] - 1:03d}": float(s["raw_score"]) for s in done}

    try:
        slug = f"bench-nb-{int(time.time() * 1000)}"
        cid = call(server, "POST", "classes", {"slug": slug, "name": "Bench"})["id"]
        body = {
            "title": "Ten functions",
            "language": "python",
            "format": "nbgrader",
            "published": True,
            "starter_files": [{"path": "ten.ipynb", "content": json.dumps(source)}],
        }
        aid = call(server, "POST", f"classes/{cid}/assignments", body)["id"]
        project = call(server, "POST", f"assignments/{aid}/start")["id"]
        files = call(server, "GET", f"projects/{project}/files")
        notebook = next(f for f in files if f["path"] == "ten.ipynb")
        start = time.perf_counter()
        for nb in subs:
            edit = {"content": json.dumps(nb), "version": notebook["version"]}
            notebook = call(server, "PUT", f"projects/{project}/files/{notebook['id']}", edit)
            call(server, "POST", f"assignments/{aid}/submissions", {"project_id": project})
        phases = {"submitted": graded(aid, start)}
        # The regrade starts once the last grade is released to its student: until then
        # that submission holds its worker (hidden-test timing), and a regrade waits.
        released = max(
            datetime.fromisoformat(s["graded_at"].replace("Z", "+00:00"))
            for s in call(server, "GET", f"assignments/{aid}/submissions")
        )
        while datetime.now(timezone.utc) <= released:
            time.sleep(0.1)
        start = time.perf_counter()
        call(server, "POST", f"assignments/{aid}/regrade")
        phases["regraded"] = graded(aid, start)
        return phases
    finally:
        server.stop()


def bench_grading(count: int, concurrency: list[int], workers: int) -> None:
    source = source_notebook()
    release, _ = make_release(source)
    subs = [submission(release, n) for n in range(count)]
    print(f"\n2. Grading {count} submissions x {TESTS} autograded cells")
    base, theirs = nbgrader_autograde(source, subs)
    print(f"   nbgrader autograde                 {base:7.1f} s   {count / base:5.2f} notebooks/s")
    for c in concurrency:
        elapsed, ours = asyncio.run(muscode_grading(source, subs, c))
        same = "same scores" if ours == theirs else "SCORES DIFFER"
        print(
            f"   MUSCode, {c} at a time, sandboxed     {elapsed:7.1f} s   {count / elapsed:5.2f} "
            f"notebooks/s   {base / elapsed:4.1f}x nbgrader   ({same})"
        )
    for phase, (elapsed, ours) in service_grading(source, subs, workers).items():
        same = "same scores" if ours == theirs else "SCORES DIFFER"
        print(
            f"   MUSCode service, {workers} workers, {phase:9s} {elapsed:7.1f} s   "
            f"{count / elapsed:5.2f} notebooks/s   {base / elapsed:4.1f}x nbgrader   ({same})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--concurrency", default="1,2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-executor", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_executor:
        bench_executor(args.runs)
    bench_grading(args.submissions, [int(c) for c in args.concurrency.split(",")], args.workers)


if __name__ == "__main__":
    main()
