"""Grading a student's notebook the way nbgrader's ``autograde`` does.

Before running, the submitted notebook becomes its *grading version* (nbgrader's
ClearOutput, DeduplicateIds, OverwriteKernelspec and OverwriteCells with
``add_missing_cells``): every locked cell and every test gets the instructor's source
back, hidden tests included, and a graded, locked or task cell the student deleted is
put back where it was in the source. After running (errors allowed, a timeout per
cell), :func:`score` awards each autograder test its points by nbgrader's own rule.

Where nbgrader would trust what the student's notebook says, this module does not:
every tracked cell gets its nbgrader flags and points from the source (nbgrader restores
``locked`` and ``points`` only), and a cell whose grade_id the source does not know
loses its nbgrader metadata (nbgrader would refuse the notebook). Scores only differ
from nbgrader's for notebooks whose metadata was tampered with.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import metadata as md
from .release import Notebook, SourceCell, SourceRecord

#: The note nbgrader puts at the top of a cell it adds back (its wording, ours at the end).
MISSING_NOTE = "This cell (id:{grade_id}) was missing from the submission. It was added back.\n\n"


def _restore_metadata(cell: dict[str, Any], src: SourceCell) -> None:
    meta = cell.setdefault("metadata", {})
    nbg = src.metadata()
    nbg["checksum"] = src.checksum
    nbg["cell_type"] = src.cell_type
    meta["nbgrader"] = nbg


def _set_type(cell: dict[str, Any], cell_type: str) -> None:
    if cell.get("cell_type") == cell_type:
        return
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell["outputs"], cell["execution_count"] = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _missing_cell(src: SourceCell) -> dict[str, Any]:
    note = MISSING_NOTE.format(grade_id=src.grade_id)
    cell: dict[str, Any] = {
        "cell_type": src.cell_type,
        "metadata": {"deletable": False},
        "source": ("# " + note if src.cell_type == "code" else note) + src.source,
    }
    if not src.solution:
        cell["metadata"]["editable"] = False
    if src.cell_type == "code":
        cell["outputs"], cell["execution_count"] = [], None
    _restore_metadata(cell, src)
    return cell


def _put_back(cells: list[dict[str, Any]], record: SourceRecord) -> None:
    """Insert the deleted graded, locked and task cells, each right after the nearest
    cell that comes before it in the source (or before the nearest that follows)."""
    order = [c.grade_id for c in record.cells]
    for pos, src in enumerate(record.cells):
        present = {md.grade_id_of(c): i for i, c in enumerate(cells) if md.grade_id_of(c)}
        if src.grade_id in present or not (src.grade or src.locked or src.task):
            continue
        before = [present[g] for g in order[:pos] if g in present]
        after = [present[g] for g in order[pos + 1 :] if g in present]
        where = max(before) + 1 if before else min(after) if after else len(cells)
        cells.insert(where, _missing_cell(src))


def grading_version(submitted: Mapping[str, Any], record: SourceRecord) -> Notebook:
    """The notebook to run for grading ``submitted`` against the source ``record``."""
    nb: Notebook = copy.deepcopy(dict(submitted))
    cells: list[dict[str, Any]] = nb.setdefault("cells", [])
    for cell in cells:  # ClearOutput
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    seen: set[str] = set()
    for cell in reversed(cells):  # DeduplicateIds: the last of a repeated id keeps it
        grade_id = md.grade_id_of(cell)
        if grade_id is not None and md.is_tracked(cell):
            if grade_id in seen:
                cell["metadata"]["nbgrader"] = {}
            seen.add(grade_id)
    if record.kernelspec:  # OverwriteKernelspec
        nb.setdefault("metadata", {})["kernelspec"] = copy.deepcopy(dict(record.kernelspec))
    for cell in cells:  # OverwriteCells
        grade_id = md.grade_id_of(cell)
        src = record.get(grade_id) if grade_id is not None else None
        if src is None:
            if md.nbgrader_of(cell) is not None:
                cell["metadata"].pop("nbgrader")
            continue
        _set_type(cell, src.cell_type)
        _restore_metadata(cell, src)
        if src.locked and md.checksum(cell) != src.checksum:
            cell["source"] = src.source
    _put_back(cells, record)
    return nb


# ----------------------------------------------------------------- scoring


@dataclass
class CellScore:
    """One graded cell's result. ``points_awarded`` is None while staff have not scored
    a manual cell; ``passed`` is None for manual cells."""

    grade_id: str
    points: float
    points_awarded: float | None
    passed: bool | None
    hidden: bool
    manual: bool
    #: Why an autograder test got nothing, or that a written answer is unchanged.
    message: str | None = None

    def as_test(self) -> dict[str, Any]:
        """The API's ``tests[]`` entry."""
        return {
            "name": self.grade_id,
            "points": self.points,
            "points_awarded": self.points_awarded,
            "passed": self.passed,
            "hidden": self.hidden,
        }


@dataclass
class NotebookScore:
    tests: list[CellScore] = field(default_factory=list)
    manual: list[CellScore] = field(default_factory=list)
    #: Set when the notebook could not be graded (the kernel died, time ran out).
    failure: str | None = None

    @property
    def auto_points(self) -> float:
        return sum(t.points_awarded or 0.0 for t in self.tests)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in (*self.tests, *self.manual))

    def total(self, manual_scores: Mapping[str, float] | None = None) -> float:
        """Autograded points plus staff's scores (a manual cell not yet scored counts
        its automatic score: 0 for an unchanged answer, else nothing)."""
        scores = manual_scores or {}
        manual = sum(scores.get(c.grade_id, c.points_awarded or 0.0) or 0.0 for c in self.manual)
        return self.auto_points + manual


def has_failed(cell: Mapping[str, Any]) -> bool:
    """nbgrader's ``has_failed``: an error output or anything written to stderr."""
    return cell.get("cell_type") == "code" and any(
        o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in cell.get("outputs", [])
    )


def _partial(output: Mapping[str, Any], points: float) -> tuple[float, str | None]:
    """nbgrader's ``get_partial_grade``: a result that reads as a number in [0, points]
    is the score; anything else gives full points. nbgrader stops grading the notebook
    when the number exceeds the points; here only that cell gets nothing."""
    text = (output.get("data") or {}).get("text/plain")
    if isinstance(text, list):
        if len(text) > 1:
            return points, None
        text = text[0] if text else ""
    try:
        value = float(str(text))
    except ValueError:
        return points, None
    if math.isnan(value) or value < 0:
        return points, None
    if value > points:
        return 0.0, f"the cell's result {value:g} is more than its {points:g} points"
    return value, None


def determine_grade(cell: Mapping[str, Any], points: float) -> tuple[float, str | None]:
    """nbgrader's rule for an autograder test cell: nothing if it failed (an error, or
    output on stderr), else the partial score of its first result, else full points."""
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "error" or (kind == "stream" and output.get("name") == "stderr"):
            if kind == "error":
                return 0.0, f"{output.get('ename')}: {output.get('evalue')}"
            return 0.0, "the cell wrote to stderr"
        if kind == "execute_result":
            return _partial(output, points)
    return points, None


def score(
    executed: Mapping[str, Any],
    record: SourceRecord,
    cells: Sequence[Mapping[str, Any]] = (),
    failure: str | None = None,
) -> NotebookScore:
    """Scores of the executed grading version of a notebook.

    ``cells`` is the executor's per-cell list (a test that did not run gets nothing).
    ``failure`` says the run did not finish (the kernel died, time ran out): then, as
    when nbgrader cannot execute a notebook, every autograder test gets nothing.
    """
    by_id = {md.grade_id_of(c): c for c in executed.get("cells", []) if md.grade_id_of(c)}
    status = {}
    for entry in cells:
        index = entry.get("index")
        if isinstance(index, int) and 0 <= index < len(executed.get("cells", [])):
            status[md.grade_id_of(executed["cells"][index])] = entry.get("status")
    result = NotebookScore(failure=failure)
    for src in record.cells:
        cell = by_id.get(src.grade_id)
        points = src.points or 0.0
        if src.autograded:
            if failure is not None or cell is None or status.get(src.grade_id) == "not_run":
                result.tests.append(
                    CellScore(
                        src.grade_id,
                        points,
                        0.0,
                        False,
                        src.hidden,
                        False,
                        failure or "the test did not run",
                    )
                )
                continue
            awarded, why = determine_grade(cell, points)
            failed = has_failed(cell) or status.get(src.grade_id) == "error"
            if failed:
                awarded = 0.0
            result.tests.append(
                CellScore(src.grade_id, points, awarded, not failed, src.hidden, False, why)
            )
        elif src.manual:
            unchanged = (
                src.grade
                and cell is not None
                and (md.nbgrader_of(cell) or {}).get("checksum") == md.checksum(cell)
            )
            result.manual.append(
                CellScore(
                    src.grade_id,
                    points,
                    0.0 if unchanged else None,
                    None,
                    False,
                    True,
                    "No response." if unchanged else None,
                )
            )
    return result


def manual_score_problems(record: SourceRecord, scores: Mapping[str, Any]) -> list[str]:
    """What is wrong with staff's ``manual_scores`` (unknown cell, not a number, out of
    range); empty when they can be saved."""
    problems = []
    manual = {c.grade_id: c for c in record.cells if c.manual}
    for grade_id, value in scores.items():
        cell = manual.get(grade_id)
        if cell is None:
            problems.append(f"{grade_id!r} is not a manually graded cell")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{grade_id!r}: the score must be a number")
        elif not 0 <= value <= (cell.points or 0.0):
            problems.append(f"{grade_id!r}: the score must be between 0 and {cell.points:g}")
    return problems


def student_view(executed: Mapping[str, Any], record: SourceRecord) -> Notebook:
    """The executed grading notebook as a student may see it.

    Hidden tests are run in the student's interpreter, so from the first of them on the
    student's own code can reach their source (IPython's input history, ``linecache``,
    frames) and print it, or raise it as an error message. From that cell on, every
    output is removed, and hidden tests show their release source.
    """
    nb: Notebook = copy.deepcopy(dict(executed))
    hidden = {c.grade_id: c for c in record.cells if c.hidden}
    exposed = False
    for cell in nb.get("cells", []):
        src = hidden.get(md.grade_id_of(cell) or "")
        if src is not None:
            exposed = True
            cell["source"] = src.release_source
        if exposed and cell.get("cell_type") == "code":
            cell["outputs"] = []
    return nb
