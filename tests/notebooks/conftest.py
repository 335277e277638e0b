"""Fixtures for the notebook tests: the fixture notebooks, and the executor run as the
sandbox runs it (the system's ``python3``, which has IPython from Debian's
``python3-ipykernel``)."""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.notebooks import executor as ex

from ..conftest import need_service

DATA = Path(__file__).resolve().parent / "data"
SYSTEM_PYTHON = "/usr/bin/python3"
STUDENTS = sorted(p.stem for p in (DATA / "submitted").glob("*.ipynb"))


def load(relpath: str) -> dict[str, Any]:
    return dict(json.loads((DATA / relpath).read_text()))


def notebook(*sources: str, markdown: tuple[int, ...] = ()) -> dict[str, Any]:
    """A notebook of code cells (markdown at the given positions)."""
    cells = []
    for i, src in enumerate(sources):
        kind = "markdown" if i in markdown else "code"
        cell: dict[str, Any] = {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": src}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        cells.append(cell)
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def by_grade_id(nb: dict[str, Any], grade_id: str) -> dict[str, Any]:
    return next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
    )


def text_of(cell: dict[str, Any]) -> str:
    """All stream text of a cell's outputs."""
    return "".join(
        o["text"] if isinstance(o["text"], str) else "".join(o["text"])
        for o in cell.get("outputs", [])
        if o["output_type"] == "stream"
    )


@pytest.fixture
def source_nb() -> dict[str, Any]:
    return load("source/squares.ipynb")


@pytest.fixture(scope="session")
def system_python() -> str:
    """The interpreter sandboxed notebooks run with; it must have IPython."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import IPython"], capture_output=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        need_service("IPython for the system python3", "install python3-ipykernel")
    return SYSTEM_PYTHON


@dataclass
class Executed:
    exit_code: int
    run: ex.NotebookRun
    stdout: bytes
    stderr: bytes
    workdir: Path

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.run.events

    def cell(self, index: int) -> dict[str, Any]:
        return dict(self.run.notebook["cells"][index])

    def status(self) -> list[str]:
        return [c["status"] for c in self.run.cells]


def run_executor(
    workdir: Path,
    nb: dict[str, Any] | bytes,
    *args: str,
    python: str = SYSTEM_PYTHON,
    flags: tuple[str, ...] = ("-E", "-s", "-B"),
    files: dict[str, bytes] | None = None,
    timeout: float = 90,
) -> Executed:
    """Run nbrun.py on ``nb`` unsandboxed (the executor's own behaviour), with its files
    under ``.muscode/`` of ``workdir`` as a sandbox job holds them."""
    workdir.mkdir(parents=True, exist_ok=True)
    for path, content in ex.executor_files():
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).write_bytes(content)
    for path, content in (files or {}).items():
        (workdir / path).write_bytes(content)
    raw = nb if isinstance(nb, bytes) else json.dumps(nb).encode()
    (workdir / "nb.ipynb").write_bytes(raw)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir)}
    proc = subprocess.run(
        [python, *flags, ex.EXECUTOR_MAIN, "nb.ipynb", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    sent = copy.deepcopy(nb) if isinstance(nb, dict) else {"cells": []}
    return Executed(
        proc.returncode, ex.parse_run(sent, proc.stdout), proc.stdout, proc.stderr, workdir
    )
