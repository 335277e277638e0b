"""nbgrader's cell metadata: what a cell is, its checksum, and checks of a source notebook.

A cell of an nbgrader notebook carries ``metadata.nbgrader``::

    {"grade": bool, "solution": bool, "locked": bool, "task": bool,
     "grade_id": "squares", "points": 2, "schema_version": 3}

The predicates below are nbgrader's own (``nbgrader.utils``), including its quirks: a
grade cell that is not a solution is always locked, whatever ``locked`` says. The
checksum is nbgrader's too, so a release made here carries the checksums nbgrader
itself would write. Everything works on plain notebook dicts (``NotebookNode`` is one)
and does no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .nbevents import source_of

SCHEMA_VERSION = 3
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "BEGIN MARK SCHEME", "END MARK SCHEME"
#: The code stub of nbgrader's ClearSolutions for Python (the only language run here).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"

_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")
_KEYS = {
    "schema_version",
    "grade",
    "locked",
    "solution",
    "task",
    "grade_id",
    "points",
    "checksum",
    "cell_type",
}
_BOOLS = ("grade", "locked", "solution", "task")
_ATTACHMENT = re.compile(r"!\[.*\]\(attachment:.+?\)")

Cell = Mapping[str, Any]


def nbgrader_of(cell: Cell) -> Mapping[str, Any] | None:
    """The cell's ``metadata.nbgrader``, or None when it has none."""
    meta = cell.get("metadata") or {}
    value = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    return value if isinstance(value, Mapping) else None


def is_grade(cell: Cell) -> bool:
    return bool((nbgrader_of(cell) or {}).get("grade", False))


def is_solution(cell: Cell) -> bool:
    return bool((nbgrader_of(cell) or {}).get("solution", False))


def is_task(cell: Cell) -> bool:
    return bool((nbgrader_of(cell) or {}).get("task", False))


def is_locked(cell: Cell) -> bool:
    """nbgrader's rule: solutions never are, other grade cells always are."""
    meta = nbgrader_of(cell)
    if meta is None or is_solution(cell):
        return False
    if is_grade(cell):
        return True
    return bool(meta.get("locked", False))


def grade_id_of(cell: Cell) -> str | None:
    value = (nbgrader_of(cell) or {}).get("grade_id")
    return value if isinstance(value, str) else None


def is_tracked(cell: Cell) -> bool:
    """A cell nbgrader records by grade_id (grade, solution, locked or task)."""
    return is_grade(cell) or is_solution(cell) or is_locked(cell) or is_task(cell)


def checksum(cell: Cell) -> str:
    """nbgrader's ``compute_checksum``: md5 of the source, type, flags, id and points."""
    md5 = hashlib.md5()  # noqa: S324 - nbgrader's format, not a security boundary
    meta = nbgrader_of(cell) or {}
    md5.update(source_of(dict(cell)).encode())
    md5.update(str(cell.get("cell_type")).encode())
    for flag in (is_grade(cell), is_solution(cell), is_locked(cell)):
        md5.update(str(flag).encode())
    md5.update(str(meta.get("grade_id")).encode())
    if is_grade(cell):
        md5.update(str(float(meta["points"])).encode())
    return md5.hexdigest()


@dataclass(frozen=True)
class CellProblem:
    """Something wrong with one cell of a source notebook (or the notebook, index None).
    ``index`` counts from 0, as the API's; the message numbers cells from 1, as people
    and the lab do."""

    index: int | None
    grade_id: str | None
    message: str

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        named = f" ({self.grade_id!r})" if self.grade_id else ""
        return f"cell {self.index + 1}{named}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "grade_id": self.grade_id, "message": self.message}


def rewrite_regions(
    source: str, begin: str, end: str, stub: list[str] | None = None
) -> tuple[str, bool, list[str]]:
    """nbgrader's scan of a cell for ``begin``/``end`` regions (its delimiters match
    anywhere in a line): each region is dropped, or replaced by ``stub`` indented like
    its begin line. Returns (new source, whether a region was found, the lines that
    were inside regions). Like nbgrader, a stray end line is dropped too.

    Raises ValueError for a nested begin or a missing end, as nbgrader does.
    """
    new: list[str] = []
    inside: list[str] = []
    in_region = found = False
    for line in source.split("\n"):
        if begin in line:
            if in_region:
                raise ValueError(f"nested {begin!r} lines")
            in_region = found = True
            if stub is not None:
                indent = re.match(r"\s*", line)
                new += [(indent.group(0) if indent else "") + part for part in stub]
        elif end in line:
            in_region = False
        elif not in_region:
            new.append(line)
        else:
            inside.append(line)
    if in_region:
        raise ValueError(f"{begin!r} without a matching {end!r}")
    return "\n".join(new), found, inside


def _check_meta(index: int, cell: Cell, meta: Mapping[str, Any]) -> list[str]:
    """The schema checks of nbgrader's MetadataValidatorV3, in its words where it has them."""
    version = meta.get("schema_version", 0)
    if version != SCHEMA_VERSION:
        age = "too old" if isinstance(version, int) and version < SCHEMA_VERSION else "unknown"
        return [
            f"nbgrader schema_version {version!r} is {age} ({SCHEMA_VERSION} is expected); "
            "upgrade the notebook with `nbgrader update`"
        ]
    problems = [f"unknown nbgrader key {key!r}" for key in sorted(set(meta) - _KEYS)]
    for key in ("grade", "locked", "solution"):
        if key not in meta:
            problems.append(f"nbgrader metadata lacks {key!r}")
    for key in _BOOLS:
        if key in meta and not isinstance(meta[key], bool):
            problems.append(f"nbgrader {key!r} must be true or false")
    grade_id = meta.get("grade_id")
    if grade_id is not None and (not isinstance(grade_id, str) or not _GRADE_ID.match(grade_id)):
        problems.append("grade_id may hold only letters, digits, '_' and '-'")
    points = meta.get("points")
    if "points" in meta and (
        isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0
    ):
        problems.append("points must be a number, 0 or more")
    if problems:
        return problems
    grade, locked, solution, task = (bool(meta.get(k, False)) for k in _BOOLS)
    if (grade or solution or locked) and not grade_id:
        problems.append("an nbgrader cell needs a grade_id")
    if grade and "points" not in meta:
        problems.append("a graded cell needs points")
    kind = cell.get("cell_type")
    if task:
        if kind != "markdown":
            problems.append("task cells have to be markdown")
        elif "points" not in meta:
            problems.append("a task cell needs points")
    elif kind == "markdown" and grade and not solution:
        problems.append("a markdown grade cell must also be a solution cell")
    elif kind == "markdown" and solution and not grade:
        problems.append("a markdown solution cell must also be a grade cell")
    return problems


def _check_regions(cell: Cell) -> list[str]:
    """The errors ClearSolutions, ClearHiddenTests and ClearMarkScheme would raise."""
    problems: list[str] = []
    source = source_of(dict(cell))
    checks = (
        (
            BEGIN_SOLUTION,
            END_SOLUTION,
            is_solution(cell),
            "a solution region outside a solution cell",
        ),
        (BEGIN_HIDDEN, END_HIDDEN, is_grade(cell), "a hidden tests region outside a grade cell"),
        (BEGIN_MARK_SCHEME, END_MARK_SCHEME, is_task(cell), "a mark scheme outside a task cell"),
    )
    for begin, end, allowed, misplaced in checks:
        try:
            _, found, inside = rewrite_regions(source, begin, end)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if found and not allowed:
            problems.append(misplaced)
        if begin == BEGIN_MARK_SCHEME and any(_ATTACHMENT.search(line) for line in inside):
            problems.append("an attachment in a mark scheme would leak to students")
    if cell.get("cell_type") == "code" and any(
        "AUTOTEST" in line and line.strip().startswith("#") for line in source.split("\n")
    ):
        problems.append("AUTOTEST directives are not supported; write the test code out")
    return problems


def check_source(nb: Mapping[str, Any]) -> list[CellProblem]:
    """Every problem that would stop nbgrader from generating the release of ``nb``
    (its metadata validator and its preprocessors), each naming its cell."""
    problems: list[CellProblem] = []
    language = (nb.get("metadata", {}).get("kernelspec") or {}).get("language", "python")
    if language != "python":
        problems.append(
            CellProblem(None, None, f"the notebook's language is {language!r}, not python")
        )
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        meta = nbgrader_of(cell)
        messages = [] if meta is None else _check_meta(index, cell, meta)
        grade_id = grade_id_of(cell)
        if (
            meta is not None
            and not messages
            and (is_grade(cell) or is_solution(cell) or is_locked(cell))
        ):
            assert grade_id is not None
            if grade_id in seen:
                messages.append(f"grade_id {grade_id!r} is also used by cell {seen[grade_id] + 1}")
            seen.setdefault(grade_id, index)
        messages += _check_regions(cell)
        problems += [CellProblem(index, grade_id, m) for m in messages]
    return problems
