"""Notebook assignments: nbgrader source notebooks as an assignment's starter files.

An assignment of ``format: "nbgrader"`` holds one or more nbgrader *source* notebooks
(with solutions, hidden tests and mark schemes) among its starter files, beside data
files. Students only ever get their *release* versions (:mod:`...notebooks.release`);
grading runs the *grading version* of each of a student's notebooks
(:mod:`...notebooks.autograde`) in the sandbox, one run per notebook, and scores each
autograded cell. A cell is known by its notebook's path and its grade_id (a grade_id is
unique within its notebook, as in nbgrader, not across notebooks). Everything here is
pure: what the sources say, the files of a run, the scores of a finished run. A source
is read once per content (a small cache), never stored twice.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ...errors import Invalid
from ...execution.base import Limits
from ...execution.verdicts import ACCEPTED, RUNTIME_ERROR
from ...notebooks import autograde as ag
from ...notebooks import metadata as md
from ...notebooks.nbevents import source_of
from ...notebooks.release import Notebook, SourceError, SourceRecord, make_release
from ...notebooks.validate import REASON as INVALID_NOTEBOOK
from ...notebooks.validate import InvalidNotebook, read_notebook
from ...store import Assignment
from .scoring import max_score

FILES, NBGRADER = "files", "nbgrader"
FORMATS = (FILES, NBGRADER)
#: Why a source notebook is refused when nbgrader would refuse it.
INVALID_SOURCE = "invalid_nbgrader_notebook"
#: The most characters of a test cell's output kept for staff (and visible tests).
OUTPUT_CHARS = 4000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def staff_cells_note(count: int) -> str:
    """What a notebook grade's message adds for its manually graded cells."""
    return " 1 cell is graded by staff." if count == 1 else f" {count} cells are graded by staff."


def is_notebook(path: str) -> bool:
    return path.lower().endswith(".ipynb")


def dump(nb: Mapping[str, Any]) -> str:
    """A notebook as JupyterLab writes it (one-space indent, a final newline)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def empty_notebook() -> Notebook:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@lru_cache(maxsize=64)
def _parsed(content: str) -> tuple[str, SourceRecord, SourceRecord]:
    """(release text, record of the source, record of the release) of a source
    notebook already checked by :func:`check_starter_files`."""
    nb = read_notebook(content)
    release, record = make_release(nb)
    # The release's own record: what a check (visible tests only) puts back.
    _, visible = make_release(copy.deepcopy(release))
    return dump(release), record, visible


def check_starter_files(files: Sequence[Mapping[str, str]], field: str = "starter_files") -> None:
    """422 unless ``files`` hold at least one notebook, each a valid nbgrader source
    notebook, with at least one graded cell among them: ``invalid_notebook`` when one
    is not nbformat, ``invalid_nbgrader_notebook`` naming the notebook and each cell
    nbgrader would refuse."""
    notebooks = [(i, f) for i, f in enumerate(files) if is_notebook(f["path"])]
    if not notebooks:
        raise Invalid.field(
            field,
            "a notebook assignment holds one or more nbgrader source notebooks (.ipynb) "
            "beside its data files; found none",
        )
    problems: list[dict[str, str]] = []
    graded = False
    for i, f in notebooks:
        where = f"{field}[{i}].content"
        try:
            nb = read_notebook(f["content"])
        except InvalidNotebook as exc:
            raise Invalid(
                f"{f['path']}: {exc.problem.message}",
                reason=INVALID_NOTEBOOK,
                errors=[{"field": where, "message": exc.problem.message}],
            ) from None
        try:
            _, record = make_release(nb)
        except SourceError as exc:
            problems += [{"field": where, "message": f"{f['path']}: {p}"} for p in exc.problems]
            continue
        graded = graded or any(c.autograded or c.manual for c in record.cells)
    if problems:
        raise Invalid(
            "not an nbgrader source notebook nbgrader could release: "
            + "; ".join(m["message"] for m in problems),
            reason=INVALID_SOURCE,
            errors=problems,
        )
    if not graded:
        names = ", ".join(f["path"] for _, f in notebooks)
        raise Invalid(
            f"{names}: no graded cells: mark test cells (or answers) as graded "
            "with nbgrader's metadata (grade: true, points)",
            reason=INVALID_SOURCE,
            errors=[
                {"field": f"{field}[{i}].content", "message": "no cell has nbgrader grade: true"}
                for i, _ in notebooks
            ],
        )


def source_files(a: Assignment) -> list[tuple[str, str]]:
    """(path, content) of each of the assignment's source notebooks, in their order."""
    return [(f["path"], f["content"]) for f in a.starter_files if is_notebook(f["path"])]


def source_file(a: Assignment) -> tuple[str, str]:
    """(path, content) of the assignment's first source notebook."""
    return source_files(a)[0]


def records(a: Assignment) -> list[tuple[str, SourceRecord]]:
    """Each source notebook's path and record, in their order."""
    return [(path, _parsed(content)[1]) for path, content in source_files(a)]


def record_of(a: Assignment, path: str | None = None) -> SourceRecord:
    """The record of the source notebook at ``path`` (None: the first one)."""
    for p, content in source_files(a):
        if path is None or p == path:
            return _parsed(content)[1]
    raise KeyError(path)


def graded_paths(a: Assignment) -> list[str]:
    """The notebooks a grading runs: those with a graded cell."""
    return [p for p, r in records(a) if any(c.autograded or c.manual for c in r.cells)]


def data_files(a: Assignment) -> list[dict[str, str]]:
    return [dict(f) for f in a.starter_files if not is_notebook(f["path"])]


def release_files(a: Assignment) -> list[dict[str, str]]:
    """The starter files a student gets: the release notebooks and the data files."""
    releases = {path: _parsed(content)[0] for path, content in source_files(a)}
    return [
        {"path": f["path"], "content": releases.get(f["path"], f["content"])}
        for f in a.starter_files
    ]


def assignment_max(a: Assignment) -> float:
    """What the assignment is out of: its tests' points, or its graded cells'."""
    if a.format == NBGRADER:
        return float(sum(r.max_points for _, r in records(a)))
    return max_score(a.tests)


def cell_tests(a: Assignment) -> list[dict[str, Any]]:
    """The autograded cells as an assignment's ``tests`` (name, points, hidden, and
    the notebook they are in)."""
    return [
        {"name": c.grade_id, "points": c.points or 0.0, "hidden": c.hidden, "notebook": path}
        for path, r in records(a)
        for c in r.cells
        if c.autograded
    ]


def manual_cells(a: Assignment) -> list[dict[str, Any]]:
    return [
        {"name": c.grade_id, "points": c.points or 0.0, "notebook": path}
        for path, r in records(a)
        for c in r.cells
        if c.manual
    ]


def student_notebook(files: Sequence[tuple[str, bytes]], path: str) -> Notebook:
    """The student's notebook among ``files`` (an empty one when they deleted it).
    422 ``invalid_notebook`` when it is not a notebook any more."""
    content = next((c for p, c in files if p == path), None)
    if content is None:
        return empty_notebook()
    try:
        return dict(read_notebook(content))
    except InvalidNotebook as exc:
        raise Invalid(
            f"{path}: {exc.problem.message} Open it in JupyterLab, fix it, then try again.",
            reason=INVALID_NOTEBOOK,
            errors=[{"field": "project_id", "message": f"{path}: {exc.problem.message}"}],
        ) from None


def run_files(
    a: Assignment,
    files: Sequence[tuple[str, bytes]],
    path: str | None = None,
    *,
    visible_only: bool = False,
) -> tuple[list[tuple[str, bytes]], str]:
    """The files of a run of the student's notebook at ``path`` (None: the first) among
    their ``files``, and the notebook to run: that notebook as the grading version
    (``visible_only``: hidden tests left out, for a student's own check), the
    assignment's data files over theirs. Their other notebooks stay as they wrote them
    (never a grading version: no hidden test of another notebook is in the run)."""
    path = path or source_file(a)[0]
    content = dict(source_files(a))[path]
    _, record, visible = _parsed(content)
    nb = ag.grading_version(student_notebook(files, path), visible if visible_only else record)
    data = {f["path"]: f["content"].encode("utf-8") for f in data_files(a)}
    out = [(p, c) for p, c in files if p != path and p not in data]
    out += [*data.items(), (path, dump(nb).encode("utf-8"))]
    return out, path


# ----------------------------------------------------------------- scoring


def _output_text(cell: Mapping[str, Any]) -> str:
    """A test cell's outputs as text: streams, results, and an error's traceback."""
    parts: list[str] = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind == "stream":
            parts.append(source_of({"source": o.get("text", "")}))
        elif kind in ("execute_result", "display_data"):
            parts.append(source_of({"source": (o.get("data") or {}).get("text/plain", "")}))
            parts.append("\n")
        elif kind == "error":
            parts.append("\n".join(o.get("traceback") or [f"{o.get('ename')}: {o.get('evalue')}"]))
            parts.append("\n")
    text = _ANSI.sub("", "".join(parts))  # IPython colours its tracebacks
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + "\n[output truncated]"


def _run_failure(verdict: str | None, notebook: Mapping[str, Any] | None) -> str | None:
    """Why the run did not grade the notebook (None: every cell ran; a grading run
    allows errors, so a cell that raised still ends ``accepted``)."""
    if verdict == ACCEPTED and notebook is not None:
        return None
    return verdict or "internal_error"


def _first_hidden(record: SourceRecord, executed: Mapping[str, Any]) -> int:
    """The index of the first hidden test cell in ``executed`` (its cell count when it
    has none)."""
    order = [md.grade_id_of(c) for c in executed.get("cells", [])]
    return min(
        (order.index(c.grade_id) for c in record.cells if c.hidden and c.grade_id in order),
        default=len(order),
    )


def _reached(first: int, result: Mapping[str, Any] | None) -> bool:
    """Did the run start cell ``first`` (it ran, or was stopped while running)?"""
    cells = (result or {}).get("cells") or []
    return any(c.get("index") == first and c.get("status") != "not_run" for c in cells)


def release_hold_ms(
    a: Assignment,
    result: Mapping[str, Any] | None,
    notebook: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    path: str | None = None,
) -> int:
    """How long after its grading run ends a notebook's grade is held back from its
    student, in ms (the notebook's :func:`.scoring.release_hold_ms`).

    Hidden test cells run in the student's kernel, so from the first one on the
    student's code can see hidden inputs and spend time on them, in any later cell
    too. ``path``: which of the assignment's notebooks the run was (None: the first);
    each notebook's run is held by its own hidden cells. The grade is released as if
    every code cell from the first hidden test on had used its whole allowance: the
    run's per-cell timeout (``request["notebook"]["cell_timeout_s"]``, nbgrader's
    30 s when grading), all together at most what
    the cells before left of the run's wall time. So the moment says nothing of how
    long those cells ran. Nothing is held when no hidden test cell ran (the notebook
    stopped before it: that does not depend on any hidden input).
    """
    executed = notebook or empty_notebook()
    first = _first_hidden(record_of(a, path), executed)
    if first >= len(executed.get("cells", [])):
        return 0
    cells = [c for c in (result or {}).get("cells") or [] if isinstance(c.get("index"), int)]
    after = [c for c in cells if c["index"] >= first]
    if not after or after[0]["index"] != first or after[0].get("status") == "not_run":
        return 0
    before = sum(int(c.get("time_ms") or 0) for c in cells if c["index"] < first)
    wall = int((request.get("limits") or {}).get("wall_time_ms") or Limits().wall_time_ms)
    left = max(0, wall - before)
    per_cell = round(float((request.get("notebook") or {}).get("cell_timeout_s") or 0) * 1000)
    allowance = min(len(after) * per_cell, left) if per_cell else left
    return max(0, allowance - sum(int(c.get("time_ms") or 0) for c in after))


def score_run(
    a: Assignment,
    result: Mapping[str, Any] | None,
    notebook: Mapping[str, Any] | None,
    verdict: str | None,
    path: str | None = None,
) -> dict[str, Any]:
    """A finished grading run of the notebook at ``path`` (None: the first; its
    ``result``, executed ``notebook`` and ``verdict``) as a submission's fields:
    ``results`` (one per autograded cell), ``manual``, ``raw_score`` of the autograded
    cells, ``max_score``, ``verdict`` and a ``message`` a student may read. Every entry
    names its ``notebook``."""
    path = path or source_file(a)[0]
    record = record_of(a, path)
    failure = _run_failure(verdict, notebook)
    executed = notebook or empty_notebook()
    cells = (result or {}).get("cells") or []
    scored = ag.score(executed, record, cells, failure)
    by_id = {md.grade_id_of(c): c for c in executed.get("cells", []) if md.grade_id_of(c)}
    # From the first hidden test on, the student's code may have printed hidden source:
    # such cells show their student name, points and pass/fail only.
    order = [md.grade_id_of(c) for c in executed.get("cells", [])]
    first_hidden = _first_hidden(record, executed)
    # A run that stopped from there on may have stopped on what it saw of a hidden test:
    # its student is not told which limit (views.submission_json).
    stopped_after_hidden = failure is not None and _reached(first_hidden, result)
    results = []
    for t in scored.tests:
        cell = by_id.get(t.grade_id) or {}
        position = order.index(t.grade_id) if t.grade_id in order else len(order)
        results.append(
            {
                **t.as_test(),
                "notebook": path,
                "verdict": ACCEPTED
                if t.passed
                else (RUNTIME_ERROR if failure is None else failure),
                "message": t.message,
                "output": _output_text(cell),
                "student_detail": not t.hidden and position < first_hidden,
                "stopped_after_hidden": stopped_after_hidden,
            }
        )
    manual = [
        {
            "name": m.grade_id,
            "notebook": path,
            "points": m.points,
            "points_awarded": m.points_awarded,
            "message": m.message,
            "answer": source_of(dict(by_id.get(m.grade_id) or {"source": ""})),
        }
        for m in scored.manual
    ]
    passed = sum(1 for t in scored.tests if t.passed)
    message = f"{passed} of {len(scored.tests)} autograded cells passed."
    if failure is not None:
        message = (
            f"The notebook did not finish running ({failure}), so no test scores: "
            "make it run from top to bottom, then submit again."
        )
    if manual:
        message += staff_cells_note(len(manual))
    return {
        "results": results,
        "manual": manual,
        "raw_score": scored.auto_points,
        "max_score": float(record.max_points),
        "verdict": verdict,
        "message": message,
    }


def combine(scored: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The scores of each notebook's run (path, :func:`score_run`) as one submission's:
    results and manual cells in the notebooks' order, points summed, the first verdict
    that is not ``accepted``, and one message (each notebook's named when there are
    several)."""
    if len(scored) == 1:
        return dict(scored[0][1])
    verdicts = [s["verdict"] for _, s in scored]
    return {
        "results": [r for _, s in scored for r in s["results"]],
        "manual": [m for _, s in scored for m in s["manual"]],
        "raw_score": float(sum(s["raw_score"] for _, s in scored)),
        "max_score": float(sum(s["max_score"] for _, s in scored)),
        "verdict": next((v for v in verdicts if v != ACCEPTED), ACCEPTED),
        "message": " ".join(f"{path}: {s['message']}" for path, s in scored),
    }


def manual_key(m: Mapping[str, Any]) -> str:
    """The key of a manually graded cell's entry in ``manual_scores``: its notebook
    and grade_id (``"ps1/problem1.ipynb:explain"``), or the plain grade_id for entries
    stored before cells named their notebook."""
    notebook = m.get("notebook")
    return f"{notebook}:{m['name']}" if notebook else str(m["name"])


def resolve_manual_keys(
    manual: Sequence[Mapping[str, Any]], scores: Mapping[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Staff's ``manual_scores`` keyed as :func:`manual_key` keys the submission's
    ``manual`` entries, and what is wrong with them (as 422 ``errors``). A key is
    ``"<notebook path>:<grade_id>"``, or the plain grade_id when only one notebook has
    a manually graded cell of that name."""
    keys = {manual_key(m): m for m in manual}
    by_name: dict[str, list[str]] = {}
    for k, m in keys.items():
        by_name.setdefault(str(m["name"]), []).append(k)
    resolved: dict[str, Any] = {}
    problems: list[str] = []
    for given, value in scores.items():
        if given in keys:
            key = given
        elif len(by_name.get(given, [])) == 1:
            key = by_name[given][0]
        elif len(by_name.get(given, [])) > 1:
            choices = " or ".join(repr(k) for k in by_name[given])
            problems.append(f"{given!r} names a cell in several notebooks: use {choices}")
            continue
        elif (
            ":" in given
            and given.rsplit(":", 1)[1] in keys
            and not keys[given.rsplit(":", 1)[1]].get("notebook")
        ):
            key = given.rsplit(":", 1)[1]  # a qualified key for an entry stored plain
        else:
            problems.append(f"{given!r} is not a manually graded cell")
            continue
        points = float(keys[key].get("points") or 0.0)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{given!r}: the score must be a number")
        elif value is not None and not 0 <= value <= points:
            problems.append(f"{given!r}: the score must be between 0 and {points:g}")
        else:
            resolved[key] = value
    return resolved, [{"field": "manual_scores", "message": p} for p in problems]


def manual_points(manual: Sequence[Mapping[str, Any]], scores: Mapping[str, float]) -> float:
    """The manually graded cells' points: staff's score, else the automatic one."""
    return float(
        sum(scores.get(manual_key(m), m.get("points_awarded") or 0.0) or 0.0 for m in manual)
    )
