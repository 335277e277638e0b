"""Notebook runs the grading code asks for: owned by the server, with given files.

A run whose main file is a notebook is executed by the worker with
:func:`.notebook_worker.run_notebook_job`; its finished row holds the executed
``notebook`` and ``result["cells"]`` (docs/notebooks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Invalid
from ..execution.base import Limits
from ..notebooks.jobs import GRADING_CELL_TIMEOUT_S
from ..notebooks.nbevents import DEFAULT_OUTPUT_BYTES
from ..store import Execution
from .run_requests import NOTEBOOK_LANGUAGE, execution_row, notebook_options

if TYPE_CHECKING:
    from .executions import ExecutionService


async def graded_notebook_run(
    executions: ExecutionService,
    *,
    owner: str,
    files: Sequence[tuple[str, bytes]],
    main: str,
    limits: Limits,
    submission_id: str | None = None,
    allow_errors: bool = True,
    cell_timeout_s: float = GRADING_CELL_TIMEOUT_S,
    max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
    build_scope: str | None = None,
) -> Execution:
    """A notebook run on behalf of the server (no caller, no rate limit), not yet
    stored, like :meth:`.ExecutionService.graded_run`: ``main`` (one of ``files``) is
    the notebook, run with errors allowed and ``cell_timeout_s`` per cell by default
    (as nbgrader grades). ``owner`` must be a stored user (the grader). The caller
    stores it with what it grades, then hands it to ``executions.enqueue``; the
    finished row has ``notebook`` and ``result["cells"]``. 503 when the sandbox is
    down, 422 when Python is unavailable or ``main`` is not a notebook it can run."""
    await executions.check_runnable(NOTEBOOK_LANGUAGE)
    by_path = dict(files)
    if main not in by_path:
        raise Invalid.field("main", f"{main!r} is not one of the files")
    options = notebook_options(
        by_path[main],
        main,
        allow_errors=allow_errors,
        cell_timeout_s=cell_timeout_s,
        max_output_bytes=max_output_bytes,
    )
    row = execution_row(
        owner=owner,
        project_id=None,
        language=NOTEBOOK_LANGUAGE,
        files=list(by_path.items()),
        main=main,
        limits=limits,
        build_scope=build_scope,
        notebook=options,
    )
    row.submission_id = submission_id
    return row


async def submit_graded_notebook_run(executions: ExecutionService, **run: Any) -> Execution:
    """:func:`graded_notebook_run` (with the same keyword arguments), stored and queued
    (on the grading lane of its owner). Returns the stored row (``queued``)."""
    row = await graded_notebook_run(executions, **run)
    async with executions.db.session() as s:
        s.add(row)
    await executions.enqueue([row])
    return row
