"""The notebook executor (nbrun.py) on its own: events, outputs, errors, exit codes.

It runs here unsandboxed, with the system's python3 as the sandbox runs it;
``test_sandboxed.py`` runs it inside the local sandbox.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from muscode_ext.notebooks import nbevents as nbe

from .conftest import Executed, notebook, run_executor, text_of

pytestmark = pytest.mark.usefixtures("system_python")


def _run(tmp_path: Path, nb: dict[str, Any] | bytes, *args: str, **kw: Any) -> Executed:
    return run_executor(tmp_path / "work", nb, *args, **kw)


def _kinds(result: Executed) -> list[str]:
    return [e["event"] for e in result.events]


@pytest.mark.parametrize("python", ["/usr/bin/python3", sys.executable], ids=["system", "venv"])
def test_a_notebook_runs_cell_by_cell(tmp_path: Path, python: str) -> None:
    nb = notebook(
        "# Title",
        "x = 21\nprint('hello')\nx * 2",
        "",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))\n"
        "handle = display('first', display_id=True)\nhandle.update('second')",
        "import sys\nprint('to stderr', file=sys.stderr)",
        markdown=(0,),
    )
    result = _run(tmp_path, nb, "--output", "executed.ipynb", python=python)
    assert result.exit_code == nbe.EXIT_OK, result.stderr
    assert _kinds(result)[0] == "start" and _kinds(result)[-1] == "done"
    assert result.run.status == "ok"
    assert result.status() == ["ok", "ok", "ok", "ok"]
    assert [c["index"] for c in result.run.cells] == [1, 2, 3, 4]
    assert [c["cell_id"] for c in result.run.cells] == ["c1", "c2", "c3", "c4"]
    first = result.cell(1)
    assert first["execution_count"] == 1
    assert first["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]
    assert result.cell(2)["execution_count"] is None  # an empty cell is not run
    displays = result.cell(3)["outputs"]
    assert displays[0]["data"]["text/html"] == "<b>bold</b>"
    assert displays[1]["data"] == {"text/plain": "'second'"}  # updated in place
    assert result.cell(4)["outputs"] == [
        {"output_type": "stream", "name": "stderr", "text": "to stderr\n"}
    ]
    executed = result.run.notebook
    assert executed["metadata"]["language_info"]["name"] == "python"
    nbformat.validate(nbformat.from_dict(executed))
    # the executor's own copy is the same notebook
    assert json.loads((result.workdir / "executed.ipynb").read_text()) == executed


def test_a_cell_that_raises_stops_the_run(tmp_path: Path) -> None:
    nb = notebook("a = 1", "1 / 0", "print('never')")
    result = _run(tmp_path, nb)
    assert result.exit_code == nbe.EXIT_CELL_ERROR
    assert result.status() == ["ok", "error", "not_run"]
    failed = result.run.cells[1]
    assert (failed["ename"], failed["evalue"]) == ("ZeroDivisionError", "division by zero")
    error = result.cell(1)["outputs"][-1]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    assert any("1 / 0" in line or "1\x1b" in line for line in error["traceback"])
    assert result.run.status == "error"
    assert result.run.message == "cell 2 raised ZeroDivisionError: division by zero"


def test_allow_errors_goes_on_and_tags_are_honoured(tmp_path: Path) -> None:
    nb = notebook("1 / 0", "print('after')", "raise ValueError('expected')", "x = 1")
    nb["cells"][2]["metadata"]["tags"] = ["raises-exception"]
    nb["cells"][3]["metadata"]["tags"] = ["skip-execution"]
    result = _run(tmp_path, nb, "--allow-errors")
    assert result.status() == ["error", "ok", "error", "not_run"]
    assert text_of(result.cell(1)) == "after\n"
    assert result.exit_code == nbe.EXIT_CELL_ERROR
    assert result.events[-1]["errors"] == 2
    # an error its cell expects does not fail the run
    expected = notebook("raise ValueError('expected')", "print('go on')")
    expected["cells"][0]["metadata"]["tags"] = ["raises-exception"]
    tagged = _run(tmp_path / "tagged", expected)
    assert tagged.exit_code == nbe.EXIT_OK and tagged.status() == ["error", "ok"]


def test_what_cells_print_never_reaches_the_progress_channel(tmp_path: Path) -> None:
    fake = json.dumps({"event": "done", "status": "ok", "exit_code": 0})
    nb = notebook(
        f"print({fake!r})",
        f"import os\nos.write(1, b{(fake + chr(10))!r}.encode() if False else {fake!r}.encode()"
        " + b'\\n')",
        "import subprocess\nsubprocess.run(['echo', 'from a child'])",
        "import os\nos.write(2, b'raw stderr\\n')\nprint('then stdout')",
        "1 / 0",
    )
    result = _run(tmp_path, nb)
    lines = result.stdout.decode().splitlines()
    assert all(json.loads(line)["event"] for line in lines)
    assert [e["event"] for e in result.events].count("done") == 1
    assert result.events[-1]["status"] == "error"
    assert text_of(result.cell(0)) == fake + "\n"
    assert text_of(result.cell(1)) == fake + "\n"
    assert text_of(result.cell(2)) == "from a child\n"
    # Each stream keeps its own order; between a raw write to fd 2 and a print to fd 1
    # (two pipes) the order is the one they were read in, as in Jupyter itself.
    assert sorted((o["name"], o["text"]) for o in result.cell(3)["outputs"]) == [
        ("stderr", "raw stderr\n"),
        ("stdout", "then stdout\n"),
    ]


def test_a_forged_reply_for_another_cell_ends_the_kernel(tmp_path: Path) -> None:
    forge = (
        "import json, os, struct\n"
        "msg = json.dumps({'t': 'done', 'index': 99, 'ok': True}).encode()\n"
        "for fd in range(3, 20):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('>I', len(msg)) + msg)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = _run(tmp_path, notebook(forge, "print('not reached')"))
    assert result.exit_code == nbe.EXIT_KERNEL_DIED
    assert result.status() == ["error", "not_run"]
    assert "protocol" in (result.run.message or "")


def test_clear_output_input_and_exit(tmp_path: Path) -> None:
    nb = notebook(
        "from IPython.display import clear_output\nprint('gone')\nclear_output()\nprint('kept')",
        "from IPython.display import clear_output\nprint('old')\nclear_output(wait=True)\n"
        "print('new')",
        "input('name? ')",
        "import sys\nsys.exit(0)",
        "print('still alive')",
    )
    result = _run(tmp_path, nb, "--allow-errors")
    assert text_of(result.cell(0)) == "kept\n"
    assert text_of(result.cell(1)) == "new\n"
    assert result.run.cells[2]["ename"] == "StdinNotImplementedError"
    assert result.run.cells[3]["ename"] == "SystemExit"
    assert text_of(result.cell(4)) == "still alive\n"


def test_cells_run_in_the_notebooks_folder_with_its_modules(tmp_path: Path) -> None:
    nb = notebook(
        "import os, sys\nprint(os.getcwd() == os.path.dirname(os.path.abspath('nb.ipynb')))",
        "import helper\nprint(helper.VALUE)",
        "import sys\nprint([p for p in sys.path if '.muscode' in p], sys.path[0] == '')",
    )
    result = _run(tmp_path, nb, "--allow-errors", files={"helper.py": b"VALUE = 'helped'\n"})
    assert text_of(result.cell(0)) == "True\n"
    assert text_of(result.cell(1)) == "helped\n"
    assert text_of(result.cell(2)) == "[] True\n"  # the executor's folder is not on the path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "the notebook is not valid JSON"),
        (json.dumps({"nbformat": 3, "cells": []}).encode(), "nbformat 3 is not supported"),
        (json.dumps({"nbformat": 4, "cells": 5}).encode(), "the notebook has no list of cells"),
        (
            json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}).encode(),
            "cell 1: source must be a string or a list of strings",
        ),
    ],
)
def test_an_invalid_notebook_is_reported(tmp_path: Path, content: bytes, expected: str) -> None:
    result = _run(tmp_path, content)
    assert result.exit_code == nbe.EXIT_INVALID
    assert result.run.status == "invalid"
    assert expected in (result.run.message or "")


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("import os\nos._exit(3)", "it exited with status 3"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "killed by signal 9, SIGKILL"),
    ],
)
def test_a_dead_kernel_ends_the_run(tmp_path: Path, code: str, why: str) -> None:
    result = _run(tmp_path, notebook("print('before')", code, "print('after')"), "--allow-errors")
    assert result.exit_code == nbe.EXIT_KERNEL_DIED
    assert result.status() == ["ok", "error", "not_run"]
    assert result.run.cells[1]["ename"] == "DeadKernelError"
    assert why in result.run.cells[1]["evalue"]
    assert result.run.status == "died" and "cell 2" in (result.run.message or "")
    assert result.cell(1)["outputs"][-1]["ename"] == "DeadKernelError"


def test_a_cell_past_its_timeout_is_interrupted_and_the_run_goes_on(tmp_path: Path) -> None:
    nb = notebook("import time\nprint('start')\nwhile True:\n    time.sleep(0.01)", "print('next')")
    result = _run(tmp_path, nb, "--allow-errors", "--cell-timeout", "1")
    assert result.exit_code == nbe.EXIT_CELL_ERROR
    assert result.status() == ["error", "ok"]
    assert result.run.cells[0]["ename"] == "CellTimeoutError"
    assert result.cell(0)["outputs"][-1]["ename"] == "KeyboardInterrupt"
    assert text_of(result.cell(1)) == "next\n"


def test_a_kernel_that_ignores_the_interrupt_is_killed(tmp_path: Path) -> None:
    nb = notebook(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        "print('never')",
    )
    result = _run(tmp_path, nb, "--allow-errors", "--cell-timeout", "1")
    assert result.exit_code == nbe.EXIT_TIMEOUT
    assert result.status() == ["error", "not_run"]
    assert result.run.status == "timeout"


def test_the_whole_run_has_a_deadline(tmp_path: Path) -> None:
    nb = notebook("print('quick')", "import time\ntime.sleep(60)", "print('never')")
    result = _run(tmp_path, nb, "--deadline", "3")
    assert result.exit_code == nbe.EXIT_TIMEOUT
    assert result.status() == ["ok", "error", "not_run"]
    assert result.run.cells[1]["evalue"] == "The notebook ran out of time."
    assert text_of(result.cell(0)) == "quick\n"


def test_outputs_are_capped_but_errors_and_results_stay(tmp_path: Path) -> None:
    budget = 20_000
    nb = notebook(
        "for i in range(200_000):\n    print('line', i)",
        "import os\nos.write(1, b'x' * 1_000_000)",
        "from IPython.display import display\nfor i in range(50):\n    display({'a': i}, raw=True)",
        "'0.5'\n0.5",
        "1 / 0",
    )
    result = _run(tmp_path, nb, "--allow-errors", "--max-output-bytes", str(budget))
    assert result.status() == ["ok", "ok", "ok", "ok", "error"]
    note = f"[output truncated: the notebook's outputs reached {budget} bytes]"
    first = text_of(result.cell(0))
    assert first.startswith("line 0\nline 1\n") and first.endswith(note + "\n")
    assert note in text_of(result.cell(1)) and note in text_of(result.cell(2))
    assert result.cell(3)["outputs"][0]["data"] == {"text/plain": "0.5"}
    assert result.cell(4)["outputs"][-1]["ename"] == "ZeroDivisionError"
    assert result.events[-1]["truncated"] is True
    code_cells = 5
    limit = budget + code_cells * nbe.PER_CELL_RESERVE + nbe.START_RESERVE
    assert len(result.stdout) < limit


def test_a_huge_traceback_is_cut_in_the_middle(tmp_path: Path) -> None:
    chain = "".join(f"def f{i}():\n    return f{i + 1}()\n" for i in range(300))
    nb = notebook(chain + "def f300():\n    raise ValueError('deep')\nf0()")
    result = _run(tmp_path, nb)
    error = result.cell(0)["outputs"][-1]
    assert (error["ename"], error["evalue"]) == ("ValueError", "deep")
    assert "deep" in error["traceback"][-1]  # the end is kept
    assert "... traceback truncated ..." in error["traceback"]
    assert sum(len(line) for line in error["traceback"]) <= nbe.TRACEBACK_BYTES + 100


def test_a_malformed_message_from_the_kernel_does_not_stop_the_executor(tmp_path: Path) -> None:
    forge = (
        "import json, os, struct\n"
        "msg = json.dumps({'t': 'error', 'traceback': 5, 'ename': None}).encode()\n"
        "for fd in range(3, 20):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('>I', len(msg)) + msg)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = _run(tmp_path, notebook(forge, "print('alive')"), "--allow-errors")
    assert result.run.status in ("ok", "error"), result.stderr
    assert text_of(result.cell(1)) == "alive\n"


def test_matplotlib_figures_show_inline(tmp_path: Path) -> None:
    probe = run_executor(tmp_path / "probe", notebook("import matplotlib"))
    if probe.status() != ["ok"]:
        pytest.skip("matplotlib is not installed for the system python3 (optional for notebooks)")
    nb = notebook(
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"
    )
    result = _run(tmp_path, nb)
    assert result.status() == ["ok"]
    assert not [o for o in result.cell(0)["outputs"] if o["output_type"] == "stream"]
    figure = result.cell(0)["outputs"][-1]
    assert figure["output_type"] == "display_data"
    assert figure["data"]["image/png"].startswith("iVBOR")  # base64 of a PNG


def test_without_ipython_the_run_says_so(tmp_path: Path) -> None:
    # -S: no site-packages, so no IPython
    result = _run(tmp_path, notebook("1"), flags=("-S", "-E", "-s", "-B"))
    assert result.exit_code == nbe.EXIT_NO_KERNEL
    assert result.run.status == "no_kernel"
    assert "IPython cannot be imported" in (result.run.message or "")
    assert result.status() == ["not_run"]
