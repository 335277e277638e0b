"""The release version of a source notebook, against nbgrader's own ``generate_assignment``
(``data/release/squares.ipynb`` was written by nbgrader 0.9 from ``data/source``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from muscode_ext.notebooks.nbevents import source_of
from muscode_ext.notebooks.release import SourceError, make_release, source_record

from .conftest import by_grade_id, load, notebook


def _normal(nb: dict[str, Any]) -> dict[str, Any]:
    """A notebook with every source as one string (nbformat writes lists of lines)."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        cell["source"] = source_of(cell)
    return out


def test_the_release_is_exactly_nbgraders(source_nb: dict[str, Any]) -> None:
    ours, _ = make_release(source_nb)
    assert _normal(ours) == _normal(load("release/squares.ipynb"))


def test_making_the_release_leaves_the_source_alone(source_nb: dict[str, Any]) -> None:
    before = copy.deepcopy(source_nb)
    make_release(source_nb)
    assert source_nb == before


def test_solution_regions_become_the_stub_indented_like_their_begin_line(
    source_nb: dict[str, Any],
) -> None:
    release, _ = make_release(source_nb)
    assert by_grade_id(release, "squares")["source"] == (
        'def squares(n):\n    """Return the squares of 1..n, in a list."""\n'
        "    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    # the docstring form of the delimiters
    assert by_grade_id(release, "mean")["source"] == (
        'def mean(xs):\n    """Return the mean of xs."""\n'
        "    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    assert by_grade_id(release, "explain")["source"] == (
        "Why do squares grow faster than the numbers themselves?\n\nYOUR ANSWER HERE"
    )


def test_a_solution_cell_without_regions_is_replaced_whole() -> None:
    nb = notebook("x = 42", "Forty-two.", markdown=(1,))
    nb["cells"][0]["metadata"]["nbgrader"] = {
        "grade": False,
        "solution": True,
        "locked": False,
        "grade_id": "x",
        "schema_version": 3,
    }
    nb["cells"][1]["metadata"]["nbgrader"] = {
        "grade": True,
        "solution": True,
        "locked": False,
        "grade_id": "why",
        "points": 1,
        "schema_version": 3,
    }
    release, _ = make_release(nb)
    assert [c["source"] for c in release["cells"]] == [
        "# YOUR CODE HERE\nraise NotImplementedError()",
        "YOUR ANSWER HERE",
    ]


def test_hidden_tests_and_mark_schemes_leave_the_release_but_not_the_record(
    source_nb: dict[str, Any],
) -> None:
    release, record = make_release(source_nb)
    hidden = by_grade_id(release, "test_squares_hidden")
    assert hidden["source"] == "assert squares(2) == [1, 4]"
    assert "Full marks" not in by_grade_id(release, "task_style")["source"]
    kept = record.get("test_squares_hidden")
    assert kept is not None and kept.hidden
    assert "assert squares(LIMIT)[-1] == 100" in kept.source
    assert kept.release_source == hidden["source"]
    task = record.get("task_style")
    assert task is not None and "Full marks for clear names." in task.source


def test_outputs_counts_and_view_state_are_cleared(source_nb: dict[str, Any]) -> None:
    cell = by_grade_id(source_nb, "squares")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "spoiler"}]
    cell["execution_count"] = 7
    cell["metadata"].update(collapsed=True, scrolled=True, tags=["keep"])
    source_nb["metadata"]["celltoolbar"] = "Create Assignment"
    release, _ = make_release(source_nb)
    out = by_grade_id(release, "squares")
    assert (out["outputs"], out["execution_count"]) == ([], None)
    assert out["metadata"]["tags"] == ["keep"]
    assert "collapsed" not in out["metadata"] and "scrolled" not in out["metadata"]
    assert "celltoolbar" not in release["metadata"]


def test_the_record_knows_each_tracked_cell(source_nb: dict[str, Any]) -> None:
    record = source_record(source_nb)
    kinds = {c.grade_id: (c.autograded, c.manual, c.locked, c.points) for c in record.cells}
    assert kinds == {
        "setup": (False, False, True, None),
        "squares": (False, False, False, None),
        "test_squares": (True, False, True, 1.0),
        "test_squares_hidden": (True, False, True, 2.0),
        "mean": (False, False, False, None),
        "test_mean": (True, False, True, 1.0),
        "test_partial": (True, False, True, 2.0),
        "test_quiet": (True, False, True, 1.0),
        "explain": (False, True, False, 2.0),
        "describe": (False, True, False, 1.0),
        "task_style": (False, True, True, 1.0),
    }
    assert record.max_points == 11.0
    assert record.kernelspec["name"] == "python3"


def test_a_broken_source_is_refused_naming_every_cell(source_nb: dict[str, Any]) -> None:
    by_grade_id(source_nb, "test_mean")["metadata"]["nbgrader"].pop("points")
    by_grade_id(source_nb, "squares")["source"] = "### BEGIN SOLUTION\nx = 1"
    with pytest.raises(SourceError) as caught:
        make_release(source_nb)
    assert [p.grade_id for p in caught.value.problems] == ["squares", "test_mean"]
    assert "cell 3 ('squares')" in str(caught.value)
