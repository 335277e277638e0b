"""The host's side of a notebook run: validation of uploads, the executor's files and
arguments, reading its progress stream (whole or cut short), and verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.notebooks import executor as ex
from muscode_ext.notebooks import nbevents as nbe
from muscode_ext.notebooks.validate import InvalidNotebook, notebook_problem, read_notebook

from .conftest import DATA, STUDENTS, notebook, run_executor

VALID = notebook("print(1)", "# title", markdown=(1,))


def test_a_valid_notebook_reads_and_old_ones_get_ids() -> None:
    assert notebook_problem(json.dumps(VALID)) is None
    old = {**VALID, "nbformat_minor": 4, "cells": [dict(c) for c in VALID["cells"]]}
    for cell in old["cells"]:
        cell.pop("id")
    assert read_notebook(json.dumps(old).encode()).cells[0].source == "print(1)"
    new = {**VALID, "cells": [{**c} for c in VALID["cells"]]}
    for cell in new["cells"]:
        cell.pop("id")
    assert all(c.get("id") for c in read_notebook(new).cells)  # nbformat 4.5 needs them


@pytest.mark.parametrize(
    ("content", "message", "path"),
    [
        (b"\xff\xfe", "The notebook is not UTF-8 text.", None),
        ("[1,", "The notebook is not valid JSON: Expecting value", None),
        ("[]", "The notebook is not a JSON object.", None),
        ({"nbformat": 3, "worksheets": []}, "nbformat 3 is not supported", None),
        ({**VALID, "cells": 5}, "not valid nbformat at cells: 5 is not of type 'array'", "cells"),
        (
            {**VALID, "cells": [{**VALID["cells"][0], "source": 5}]},
            "not valid nbformat at cells[0].source",
            "cells[0].source",
        ),
        (
            {**VALID, "cells": [{**VALID["cells"][0], "outputs": [{"output_type": "nope"}]}]},
            "not valid nbformat at cells[0].outputs[0]",
            "cells[0].outputs[0]",
        ),
        ({"nbformat": 4, "nbformat_minor": 5, "cells": []}, "'metadata' is a required", None),
    ],
)
def test_an_invalid_notebook_says_what_is_wrong(
    content: Any, message: str, path: str | None
) -> None:
    problem = notebook_problem(content)
    assert problem is not None
    assert message in problem.message
    assert problem.as_dict() == {
        "message": problem.message,
        "reason": "invalid_notebook",
        "path": path,
    }
    with pytest.raises(InvalidNotebook):
        read_notebook(content)


def test_the_executor_files_and_arguments() -> None:
    files = dict(ex.executor_files())
    assert set(files) == {".muscode/nbrun.py", ".muscode/nbevents.py", ".muscode/nbkernel.py"}
    assert ex.EXECUTOR_MAIN in files
    here = Path(ex.__file__).parent
    assert files[ex.EXECUTOR_MAIN] == (here / "nbrun.py").read_bytes()
    assert ex.executor_args("a.ipynb") == ["a.ipynb", "--max-output-bytes", "1048576"]
    assert ex.executor_args(
        "a.ipynb", allow_errors=True, cell_timeout_s=30, deadline_s=9.5, max_output_bytes=10
    ) == [
        "a.ipynb",
        "--max-output-bytes",
        "10",
        "--allow-errors",
        "--cell-timeout",
        "30",
        "--deadline",
        "9.5",
    ]
    assert ex.output_cap_bytes(VALID, 1000) == 1000 + nbe.PER_CELL_RESERVE + nbe.START_RESERVE


def test_progress_is_read_chunk_by_chunk() -> None:
    reader = ex.ProgressReader()
    line = json.dumps({"event": "cell_start", "index": 0}).encode() + b"\n"
    assert reader.feed(line[:5]) == []
    assert reader.feed(line[5:] + b"garbage\n[1]\n" + line[:3]) == [
        {"event": "cell_start", "index": 0}
    ]
    assert reader.feed(line[3:]) == [{"event": "cell_start", "index": 0}]


def test_a_stream_cut_short_still_gives_the_cells_that_ran(
    system_python: str, tmp_path: Path
) -> None:
    nb = notebook("print('one')", "print('two')", "print('three')")
    whole = run_executor(tmp_path, nb)
    lines = whole.stdout.splitlines(keepends=True)
    second_start = next(
        i for i, line in enumerate(lines) if json.loads(line) == {"event": "cell_start", "index": 1}
    )
    cut = b"".join(lines[: second_start + 1]) + lines[second_start + 1][:10]
    run = ex.parse_run(nb, cut)
    assert run.status == "stopped"
    assert [c["status"] for c in run.cells] == ["ok", "error", "not_run"]
    assert run.cells[1]["evalue"] == "The run was stopped while this cell was running."
    assert run.notebook["cells"][0]["outputs"][0]["text"] == "one\n"
    assert nb["cells"][0]["outputs"] == []  # the notebook sent is left alone


def test_live_messages() -> None:
    assert ex.live_message({"event": "cell_start", "index": 2}) == {
        "type": "cell",
        "index": 2,
        "status": "running",
    }
    end = {"event": "cell_end", "index": 2, "status": "error", "time_ms": 5, "ename": "E"}
    assert ex.live_message(end) == {
        "type": "cell",
        "index": 2,
        "status": "error",
        "time_ms": 5,
        "ename": "E",
        "evalue": None,
    }
    out = {"output": {"output_type": "stream", "name": "stderr", "text": "x"}, "index": 1}
    assert ex.live_message({"event": "output", **out}) == {"type": "stderr", "data": "x", "cell": 1}
    display = {"output": {"output_type": "display_data", "data": {}}, "index": 1}
    assert ex.live_message({"event": "output", **display}) is None


def _run(status: str, cells: list[dict[str, Any]], message: str | None = None) -> ex.NotebookRun:
    return ex.NotebookRun(notebook={}, cells=cells, status=status, message=message)


FAILED = {"index": 3, "status": "error", "ename": "KeyError", "evalue": "'x'"}
OOM = {"index": 1, "status": "error", "ename": "MemoryError", "evalue": ""}


@pytest.mark.parametrize(
    ("run", "sandbox", "allow", "expected"),
    [
        (_run("ok", []), "accepted", False, ("accepted", None)),
        (
            _run("error", [FAILED]),
            "runtime_error",
            False,
            ("runtime_error", "Cell 4 raised KeyError: 'x'"),
        ),
        (_run("error", [FAILED]), "runtime_error", True, ("accepted", None)),
        (
            _run("error", [OOM]),
            "runtime_error",
            True,
            ("memory_limit_exceeded", "Cell 2 ran out of memory."),
        ),
        (
            _run("died", [FAILED], "cell 4: dead"),
            "runtime_error",
            True,
            ("runtime_error", "cell 4: dead"),
        ),
        (_run("died", [FAILED]), "memory_limit_exceeded", True, ("memory_limit_exceeded", None)),
        (_run("timeout", [], "late"), "runtime_error", False, ("time_limit_exceeded", "late")),
        (_run("stopped", []), "time_limit_exceeded", False, ("time_limit_exceeded", None)),
        (_run("stopped", []), "output_limit_exceeded", False, ("output_limit_exceeded", None)),
        (_run("stopped", []), "cancelled", False, ("cancelled", None)),
        (
            _run("no_kernel", [], "no IPython"),
            "runtime_error",
            False,
            ("internal_error", "Notebooks cannot run here: no IPython"),
        ),
        (
            _run("stopped", []),
            "runtime_error",
            False,
            ("internal_error", "The notebook executor stopped without a result."),
        ),
    ],
)
def test_verdicts(
    run: ex.NotebookRun, sandbox: str, allow: bool, expected: tuple[str, str | None]
) -> None:
    assert ex.run_verdict(run, sandbox, allow) == expected


@pytest.mark.parametrize(
    "name", ["source/squares", "release/squares", *(f"submitted/{s}" for s in STUDENTS)]
)
def test_the_fixture_notebooks_are_valid(name: str) -> None:
    assert notebook_problem((DATA / f"{name}.ipynb").read_bytes()) is None
