"""Notebooks in the local sandbox (bubblewrap: no network, read-only system, a small
/tmp, uid 65534, cgroup limits), through the unchanged engine and backend."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits, LocalSandbox
from muscode_ext.execution.base import SourceFile
from muscode_ext.notebooks.jobs import NotebookResult, run_notebook

from ..conftest import need_bubblewrap, need_service
from .conftest import notebook, text_of

pytestmark = pytest.mark.usefixtures("system_python")
T = TypeVar("T")
PYTHON = DEFAULT_LANGUAGES["python"]
LIMITS = Limits(cpu_time_ms=15_000, wall_time_ms=30_000, memory_mb=256, processes=32)


class Box:
    def __init__(self, loop: asyncio.AbstractEventLoop, sandbox: LocalSandbox) -> None:
        self.loop, self.sandbox = loop, sandbox

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def notebook(self, nb: dict[str, Any], **kw: Any) -> NotebookResult:
        kw.setdefault("limits", LIMITS)
        return self.run(run_notebook(self.sandbox, PYTHON, nb, **kw))


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    need_bubblewrap()
    loop = asyncio.new_event_loop()
    sandbox = LocalSandbox(work_dir_mb=32)
    loop.run_until_complete(sandbox.start())
    problem = loop.run_until_complete(sandbox.check())
    if problem is None and sandbox.mode != "bwrap":
        problem = f"the local sandbox runs in {sandbox.mode} mode"
    try:
        if problem is not None:
            need_service("the local sandbox (bubblewrap)", problem)
        yield Box(loop, sandbox)
    finally:
        loop.run_until_complete(sandbox.stop())
        loop.close()


def test_a_notebook_runs_in_the_sandbox_with_live_cell_events(box: Box) -> None:
    seen: list[dict[str, Any]] = []
    nb = notebook(
        "import os, socket\nprint(os.getuid(), os.getcwd())",
        "import helper\nhelper.VALUE",
        "try:\n    socket.create_connection(('127.0.0.1', 5432), timeout=2)\n"
        "except OSError as exc:\n    print(type(exc).__name__)",
        "open('/usr/evil', 'w')",
    )
    result = box.notebook(
        nb,
        path="work/nb.ipynb",
        files=[SourceFile("work/helper.py", b"VALUE = 'beside the notebook'\n")],
        on_event=seen.append,
        allow_errors=True,
    )
    assert result.verdict == "accepted", result.message
    assert result.run.status == "error"
    assert [c["status"] for c in result.run.cells] == ["ok", "ok", "ok", "error"]
    assert text_of(result.run.notebook["cells"][0]) == "65534 /box/work\n"
    assert result.run.notebook["cells"][1]["outputs"][0]["data"]["text/plain"] == (
        "'beside the notebook'"
    )
    assert text_of(result.run.notebook["cells"][2]) == "ConnectionRefusedError\n"
    assert result.run.cells[3]["ename"] in ("OSError", "PermissionError")
    kinds = [(e["event"], e.get("index")) for e in seen if e["event"].startswith("cell")]
    assert kinds == [(k, i) for i in range(4) for k in ("cell_start", "cell_end")]
    assert seen[-1]["event"] == "done"


def test_the_kernel_cannot_reach_the_progress_channel(box: Box) -> None:
    probe = (
        "import os\n"
        "for path in (f'/proc/{os.getppid()}/fd/1', f'/proc/{os.getppid()}/mem'):\n"
        "    try:\n"
        '        open(path, \'wb\').write(b\'{"event": "done", "status": "ok"}\\n\')\n'
        "        print('opened', path)\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)"
    )
    result = box.notebook(notebook(probe, "1 / 0"))
    assert text_of(result.run.notebook["cells"][0]) == "PermissionError\nPermissionError\n"
    assert [e["event"] for e in result.run.events].count("done") == 1
    assert result.verdict == "runtime_error"
    assert result.message == "Cell 2 raised ZeroDivisionError: division by zero"


def test_a_fork_bomb_ends_as_any_program_would(box: Box) -> None:
    bomb = notebook("import os\nwhile True:\n    os.fork()", "print('after the bomb')")
    # Copies of a kernel are big: with the usual memory the bomb hits that limit first.
    small = box.notebook(bomb, allow_errors=True)
    assert small.verdict == "memory_limit_exceeded"
    assert [c["status"] for c in small.run.cells] == ["error", "not_run"]
    # With room to spare it is the process limit: the cell fails, the notebook goes on.
    roomy = Limits(cpu_time_ms=30_000, wall_time_ms=60_000, memory_mb=1024, processes=12)
    big = box.notebook(bomb, allow_errors=True, limits=roomy)
    assert (big.verdict, big.message) == ("accepted", None)
    assert [c["status"] for c in big.run.cells] == ["error", "ok"]
    assert big.run.cells[0]["ename"] == "BlockingIOError"
    assert text_of(big.run.notebook["cells"][1]) == "after the bomb\n"


def test_memory_limits(box: Box) -> None:
    big = box.notebook(notebook("x = bytearray(4 * 1024**3)", "print('not reached')"))
    assert big.run.cells[0]["ename"] == "MemoryError"
    assert (big.verdict, big.message) == ("memory_limit_exceeded", "Cell 1 ran out of memory.")
    grow = (
        "chunks = []\nwhile True:\n    chunks.append(bytearray(8 * 1024**2))\n"
        "    chunks[-1][::4096] = b'x' * 2048"
    )
    slow = box.notebook(notebook(grow, "print('not reached')"))
    assert slow.verdict == "memory_limit_exceeded", (slow.run.status, slow.message)
    assert slow.run.cells[1]["status"] == "not_run"


def test_time_runs_out_before_the_sandbox_kills_the_run(box: Box) -> None:
    limits = Limits(cpu_time_ms=15_000, wall_time_ms=5_000, memory_mb=256, processes=32)
    nb = notebook("print('done in time')", "import time\ntime.sleep(600)", "print('never')")
    result = box.notebook(nb, limits=limits)
    assert result.verdict == "time_limit_exceeded"
    assert [c["status"] for c in result.run.cells] == ["ok", "error", "not_run"]
    assert text_of(result.run.notebook["cells"][0]) == "done in time\n"


def test_a_flood_of_output_is_capped_not_fatal(box: Box) -> None:
    nb = notebook("for i in range(10**6):\n    print(i)", "print('end')")
    result = box.notebook(nb, max_output_bytes=50_000)
    assert result.verdict == "accepted", result.message
    assert result.run.truncated
    assert text_of(result.run.notebook["cells"][0]).endswith("50000 bytes]\n")
