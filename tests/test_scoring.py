"""The pure scoring rules: from a grading run's results to points, and what a student
may see of them. (Through the server: tests/test_assignments.py.)"""

from __future__ import annotations

from typing import Any

from muscode_ext.services.assignments.scoring import (
    final_score,
    max_score,
    points_text,
    score_run,
    student_verdict,
)

TESTS: list[dict[str, Any]] = [
    {"name": "one", "stdin": "1", "expected_output": "2", "points": 2, "hidden": False},
    {"name": "two", "stdin": "2", "expected_output": "3", "points": 3, "hidden": True},
    {"name": "three", "stdin": "3", "expected_output": "4", "points": 5},
]


def _result(*verdicts: str, **extra: Any) -> dict[str, Any]:
    return {"tests": [{"verdict": v, "stdout": "x", "time_ms": 7} for v in verdicts], **extra}


def test_points_for_passed_tests_only() -> None:
    scored = score_run(TESTS, _result("accepted", "wrong_answer", "accepted"), "wrong_answer", None)
    assert [t["points_awarded"] for t in scored.results] == [2.0, 0.0, 5.0]
    assert [t["passed"] for t in scored.results] == [True, False, True]
    assert [t["hidden"] for t in scored.results] == [False, True, False]
    assert scored.raw_score == 7.0 and scored.max_score == 10.0 == max_score(TESTS)
    assert scored.message == "2 of 3 tests passed."
    assert scored.results[1]["stdin"] == "2" and scored.results[1]["stdout"] == "x"


def test_a_program_that_does_not_compile_scores_zero() -> None:
    scored = score_run(TESTS, {"tests": [], "compile_output": "err"}, "compile_error", None)
    assert scored.raw_score == 0.0 and scored.compile_output == "err"
    assert scored.message == "The program did not compile."
    # Tests that never ran carry the run's verdict.
    assert {t["verdict"] for t in scored.results} == {"compile_error"}


def test_a_sandbox_failure_leaves_no_score_and_says_why() -> None:
    scored = score_run(TESTS, None, "internal_error", "the sandbox could not run this program")
    assert scored.raw_score is None
    assert "could not grade this submission (the sandbox could not run" in scored.message
    assert "an instructor can regrade it" in scored.message
    assert score_run(TESTS, None, "internal_error", None).message.startswith(
        "MUSCode could not grade this submission (the sandbox failed)"
    )


def test_the_override_wins_then_the_late_policy_applies() -> None:
    penalty = {"mode": "penalty", "penalty_per_day": 10}
    assert final_score(8.0, None, 0, penalty) == 8.0
    assert final_score(8.0, None, 2, penalty) == 6.4
    assert final_score(8.0, None, 1, {"mode": "no_credit"}) == 0.0
    assert final_score(8.0, 9.5, 3, {"mode": "no_credit"}) == 9.5
    assert final_score(None, None, 0, penalty) is None


def test_a_students_verdict_never_tells_a_hidden_tests_own() -> None:
    results = [
        {"name": "one", "hidden": False, "passed": True, "verdict": "accepted"},
        {"name": "two", "hidden": True, "passed": False, "verdict": "time_limit_exceeded"},
    ]
    assert student_verdict("time_limit_exceeded", results) == "wrong_answer"
    results[0].update(passed=False, verdict="runtime_error")
    assert student_verdict("runtime_error", results) == "runtime_error"
    assert student_verdict("compile_error", results) == "compile_error"
    assert student_verdict(None, None) is None


def test_points_are_written_as_people_write_them() -> None:
    assert [points_text(v) for v in (8.0, 7.5, 0.25, None)] == ["8", "7.5", "0.25", ""]
