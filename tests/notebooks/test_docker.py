"""Notebooks in the Docker sandbox: the runner image has IPython (python3-ipykernel),
and a notebook run there reports its cells as in the local sandbox."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits
from muscode_ext.execution.base import Sandbox, SourceFile
from muscode_ext.notebooks.jobs import NotebookResult, run_notebook

from ..conftest import need_service
from .conftest import notebook, text_of

PYTHON = DEFAULT_LANGUAGES["python"]
LIMITS = Limits(cpu_time_ms=15_000, wall_time_ms=60_000, memory_mb=256, processes=32)


@pytest.fixture(scope="module")
def docker() -> Iterator[tuple[asyncio.AbstractEventLoop, Sandbox]]:
    from muscode_ext.execution.docker import DockerSandbox

    loop = asyncio.new_event_loop()
    sandbox = DockerSandbox(runtime=os.environ.get("MUSCODE_TEST_DOCKER_RUNTIME", "runc"))
    try:
        try:
            loop.run_until_complete(sandbox.start())
            problem = loop.run_until_complete(sandbox.check())
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            need_service("the docker sandbox", problem)
        yield loop, sandbox
    finally:
        loop.run_until_complete(sandbox.stop())
        loop.close()


def run(docker: tuple[asyncio.AbstractEventLoop, Sandbox], nb: Any, **kw: Any) -> NotebookResult:
    loop, sandbox = docker
    kw.setdefault("limits", LIMITS)
    return loop.run_until_complete(run_notebook(sandbox, PYTHON, nb, **kw))


def test_a_notebook_runs_in_the_docker_sandbox(
    docker: tuple[asyncio.AbstractEventLoop, Sandbox],
) -> None:
    seen: list[dict[str, Any]] = []
    nb = notebook(
        "import os, IPython\nprint(os.getuid(), os.getcwd())",
        "import helper\nhelper.VALUE",
        "1 / 0",
        "print('after')",
    )
    result = run(
        docker,
        nb,
        path="work/nb.ipynb",
        files=[SourceFile("work/helper.py", b"VALUE = 'beside the notebook'\n")],
        on_event=seen.append,
    )
    assert result.verdict == "runtime_error", result.message
    assert result.message is not None and "Cell 3" in result.message
    assert [c["status"] for c in result.run.cells] == ["ok", "ok", "error", "not_run"]
    assert text_of(result.run.notebook["cells"][0]).startswith("65534 /box/work")
    assert result.run.notebook["cells"][1]["outputs"][0]["data"]["text/plain"] == (
        "'beside the notebook'"
    )
    ends = [e["index"] for e in seen if e["event"] == "cell_end"]
    assert ends == [0, 1, 2]

    allowed = run(docker, nb, path="work/nb.ipynb", allow_errors=True)
    assert allowed.verdict == "accepted"
    assert text_of(allowed.run.notebook["cells"][3]) == "after\n"
