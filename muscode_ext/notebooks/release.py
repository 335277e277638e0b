"""The release (student) version of an nbgrader source notebook, made the way nbgrader's
``generate_assignment`` makes it, and the record of the source that grading needs.

nbgrader runs these preprocessors, in this order, over every cell:

    LockCells, ClearSolutions, ClearOutput, ComputeChecksums, SaveCells,
    ClearHiddenTests, ClearMarkScheme, ComputeChecksums

``SaveCells`` writes to nbgrader's gradebook what grading will restore: each tracked
cell's type, locked flag, source (solutions cleared, hidden tests still in) and
checksum. Here that is :class:`SourceRecord`, a pure function of the source notebook,
so nothing has to be stored beside the instructor's notebook itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import metadata as md
from .nbevents import source_of

Notebook = dict[str, Any]


class SourceError(ValueError):
    """The source notebook cannot be released; ``problems`` name the cells."""

    def __init__(self, problems: list[md.CellProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceCell:
    """One tracked cell of the source notebook, as nbgrader's gradebook holds it."""

    grade_id: str
    cell_type: str
    source: str  # solutions cleared, hidden tests in: what grading puts back
    checksum: str | None
    grade: bool
    solution: bool
    locked: bool  # nbgrader's is_locked: every non-solution grade cell is
    task: bool
    points: float | None
    hidden: bool  # holds a hidden tests region
    release_source: str  # what students get

    @property
    def autograded(self) -> bool:
        """An autograder test: a graded code cell that is not a student's answer."""
        return self.grade and not self.solution and self.cell_type == "code"

    @property
    def manual(self) -> bool:
        """Graded by staff: a graded answer (code or text) or a task."""
        return (self.grade and self.solution) or self.task

    def metadata(self) -> dict[str, Any]:
        """The nbgrader metadata the cell has in the release (checksum aside)."""
        meta: dict[str, Any] = {
            "grade": self.grade,
            "grade_id": self.grade_id,
            "locked": self.locked,
            "schema_version": md.SCHEMA_VERSION,
            "solution": self.solution,
        }
        if self.task:
            meta["task"] = True
        if self.points is not None:
            meta["points"] = self.points
        return meta


@dataclass(frozen=True)
class SourceRecord:
    """What grading needs from the source notebook: its tracked cells in order."""

    cells: tuple[SourceCell, ...]
    kernelspec: Mapping[str, Any]

    def get(self, grade_id: str) -> SourceCell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)

    @property
    def max_points(self) -> float:
        return sum(c.points or 0.0 for c in self.cells if c.autograded or c.manual)


def _clear_regions(cell: dict[str, Any], begin: str, end: str, stub: str | None = None) -> bool:
    """One of nbgrader's Clear* preprocessors on one cell; True if a region was found."""
    source, found, _ = md.rewrite_regions(
        source_of(cell), begin, end, None if stub is None else stub.split("\n")
    )
    cell["source"] = source
    return found


def _lock(cell: dict[str, Any]) -> None:
    """LockCells with nbgrader's defaults."""
    meta = cell.setdefault("metadata", {})
    if md.is_solution(cell):
        meta["deletable"] = False
    elif md.is_grade(cell) or md.is_locked(cell):
        meta["deletable"] = False
        meta["editable"] = False


def _clear_output(cell: dict[str, Any]) -> None:
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
        for key in ("collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)


def _set_checksum(cell: dict[str, Any]) -> None:
    """ComputeChecksums on one cell."""
    if md.is_grade(cell) or md.is_solution(cell) or md.is_locked(cell):
        nbg = cell["metadata"]["nbgrader"]
        nbg["checksum"] = md.checksum(cell)
        nbg["cell_type"] = cell["cell_type"]


def make_release(source: Mapping[str, Any]) -> tuple[Notebook, SourceRecord]:
    """The release version of ``source`` and its :class:`SourceRecord`.

    Raises :class:`SourceError` naming every cell nbgrader would refuse.
    """
    problems = md.check_source(source)
    if problems:
        raise SourceError(problems)
    nb: Notebook = copy.deepcopy(dict(source))
    nb.setdefault("metadata", {}).pop("celltoolbar", None)
    records: list[SourceCell] = []
    for cell in nb["cells"]:
        _lock(cell)
        stub = md.CODE_STUB if cell["cell_type"] == "code" else md.TEXT_STUB
        if not _clear_regions(cell, md.BEGIN_SOLUTION, md.END_SOLUTION, stub) and md.is_solution(
            cell
        ):
            cell["source"] = stub
        _clear_output(cell)
        _set_checksum(cell)
        graded = md.grade_id_of(cell)
        saved = md.is_tracked(cell) and graded is not None
        kept_source = source_of(cell)
        kept_checksum = (md.nbgrader_of(cell) or {}).get("checksum")
        hidden = _clear_regions(cell, md.BEGIN_HIDDEN, md.END_HIDDEN)
        _clear_regions(cell, md.BEGIN_MARK_SCHEME, md.END_MARK_SCHEME)
        _set_checksum(cell)
        if saved and graded is not None:
            meta = md.nbgrader_of(cell) or {}
            points = meta.get("points")
            records.append(
                SourceCell(
                    grade_id=graded,
                    cell_type=cell["cell_type"],
                    source=kept_source,
                    checksum=kept_checksum,
                    grade=md.is_grade(cell),
                    solution=md.is_solution(cell),
                    locked=md.is_locked(cell),
                    task=md.is_task(cell),
                    points=None if points is None else float(points),
                    hidden=hidden,
                    release_source=source_of(cell),
                )
            )
    kernelspec = nb["metadata"].get("kernelspec") or {}
    return nb, SourceRecord(cells=tuple(records), kernelspec=copy.deepcopy(kernelspec))


def source_record(source: Mapping[str, Any]) -> SourceRecord:
    """Only the record (what grading a submission needs)."""
    return make_release(source)[1]
