"""Running a notebook, and grading one, on any sandbox backend.

A notebook run is an ordinary :class:`~muscode_ext.execution.base.Job` (language
``python``) driven by :func:`~muscode_ext.execution.engine.execute`, so it gets the
same isolation, limits and verdicts as any program. These functions only add what a
notebook needs: the executor's files and arguments, an output cap that fits the
notebook's output budget, a deadline just inside the wall-clock limit, the live
per-cell events, and the reading of the result.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..execution.base import Job, Limits, Sandbox, SourceFile, Stream
from ..execution.engine import ExecutionOutcome, execute
from ..execution.languages import Language
from . import executor as ex
from .autograde import NotebookScore, grading_version, score
from .nbevents import DEFAULT_OUTPUT_BYTES
from .release import SourceRecord

#: Called with each progress event as the executor reports it.
EventCallback = Callable[[dict[str, Any]], Awaitable[None] | None]
#: nbgrader's default time a cell may run when grading (its ``Execute.timeout``).
GRADING_CELL_TIMEOUT_S = 30.0
#: Time kept between the executor's own deadline and the sandbox's wall-clock kill, so
#: the executor reports the cells that ran before it is killed.
_DEADLINE_MARGIN_S = 1.0


@dataclass
class NotebookResult:
    run: ex.NotebookRun
    outcome: ExecutionOutcome
    verdict: str
    message: str | None


def notebook_job(
    language: Language,
    nb: Mapping[str, Any],
    path: str,
    files: Sequence[SourceFile],
    args: Sequence[str],
) -> Job:
    """The job of one notebook run: the project's files (never under the executor's
    folder), the notebook at ``path``, and the executor as the main file."""
    mine = {p for p, _ in ex.executor_files()} | {path}
    kept = tuple(
        f for f in files if f.path not in mine and not f.path.startswith(ex.EXECUTOR_DIR + "/")
    )
    executor = tuple(SourceFile(p, content) for p, content in ex.executor_files())
    content = json.dumps(nb, ensure_ascii=False).encode()
    return Job(
        language=language,
        files=(*kept, SourceFile(path, content), *executor),
        main=ex.EXECUTOR_MAIN,
        args=tuple(args),
    )


async def run_notebook(
    sandbox: Sandbox,
    language: Language,
    nb: Mapping[str, Any],
    *,
    limits: Limits,
    path: str = "notebook.ipynb",
    files: Sequence[SourceFile] = (),
    allow_errors: bool = False,
    cell_timeout_s: float = 0,
    max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
    on_event: EventCallback | None = None,
    cancel: asyncio.Event | None = None,
) -> NotebookResult:
    """Execute ``nb`` (already validated) headless in ``sandbox`` under ``limits``
    (whose output cap is raised to fit ``max_output_bytes``)."""
    cap_kb = math.ceil(ex.output_cap_bytes(nb, max_output_bytes) / 1024)
    limits = replace(limits, output_kb=max(limits.output_kb, cap_kb))
    deadline = max(1.0, limits.wall_time_ms / 1000 - _DEADLINE_MARGIN_S)
    args = ex.executor_args(
        path,
        allow_errors=allow_errors,
        cell_timeout_s=cell_timeout_s,
        deadline_s=deadline,
        max_output_bytes=max_output_bytes,
    )
    reader = ex.ProgressReader()
    stdout = bytearray()

    async def on_output(stream: Stream, chunk: bytes) -> None:
        if stream != "stdout":
            return
        stdout.extend(chunk)
        for event in reader.feed(chunk):
            if on_event is not None:
                maybe = on_event(event)
                if maybe is not None:
                    await maybe

    job = notebook_job(language, nb, path, files, args)
    outcome = await execute(sandbox, job, limits=limits, on_output=on_output, cancel=cancel)
    run = ex.parse_run(nb, bytes(stdout))
    verdict, message = ex.run_verdict(run, outcome.verdict, allow_errors)
    if message is None and verdict == outcome.verdict:
        message = outcome.message  # the sandbox's own words for a limit it saw
    return NotebookResult(run, outcome, verdict, message)


async def grade_notebook(
    sandbox: Sandbox,
    language: Language,
    record: SourceRecord,
    submitted: Mapping[str, Any],
    *,
    limits: Limits,
    path: str = "notebook.ipynb",
    files: Sequence[SourceFile] = (),
    cell_timeout_s: float = GRADING_CELL_TIMEOUT_S,
    max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
    on_event: EventCallback | None = None,
) -> tuple[NotebookScore, NotebookResult]:
    """Grade a student's notebook as nbgrader's ``autograde`` would: its grading
    version run with errors allowed and a timeout per cell, then scored."""
    nb = grading_version(submitted, record)
    result = await run_notebook(
        sandbox,
        language,
        nb,
        limits=limits,
        path=path,
        files=files,
        allow_errors=True,
        cell_timeout_s=cell_timeout_s,
        max_output_bytes=max_output_bytes,
        on_event=on_event,
    )
    failure = None
    if result.run.status not in ("ok", "error") or result.verdict not in (
        "accepted",
        "runtime_error",
    ):
        failure = result.message or result.run.message or result.verdict
    return score(result.run.notebook, record, result.run.cells, failure), result
