"""The notebook executor's progress protocol, shared by ``nbrun.py`` (in the sandbox)
and the host: exit codes, output budget constants, the stdlib shape check, and the
:class:`Assembler` that turns progress events back into the executed notebook.

Stand-alone (standard library only): it is copied into the sandbox beside ``nbrun.py``.
"""

from __future__ import annotations

from typing import Any

PROTOCOL = 1
#: Exit codes of ``nbrun.py`` (2 is argparse's: bad usage).
EXIT_OK = 0
EXIT_INTERNAL = 1  # the executor itself failed (also Python's code for an uncaught error)
EXIT_CELL_ERROR = 3  # a cell raised (the run stopped there unless errors were allowed)
EXIT_INVALID = 4  # the notebook could not be read or has the wrong shape
EXIT_KERNEL_DIED = 5  # the kernel died (memory, a signal, os._exit)
EXIT_TIMEOUT = 6  # a cell or the whole run ran out of time
EXIT_NO_KERNEL = 7  # the kernel could not start (IPython missing)

#: Default byte budget of all outputs, counted as the progress lines that carry them.
DEFAULT_OUTPUT_BYTES = 1024 * 1024
#: What one code cell may still write once the budget is spent (truncation notes, an
#: error, a shortened result, the cell's own events): a sandbox's output cap for a
#: notebook run must be at least ``budget + PER_CELL_RESERVE * code_cells + START_RESERVE``.
PER_CELL_RESERVE = 16 * 1024
START_RESERVE = 4 * 1024
#: Caps of what is always kept: an error's traceback (bytes) and values (characters).
TRACEBACK_BYTES = 8 * 1024
TEXT_CHARS = 1000

Json = dict[str, Any]


def source_of(cell: Json) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def check_notebook(nb: Any) -> str | None:
    """None if ``nb`` has the shape this executor needs, else what is wrong (naming the
    cell). The host validates against the full nbformat schema; this is the stdlib
    subset that keeps the executor safe from whatever file it is given."""
    if not isinstance(nb, dict):
        return "the notebook is not a JSON object"
    if nb.get("nbformat") != 4:
        return f"nbformat {nb.get('nbformat')!r} is not supported (4 is)"
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return "the notebook has no list of cells"
    if not isinstance(nb.get("metadata", {}), dict):
        return "the notebook's metadata is not an object"
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            return f"cell {i + 1} is not an object"
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {i + 1} has an unknown cell_type {cell.get('cell_type')!r}"
        src = cell.get("source")
        if not (
            isinstance(src, str) or (isinstance(src, list) and all(isinstance(s, str) for s in src))
        ):
            return f"cell {i + 1}: source must be a string or a list of strings"
        if not isinstance(cell.get("metadata", {}), dict):
            return f"cell {i + 1}: metadata must be an object"
    return None


def tags(cell: Json) -> list[Any]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


class Assembler:
    """Applies progress events to a notebook, yielding the executed notebook.

    Events (one JSON object per line, each with ``"event"``):

    ``start`` {protocol, language_info}: the kernel is up; code cells' outputs cleared.
    ``cell_start`` {index}; ``cell_end`` {index, status: "ok"|"error", execution_count,
    time_ms, ename, evalue}.
    ``output`` {index, output, display_id?}: one nbformat output (a stream output
    continues the previous one of the same name).
    ``clear_output`` {index}; ``update_display`` {display_id, data, metadata}.
    ``done`` {status: "ok"|"error"|"timeout"|"died"|"invalid"|"no_kernel"|"internal",
    message, errors, truncated, exit_code}.
    """

    def __init__(self, nb: Json) -> None:
        self.nb = nb
        self.results: dict[int, Json] = {}
        self.running: int | None = None
        self.done: Json | None = None
        self.started = False
        self._displays: dict[str, list[Json]] = {}

    def apply(self, ev: Json) -> None:
        kind = ev.get("event")
        cells = self.nb["cells"]
        if kind == "start":
            self.started = True
            self.nb.setdefault("metadata", {})["language_info"] = ev.get("language_info", {})
            for cell in cells:
                if cell.get("cell_type") == "code":
                    cell["outputs"], cell["execution_count"] = [], None
        elif kind == "cell_start":
            self.running = ev["index"]
            cells[ev["index"]]["outputs"] = []
        elif kind == "output":
            outs = cells[ev["index"]]["outputs"]
            out = dict(ev["output"])
            last = outs[-1] if outs else None
            if (
                out.get("output_type") == "stream"
                and last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")
            ):
                last["text"] = last["text"] + out["text"]
            else:
                outs.append(out)
                if ev.get("display_id"):
                    self._displays.setdefault(ev["display_id"], []).append(out)
        elif kind == "clear_output":
            cells[ev["index"]]["outputs"] = []
        elif kind == "update_display":
            for out in self._displays.get(ev.get("display_id", ""), []):
                out["data"], out["metadata"] = ev.get("data", {}), ev.get("metadata", {})
        elif kind == "cell_end":
            index = ev["index"]
            cells[index]["execution_count"] = ev.get("execution_count")
            self.results[index] = {k: ev.get(k) for k in ("status", "time_ms", "ename", "evalue")}
            self.running = None
        elif kind == "done":
            self.done = ev

    def cells(self) -> list[Json]:
        """Per code cell: ``{index, cell_id, status, time_ms, ename, evalue}``."""
        out = []
        for i, cell in enumerate(self.nb["cells"]):
            if cell.get("cell_type") != "code":
                continue
            res = self.results.get(i)
            if res is None and i == self.running:
                res = {
                    "status": "error",
                    "time_ms": None,
                    "ename": None,
                    "evalue": "The run was stopped while this cell was running.",
                }
            res = res or {"status": "not_run", "time_ms": None, "ename": None, "evalue": None}
            out.append({"index": i, "cell_id": cell.get("id"), **res})
        return out


def cap_error(out: Json) -> Json:
    """An error output with its traceback and values cut to the caps (start and end of
    a long traceback kept)."""
    raw = out.get("traceback")
    tb = [str(line) for line in raw] if isinstance(raw, list) else []
    if sum(len(line) for line in tb) > TRACEBACK_BYTES:
        head: list[str] = []
        tail: list[str] = []
        size = 0
        for line in tb:  # keep the start and the end, like a truncated traceback print
            if size + len(line) > TRACEBACK_BYTES // 2:
                break
            head.append(line)
            size += len(line)
        for line in reversed(tb[len(head) :]):
            if size + len(line) > TRACEBACK_BYTES:
                break
            tail.insert(0, line)
            size += len(line)
        tb = [*head, "... traceback truncated ...", *tail]
    tb = [line[:TRACEBACK_BYTES] for line in tb]
    return {
        "output_type": "error",
        "ename": str(out.get("ename", "Error"))[:TEXT_CHARS],
        "evalue": str(out.get("evalue", ""))[:TEXT_CHARS],
        "traceback": tb,
    }
