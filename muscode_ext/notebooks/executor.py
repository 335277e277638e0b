"""The host's side of a notebook run: what to put into the sandbox, how to call the
executor, and what its progress stream means.

A notebook run is an ordinary sandbox job of the ``python`` language whose main file
is the executor (``.muscode/nbrun.py`` and its two sibling modules) and whose
arguments name the notebook. The executor's stdout is its progress channel: JSON lines
only, which :class:`ProgressReader` splits as they arrive (for live per-cell progress)
and :func:`parse_run` turns into the executed notebook and the ``cells`` list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from . import nbevents

#: Folder of the job that holds the executor. A notebook run must leave a project's own
#: files under it out of the job, so that nothing a student wrote replaces the executor
#: (the kernel runs with the notebook's folder, not this one, first on ``sys.path``).
EXECUTOR_DIR = ".muscode"
EXECUTOR_FILES = ("nbrun.py", "nbevents.py", "nbkernel.py")
EXECUTOR_MAIN = f"{EXECUTOR_DIR}/nbrun.py"
#: The Debian package the executor needs where notebooks run (the host for the local
#: sandbox, the runner image for Docker). It brings python3-ipython, all the executor
#: imports, and python3-matplotlib-inline for ``%matplotlib inline``.
RUNTIME_PACKAGES = ("python3-ipykernel",)
#: Tells whether (and which) IPython the sandbox's python3 has.
VERSION_COMMAND = ("python3", "-c", "import IPython; print(IPython.__version__)")


def executor_files() -> list[tuple[str, bytes]]:
    """(path in the job, content) of the executor's files."""
    here = resources.files(__package__)
    return [(f"{EXECUTOR_DIR}/{name}", (here / name).read_bytes()) for name in EXECUTOR_FILES]


def executor_args(
    notebook: str,
    *,
    allow_errors: bool = False,
    cell_timeout_s: float = 0,
    deadline_s: float = 0,
    max_output_bytes: int = nbevents.DEFAULT_OUTPUT_BYTES,
) -> list[str]:
    """The executor's arguments. ``deadline_s`` should end the run a little before the
    sandbox's wall-clock limit, so that the cells that ran are still reported."""
    args = [notebook, "--max-output-bytes", str(max_output_bytes)]
    if allow_errors:
        args.append("--allow-errors")
    if cell_timeout_s:
        args += ["--cell-timeout", f"{cell_timeout_s:g}"]
    if deadline_s:
        args += ["--deadline", f"{deadline_s:g}"]
    return args


def output_cap_bytes(nb: Mapping[str, Any], max_output_bytes: int) -> int:
    """The stdout cap the sandbox needs so that a run within the output budget is never
    cut: the budget plus what each code cell may add past it."""
    code_cells = sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code")
    return max_output_bytes + code_cells * nbevents.PER_CELL_RESERVE + nbevents.START_RESERVE


class ProgressReader:
    """Splits the executor's stdout, chunk by chunk, into events. A line that is not a
    JSON object (only possible if the executor was killed mid-line) is dropped."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                events.append(event)
        return events


@dataclass
class NotebookRun:
    """What a notebook run produced.

    ``status`` is the executor's (``ok``, ``error``, ``timeout``, ``died``,
    ``invalid``, ``no_kernel``), or ``stopped`` when it ended without saying (the
    sandbox killed it: time, memory or output limit).
    """

    notebook: dict[str, Any]
    cells: list[dict[str, Any]]
    status: str
    message: str | None = None
    truncated: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed_cell(self) -> dict[str, Any] | None:
        """The first cell that ended in an error (the one that stopped the run)."""
        return next((c for c in self.cells if c["status"] == "error"), None)


def parse_run(sent: Mapping[str, Any], stdout: bytes) -> NotebookRun:
    """The executed notebook and per-cell results, from the notebook that was sent and
    everything the executor wrote to stdout (however early it stopped)."""
    reader = ProgressReader()
    events = reader.feed(stdout + b"\n")
    assembler = nbevents.Assembler(copy.deepcopy(dict(sent)))
    for event in events:
        try:
            assembler.apply(event)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # a malformed event: the executor is ours, so only a cut-off line
    done = assembler.done or {}
    status = done.get("status") if isinstance(done.get("status"), str) else "stopped"
    return NotebookRun(
        notebook=assembler.nb,
        cells=assembler.cells(),
        status=str(status),
        message=done.get("message"),
        truncated=bool(done.get("truncated")),
        events=events,
    )


def live_message(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run stream's message for a progress event, or None for those it does not
    show (the stream shows per-cell progress; outputs come with the result)."""
    kind = event.get("event")
    if kind == "cell_start":
        return {"type": "cell", "index": event.get("index"), "status": "running"}
    if kind == "cell_end":
        return {
            "type": "cell",
            "index": event.get("index"),
            "status": event.get("status"),
            "time_ms": event.get("time_ms"),
            "ename": event.get("ename"),
            "evalue": event.get("evalue"),
        }
    if kind == "output":
        out = event.get("output") or {}
        if out.get("output_type") == "stream" and out.get("name") in ("stdout", "stderr"):
            return {
                "type": out["name"],
                "data": str(out.get("text", "")),
                "cell": event.get("index"),
            }
    return None


def run_verdict(
    run: NotebookRun, sandbox_verdict: str, allow_errors: bool
) -> tuple[str, str | None]:
    """The verdict of a notebook run, from what the sandbox saw (its verdict by the usual
    rules) and what the executor reported. A limit the sandbox saw wins; then a cell's
    MemoryError is ``memory_limit_exceeded``; a cell that raised is ``runtime_error``
    naming the cell unless errors were allowed; a dead kernel is ``runtime_error``."""
    if sandbox_verdict in (
        "cancelled",
        "internal_error",
        "memory_limit_exceeded",
        "time_limit_exceeded",
        "output_limit_exceeded",
    ):
        return sandbox_verdict, None
    failed = run.failed_cell
    # Cells are numbered from 1 for people, as the lab shows them (``index`` is from 0).
    where = f"Cell {failed['index'] + 1}" if failed else "The notebook"
    if failed is not None and failed.get("ename") == "MemoryError":
        return "memory_limit_exceeded", f"{where} ran out of memory."
    if run.status == "ok" or (run.status == "error" and allow_errors):
        return "accepted", None
    if run.status == "error":
        return (
            "runtime_error",
            f"{where} raised {failed and failed['ename']}: {failed and failed['evalue']}",
        )
    if run.status == "timeout":
        return "time_limit_exceeded", run.message
    if run.status == "died":
        return "runtime_error", run.message
    if run.status == "no_kernel":
        return "internal_error", f"Notebooks cannot run here: {run.message}"
    return "internal_error", run.message or "The notebook executor stopped without a result."
