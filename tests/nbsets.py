"""nbgrader source notebooks of a problem set, shared by the API and browser tests."""

from __future__ import annotations

from typing import Any


def nbgrader_cell(grade_id: str, source: str, kind: str = "code", **meta: Any) -> dict[str, Any]:
    """A cell with nbgrader's metadata (``meta`` over its defaults), id from ``grade_id``."""
    nbgrader = {"grade": False, "solution": False, "locked": False, "task": False}
    nbgrader |= {"schema_version": 3, "grade_id": grade_id, **meta}
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": grade_id.replace("_", "-"),
        "metadata": {"nbgrader": nbgrader},
        "source": source,
    }
    if kind == "code":
        cell |= {"outputs": [], "execution_count": None}
    return cell


def problem_notebook(
    fn: str, factor: int, secret: int, answer: str, *, style: bool = False
) -> dict[str, Any]:
    """A source notebook: the solution of ``fn`` (``factor`` times n), visible test ``q1``
    (1 point), hidden test ``q2`` on ``secret`` (2 points), the manual written answer
    ``explain`` (model ``answer``, 2 points) and, with ``style``, manual ``style`` (1)."""
    test = {"grade": True, "locked": True}
    solution = (
        f"def {fn}(n):\n    ### BEGIN SOLUTION\n    return {factor} * n\n    ### END SOLUTION\n"
    )
    hidden = (
        f"assert {fn}(2) == {2 * factor}\n### BEGIN HIDDEN TESTS\n"
        f"assert {fn}({secret}) == {factor * secret}\n### END HIDDEN TESTS\n"
    )
    manual = {"grade": True, "solution": True}
    cells = [
        nbgrader_cell("answer", solution, solution=True),
        nbgrader_cell("q1", f"assert {fn}(1) == {factor}\n", points=1, **test),
        nbgrader_cell("q2", hidden, points=2, **test),
        nbgrader_cell("explain", answer, "markdown", points=2, **manual),
    ]
    if style:
        cells.append(nbgrader_cell("style", "Comment on style", "markdown", points=1, **manual))
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
