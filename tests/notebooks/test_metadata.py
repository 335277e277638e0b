"""nbgrader's cell metadata: predicates, checksums and the checks of a source notebook."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
from nbformat import from_dict

from muscode_ext.notebooks import metadata as md
from muscode_ext.notebooks.nbevents import source_of

from .conftest import STUDENTS, by_grade_id, load

with warnings.catch_warnings():  # nbgrader's gradebook models warn on import
    warnings.simplefilter("ignore")
    from nbgrader import utils as nbgrader_utils


def _every_cell() -> list[dict[str, Any]]:
    names = ["source/squares.ipynb", "release/squares.ipynb"]
    names += [f"submitted/{s}.ipynb" for s in STUDENTS]
    return [cell for name in names for cell in load(name)["cells"]]


def test_predicates_and_checksums_are_nbgraders_on_every_fixture_cell() -> None:
    cells = _every_cell()
    assert len(cells) > 100
    for cell in cells:
        node = from_dict({**cell, "source": source_of(cell)})  # as nbformat.read joins it
        assert md.is_grade(cell) == bool(nbgrader_utils.is_grade(node))
        assert md.is_solution(cell) == bool(nbgrader_utils.is_solution(node))
        assert md.is_locked(cell) == bool(nbgrader_utils.is_locked(node))
        assert md.is_task(cell) == bool(nbgrader_utils.is_task(node))
        if md.is_tracked(cell) and md.grade_id_of(cell):
            assert md.checksum(cell) == nbgrader_utils.compute_checksum(node)


def test_a_grade_cell_that_is_not_a_solution_is_locked_whatever_it_says(
    source_nb: dict[str, Any],
) -> None:
    test = by_grade_id(source_nb, "test_squares")
    test["metadata"]["nbgrader"]["locked"] = False
    assert md.is_locked(test)
    answer = by_grade_id(source_nb, "explain")
    answer["metadata"]["nbgrader"]["locked"] = True
    assert not md.is_locked(answer)


def test_the_fixture_source_has_no_problem(source_nb: dict[str, Any]) -> None:
    assert md.check_source(source_nb) == []


def _problems(nb: dict[str, Any]) -> list[str]:
    return [str(p) for p in md.check_source(nb)]


@pytest.mark.parametrize(
    ("grade_id", "change", "expected"),
    [
        ("test_mean", {"points": None}, "cell 7 ('test_mean'): a graded cell needs points"),
        ("test_mean", {"points": -1}, "points must be a number, 0 or more"),
        ("test_mean", {"points": "2"}, "points must be a number, 0 or more"),
        ("test_mean", {"schema_version": 1}, "schema_version 1 is too old (3 is expected)"),
        ("test_mean", {"schema_version": 7}, "schema_version 7 is unknown"),
        ("test_mean", {"colour": "red"}, "unknown nbgrader key 'colour'"),
        ("test_mean", {"grade": "yes"}, "nbgrader 'grade' must be true or false"),
        ("test_mean", {"grade_id": "has space"}, "grade_id may hold only letters"),
        ("test_mean", {"grade_id": ""}, "an nbgrader cell needs a grade_id"),
        ("explain", {"solution": False}, "a markdown grade cell must also be a solution cell"),
        ("explain", {"grade": False}, "a markdown solution cell must also be a grade cell"),
        ("task_style", {"points": None}, "a task cell needs points"),
    ],
)
def test_broken_metadata_is_named_with_its_cell(
    source_nb: dict[str, Any], grade_id: str, change: dict[str, Any], expected: str
) -> None:
    cell = by_grade_id(source_nb, grade_id)
    index = source_nb["cells"].index(cell)
    meta = cell["metadata"]["nbgrader"]
    for key, value in change.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    problems = _problems(source_nb)
    assert any(expected in p for p in problems), problems
    # cells numbered from 1 in messages, as people and the lab number them
    assert all(p.startswith(f"cell {index + 1}") for p in problems)


def test_duplicate_grade_ids_name_both_cells(source_nb: dict[str, Any]) -> None:
    by_grade_id(source_nb, "test_mean")["metadata"]["nbgrader"]["grade_id"] = "test_squares"
    assert _problems(source_nb) == [
        "cell 7 ('test_squares'): grade_id 'test_squares' is also used by cell 4"
    ]


def test_a_task_cell_must_be_markdown(source_nb: dict[str, Any]) -> None:
    task = by_grade_id(source_nb, "task_style")
    task.update(cell_type="code", outputs=[], execution_count=None)
    problems = _problems(source_nb)
    assert "task cells have to be markdown" in problems[0]


@pytest.mark.parametrize(
    ("grade_id", "source", "expected"),
    [
        ("squares", "### BEGIN SOLUTION\nx = 1\n", "without a matching 'END SOLUTION'"),
        (
            "squares",
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
            "nested 'BEGIN SOLUTION' lines",
        ),
        ("test_mean", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "a solution region outside"),
        (
            "squares",
            "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS",
            "a hidden tests region outside",
        ),
        ("test_mean", "### BEGIN HIDDEN TESTS\nassert True", "without a matching 'END HIDDEN"),
        ("explain", "### BEGIN MARK SCHEME\n### END MARK SCHEME", "a mark scheme outside a task"),
        (
            "task_style",
            "### BEGIN MARK SCHEME\n![x](attachment:a.png)\n### END MARK SCHEME",
            "an attachment in a mark scheme",
        ),
        ("test_mean", "# AUTOTEST mean([1])", "AUTOTEST directives are not supported"),
    ],
)
def test_region_problems_are_named_with_their_cell(
    source_nb: dict[str, Any], grade_id: str, source: str, expected: str
) -> None:
    cell = by_grade_id(source_nb, grade_id)
    cell["source"] = source
    index = source_nb["cells"].index(cell)
    problems = _problems(source_nb)
    assert any(p.startswith(f"cell {index + 1} ({grade_id!r})") and expected in p for p in problems)


def test_only_python_notebooks_are_accepted(source_nb: dict[str, Any]) -> None:
    source_nb["metadata"]["kernelspec"]["language"] = "R"
    assert _problems(source_nb) == ["the notebook's language is 'R', not python"]


def test_rewrite_regions_follows_nbgraders_loop() -> None:
    text = "a\n  ### BEGIN SOLUTION\n  b\n  ### END SOLUTION\nc\n### END SOLUTION\nd"
    new, found, inside = md.rewrite_regions(text, "BEGIN SOLUTION", "END SOLUTION", ["X", "Y"])
    # the stub is indented like its BEGIN line; a stray END line goes too, as in nbgrader
    assert (new, found, inside) == ("a\n  X\n  Y\nc\nd", True, ["  b"])
    untouched = copy.copy("plain\ntext")
    assert md.rewrite_regions(untouched, "BEGIN SOLUTION", "END SOLUTION") == (
        untouched,
        False,
        [],
    )
