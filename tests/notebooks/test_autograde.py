"""The grading version of a submission (nbgrader's sanitising steps) and scoring."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from muscode_ext.notebooks import metadata as md
from muscode_ext.notebooks.autograde import (
    MISSING_NOTE,
    determine_grade,
    grading_version,
    manual_score_problems,
    score,
    student_view,
)
from muscode_ext.notebooks.nbevents import source_of
from muscode_ext.notebooks.release import SourceRecord, source_record

from .conftest import by_grade_id, load


@pytest.fixture
def record(source_nb: dict[str, Any]) -> SourceRecord:
    return source_record(source_nb)


def _ids(nb: dict[str, Any]) -> list[str | None]:
    return [md.grade_id_of(c) for c in nb["cells"]]


def test_edited_tests_get_the_instructors_source_points_and_type_back(
    record: SourceRecord, source_nb: dict[str, Any]
) -> None:
    graded = grading_version(load("submitted/edited_tests.ipynb"), record)
    for grade_id in ("test_squares", "test_squares_hidden", "test_quiet"):
        cell = by_grade_id(graded, grade_id)
        assert source_of(cell) == source_of(by_grade_id(source_nb, grade_id))
        assert cell["cell_type"] == "code" and cell["outputs"] == []
    meta = by_grade_id(graded, "test_squares")["metadata"]["nbgrader"]
    assert meta["points"] == 1.0
    assert meta["checksum"] == record.get("test_squares").checksum  # type: ignore[union-attr]


def test_hidden_tests_are_put_back_into_an_untouched_submission(record: SourceRecord) -> None:
    graded = grading_version(load("submitted/perfect.ipynb"), record)
    hidden = source_of(by_grade_id(graded, "test_squares_hidden"))
    assert "assert squares(LIMIT)[-1] == 100" in hidden
    # the student's answers are theirs
    assert "range(1, n + 1)" in source_of(by_grade_id(graded, "squares"))
    assert "n*n > n" in source_of(by_grade_id(graded, "explain"))


def test_deleted_cells_are_put_back_in_source_order(record: SourceRecord) -> None:
    submitted = load("submitted/deleted_tests.ipynb")
    submitted["cells"] = [
        c for c in submitted["cells"] if md.grade_id_of(c) not in ("setup", "task_style")
    ]
    graded = grading_version(submitted, record)
    assert _ids(graded) == [
        None,
        "setup",
        "squares",
        "test_squares",
        "test_squares_hidden",
        "mean",
        "test_mean",
        "test_partial",
        "test_quiet",
        "explain",
        "describe",
        "task_style",
    ]
    back = by_grade_id(graded, "test_mean")
    note = MISSING_NOTE.format(grade_id="test_mean")
    assert source_of(back) == "# " + note + "assert mean([1, 2, 3]) == 2\n" + (
        "assert math.isclose(mean([0.1, 0.2]), 0.15)"
    )
    assert back["metadata"]["editable"] is False
    assert md.is_grade(back) and back["metadata"]["nbgrader"]["points"] == 1.0


def test_a_notebook_with_nothing_left_gets_every_graded_cell_back(record: SourceRecord) -> None:
    graded = grading_version({**load("submitted/blank.ipynb"), "cells": []}, record)
    assert "squares" not in _ids(graded)  # an ungraded answer cannot be put back
    assert _ids(graded)[0] == "setup" and _ids(graded)[-1] == "task_style"


def test_a_repeated_grade_id_is_kept_by_the_last_cell_only(record: SourceRecord) -> None:
    submitted = load("submitted/perfect.ipynb")
    test = by_grade_id(submitted, "test_squares")
    fake = copy.deepcopy(test)
    fake["source"] = "pass"
    submitted["cells"].insert(submitted["cells"].index(test) + 1, fake)
    graded = grading_version(submitted, record)
    assert _ids(graded).count("test_squares") == 1
    assert "assert squares(3)" in source_of(by_grade_id(graded, "test_squares"))


def test_metadata_the_source_does_not_know_is_dropped(record: SourceRecord) -> None:
    submitted = load("submitted/perfect.ipynb")
    bonus = copy.deepcopy(by_grade_id(submitted, "test_mean"))
    bonus["metadata"]["nbgrader"].update(grade_id="bonus", points=100)
    bonus["source"] = "pass"
    submitted["cells"].append(bonus)
    flipped = by_grade_id(submitted, "test_squares")
    flipped["metadata"]["nbgrader"].update(solution=True, grade=False)
    flipped["source"] = "pass"
    submitted["metadata"]["kernelspec"] = {"name": "evil", "language": "python"}
    graded = grading_version(submitted, record)
    assert "nbgrader" not in graded["cells"][-1]["metadata"]
    test = by_grade_id(graded, "test_squares")
    assert md.is_grade(test) and not md.is_solution(test) and md.is_locked(test)
    assert "assert squares(3)" in source_of(test)
    assert graded["metadata"]["kernelspec"]["name"] == "python3"


def test_outputs_of_the_submission_are_cleared(record: SourceRecord) -> None:
    submitted = load("submitted/perfect.ipynb")
    by_grade_id(submitted, "squares")["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "old"}
    ]
    graded = grading_version(submitted, record)
    assert all(c.get("outputs", []) == [] for c in graded["cells"])


def _out(kind: str, **fields: Any) -> dict[str, Any]:
    return {"output_type": kind, **fields}


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ([], 2.0),
        ([_out("stream", name="stdout", text="fine\n")], 2.0),
        ([_out("stream", name="stderr", text="warning\n")], 0.0),
        ([_out("error", ename="AssertionError", evalue="", traceback=[])], 0.0),
        ([_out("execute_result", data={"text/plain": "1.5"}, execution_count=1)], 1.5),
        ([_out("execute_result", data={"text/plain": ["0.5"]}, execution_count=1)], 0.5),
        ([_out("execute_result", data={"text/plain": ["1", "2"]}, execution_count=1)], 2.0),
        ([_out("execute_result", data={"text/plain": "True"}, execution_count=1)], 2.0),
        ([_out("execute_result", data={"text/plain": "-1"}, execution_count=1)], 2.0),
        ([_out("execute_result", data={"text/plain": "nan"}, execution_count=1)], 2.0),
        ([_out("execute_result", data={"text/plain": "3"}, execution_count=1)], 0.0),
        # the first result decides; an error after it does not count (nbgrader's loop)
        (
            [
                _out("execute_result", data={"text/plain": "1"}, execution_count=1),
                _out("stream", name="stderr", text="late\n"),
            ],
            1.0,
        ),
    ],
)
def test_determine_grade_is_nbgraders_rule(outputs: list[dict[str, Any]], expected: float) -> None:
    cell = {"cell_type": "code", "outputs": outputs, "source": "", "metadata": {}}
    assert determine_grade(cell, 2.0)[0] == expected


def _executed(record: SourceRecord, name: str) -> dict[str, Any]:
    return grading_version(load(f"submitted/{name}.ipynb"), record)


def test_scores_of_a_clean_run(record: SourceRecord) -> None:
    nb = _executed(record, "perfect")
    by_grade_id(nb, "test_partial")["outputs"] = [
        _out("execute_result", data={"text/plain": "2.0"}, execution_count=8)
    ]
    result = score(nb, record)
    assert [(t.grade_id, t.points_awarded, t.passed, t.hidden) for t in result.tests] == [
        ("test_squares", 1.0, True, False),
        ("test_squares_hidden", 2.0, True, True),
        ("test_mean", 1.0, True, False),
        ("test_partial", 2.0, True, False),
        ("test_quiet", 1.0, True, False),
    ]
    assert [(m.grade_id, m.points, m.points_awarded) for m in result.manual] == [
        ("explain", 2.0, None),
        ("describe", 1.0, None),
        ("task_style", 1.0, None),
    ]
    assert result.auto_points == 7.0 and result.max_points == 11.0
    assert result.total({"explain": 1.5, "task_style": 1}) == 9.5
    assert result.tests[1].as_test() == {
        "name": "test_squares_hidden",
        "points": 2.0,
        "points_awarded": 2.0,
        "passed": True,
        "hidden": True,
    }


def test_failures_not_run_cells_and_unanswered_questions(record: SourceRecord) -> None:
    nb = _executed(record, "blank")
    cells = nb["cells"]
    quiet = cells.index(by_grade_id(nb, "test_quiet"))
    mean = cells.index(by_grade_id(nb, "test_mean"))
    by_grade_id(nb, "test_squares")["outputs"] = [
        _out("error", ename="NotImplementedError", evalue="", traceback=[])
    ]
    statuses = [
        {"index": quiet, "status": "not_run"},
        {"index": mean, "status": "error"},  # an error the notebook does not show
    ]
    result = score(nb, record, statuses)
    got = {t.grade_id: (t.points_awarded, t.passed, t.message) for t in result.tests}
    assert got["test_squares"] == (0.0, False, "NotImplementedError: ")
    assert got["test_quiet"] == (0.0, False, "the test did not run")
    assert got["test_mean"][:2] == (0.0, False)
    manual = {m.grade_id: (m.points_awarded, m.message) for m in result.manual}
    assert manual == {
        "explain": (0.0, "No response."),
        "describe": (0.0, "No response."),
        "task_style": (None, None),
    }


def test_a_run_that_did_not_finish_scores_nothing(record: SourceRecord) -> None:
    result = score(_executed(record, "perfect"), record, failure="The kernel died.")
    assert {t.points_awarded for t in result.tests} == {0.0}
    assert {t.message for t in result.tests} == {"The kernel died."}
    assert result.failure == "The kernel died."


def test_students_see_nothing_produced_after_the_first_hidden_test(
    record: SourceRecord,
) -> None:
    nb = _executed(record, "perfect")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [_out("stream", name="stdout", text="In[4] leaks\n")]
    view = student_view(nb, record)
    hidden_at = view["cells"].index(by_grade_id(view, "test_squares_hidden"))
    outputs = [c.get("outputs") for c in view["cells"] if c["cell_type"] == "code"]
    assert by_grade_id(view, "test_squares_hidden")["source"] == "assert squares(2) == [1, 4]"
    assert all(o for o in outputs[:3]) and not any(o for o in outputs[3:])
    assert all(
        "LIMIT" not in source_of(c) for c in view["cells"][hidden_at:] if c["cell_type"] == "code"
    )


def test_manual_scores_are_checked(record: SourceRecord) -> None:
    assert manual_score_problems(record, {"explain": 2, "task_style": 0.5}) == []
    assert manual_score_problems(
        record, {"explain": 3, "test_mean": 1, "describe": "1", "task_style": True}
    ) == [
        "'explain': the score must be between 0 and 2",
        "'test_mean' is not a manually graded cell",
        "'describe': the score must be a number",
        "'task_style': the score must be a number",
    ]
