"""Notebook runs through the queue, the worker's side.

A run whose main file is a notebook (``request["notebook"]``, see
:func:`.run_requests.notebook_request`) is executed by
:func:`~muscode_ext.notebooks.jobs.run_notebook` on the runner's sandbox instead of the
plain engine. Its result is an ordinary one (verdict, times, ``stdout``/``stderr`` of
the cells) plus ``cells``; the executed notebook is stored beside it. While it runs,
its stream gets ``{"type": "cell", "index", "status", ...}`` per cell and the cells'
stdout and stderr as usual (with the ``cell`` they came from).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..execution.base import Job, Limits, Sandbox
from ..notebooks import executor as ex
from ..notebooks.jobs import run_notebook
from ..notebooks.nbevents import DEFAULT_OUTPUT_BYTES
from ..notebooks.validate import read_notebook

#: Publishes one message on the run's stream.
Publish = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class NotebookOutcome:
    """What the runner stores of a finished notebook run."""

    verdict: str
    message: str | None
    result: dict[str, Any]
    notebook: dict[str, Any]


def _stream_text(nb: dict[str, Any], name: str) -> str:
    """All text the cells wrote to stream ``name``, in cell order."""
    out = []
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if o.get("output_type") == "stream" and o.get("name") == name:
                text = o.get("text", "")
                out.append(text if isinstance(text, str) else "".join(text))
    return "".join(out)


async def run_notebook_job(
    sandbox: Sandbox,
    job: Job,
    limits: Limits,
    options: dict[str, Any],
    *,
    publish: Publish,
    cancel: asyncio.Event,
) -> NotebookOutcome:
    """Run the notebook ``job.main`` (the job's other files beside it) as a stored
    run's options say, publishing per-cell progress with ``publish``."""
    content = next(f.content for f in job.files if f.path == job.main)
    nb = read_notebook(content)  # checked when the run was submitted

    async def on_event(event: dict[str, Any]) -> None:
        message = ex.live_message(event)
        if message is not None:
            await publish(message)

    done = await run_notebook(
        sandbox,
        job.language,
        nb,
        limits=limits,
        path=job.main,
        files=[f for f in job.files if f.path != job.main],
        allow_errors=bool(options.get("allow_errors")),
        cell_timeout_s=float(options.get("cell_timeout_s") or 0),
        max_output_bytes=int(options.get("max_output_bytes") or DEFAULT_OUTPUT_BYTES),
        on_event=on_event,
        cancel=cancel,
    )
    result = done.outcome.as_dict()
    executed = done.run.notebook
    # The executor's stdout is its progress channel: a run's stdout and stderr are what
    # its cells wrote (the executor's own stderr, normally empty, after them).
    truncated = done.run.truncated
    result.update(
        verdict=done.verdict,
        message=done.message,
        stdout=_stream_text(executed, "stdout"),
        stderr=_stream_text(executed, "stderr") + done.outcome.stderr,
        truncated={
            "stdout": truncated or done.outcome.truncated.get("stdout", False),
            "stderr": truncated or done.outcome.truncated.get("stderr", False),
        },
        tests=None,
        cells=done.run.cells,
    )
    return NotebookOutcome(done.verdict, done.message, result, executed)
