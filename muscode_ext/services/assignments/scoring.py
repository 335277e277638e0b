"""Scoring: pure rules from a grading run's results to a submission's points.

No database and no I/O: what a grading run returned, the tests it ran and the
assignment's late policy go in; results, scores and messages come out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...execution.base import Limits
from ...execution.compare import DEFAULT_COMPARE
from ...execution.verdicts import ACCEPTED, COMPILE_ERROR, INTERNAL_ERROR, WRONG_ANSWER

_DAY = timedelta(days=1)


def days_late(submitted_at: datetime, due_at: datetime | None) -> int:
    """Started days after the due date (0: on time)."""
    if due_at is None or submitted_at <= due_at:
        return 0
    return max(1, math.ceil((submitted_at - due_at) / _DAY))


def apply_late_policy(raw: float, days: int, policy: dict[str, Any]) -> float:
    """The score after the late policy, for a submission ``days`` days late."""
    if days <= 0:
        return raw
    mode = policy.get("mode", "accept")
    if mode == "no_credit":
        return 0.0
    if mode == "penalty":
        factor = max(0.0, 1.0 - float(policy.get("penalty_per_day", 0)) * days / 100)
        return round(raw * factor, 4)
    return raw


def max_score(tests: Sequence[dict[str, Any]]) -> float:
    """The points of all ``tests`` together."""
    return float(sum(t.get("points", 0) for t in tests))


def rescaled_override(
    score: float, given_max: float | None, max_score: float | None
) -> tuple[float, bool]:
    """An override of ``score`` points given against ``given_max`` points, as it counts
    against the submission's ``max_score`` now, and whether it needs review.

    The rule: an override keeps its fraction. When the maximum changed since it was
    given (the tests' points changed and the submission was graded again), it counts as
    the same fraction of the new maximum (4 of 5 becomes 8 of 10), rounded to 4 places,
    and is flagged for review until staff set it again. One given against 0 points has
    no fraction: it counts as given, flagged for review.
    """
    if given_max is None or max_score is None or given_max == max_score:
        return score, False
    if given_max > 0:
        return round(score * max_score / given_max, 4), True
    return score, True


def final_score(
    raw_score: float | None,
    override_score: float | None,
    days: int,
    policy: dict[str, Any],
    *,
    override_max: float | None = None,
    max_score: float | None = None,
) -> float | None:
    """What counts: an instructor's override (:func:`rescaled_override` when it was
    given against ``override_max`` and the maximum is now ``max_score``), else the raw
    score after the late policy (None while there is no raw score)."""
    if override_score is not None:
        return rescaled_override(override_score, override_max, max_score)[0]
    if raw_score is None:
        return None
    return apply_late_policy(raw_score, days, policy)


@dataclass(frozen=True)
class Scored:
    """A graded run: one entry per test as it was run, and the totals."""

    results: list[dict[str, Any]]
    verdict: str | None
    compile_output: str | None
    raw_score: float | None
    max_score: float
    message: str


def score_run(
    tests: Sequence[dict[str, Any]],
    result: dict[str, Any] | None,
    verdict: str | None,
    run_message: str | None,
) -> Scored:
    """Score a finished grading run of ``tests`` (as they were run, with points and
    hidden flags) from its ``result``, ``verdict`` and ``message``. A run that failed
    before any test ran (``internal_error`` without results) has no raw score."""
    results = (result or {}).get("tests") or []
    graded = []
    for i, t in enumerate(tests):
        r = results[i] if i < len(results) else {}
        passed = r.get("verdict") == ACCEPTED
        graded.append(
            {
                "name": t["name"],
                "hidden": bool(t.get("hidden")),
                "points": float(t.get("points", 0)),
                "points_awarded": float(t.get("points", 0)) if passed else 0.0,
                "passed": passed,
                "verdict": r.get("verdict", verdict),
                "stdin": t["stdin"],
                "expected_output": t["expected_output"],
                "compare": t.get("compare") or DEFAULT_COMPARE,
                "stdout": r.get("stdout", ""),
                "stderr": r.get("stderr", ""),
                # Hidden like stdout: a student sees only _STUDENT_TEST_FIELDS of a
                # hidden test (views.submission_json).
                "stdout_base64": r.get("stdout_base64"),
                "stderr_base64": r.get("stderr_base64"),
                "time_ms": r.get("time_ms"),
                "memory_kb": r.get("memory_kb"),
                "message": r.get("message"),
            }
        )
    raw: float | None
    if verdict == INTERNAL_ERROR and not results:
        raw = None
        message = (
            "MUSCode could not grade this submission "
            f"({run_message or 'the sandbox failed'}); an instructor can regrade it."
        )
    else:
        raw = float(sum(t["points_awarded"] for t in graded))
        passed = sum(1 for t in graded if t["passed"])
        message = (
            "The program did not compile."
            if verdict == COMPILE_ERROR
            else f"{passed} of {len(graded)} tests passed."
        )
    return Scored(
        results=graded,
        verdict=verdict,
        compile_output=(result or {}).get("compile_output"),
        raw_score=raw,
        max_score=float(sum(t["points"] for t in graded)),
        message=message,
    )


def release_hold_ms(
    tests: Sequence[dict[str, Any]],
    result: dict[str, Any] | None,
    verdict: str | None,
    run_limits: dict[str, Any] | None,
) -> int:
    """How long after its grading run ends a grade is held back from its student, in ms.

    Each hidden test that ran adds what was left of its wall-time limit, so the grade
    reaches the student when it would have had every hidden test used all its time:
    the moment says nothing of how long they ran. Nothing is held when no test ran
    (the program did not compile: that does not depend on any test's input).
    """
    if verdict == COMPILE_ERROR:
        return 0
    ran = (result or {}).get("tests") or []
    default = Limits().wall_time_ms
    base = (run_limits or {}).get("wall_time_ms") or default
    hold = 0
    for i, t in enumerate(tests):
        if not t.get("hidden") or i >= len(ran):
            continue
        own = t.get("limits")
        limit = int((own.get("wall_time_ms") or default) if own else base)
        hold += max(0, limit - int(ran[i].get("wall_time_ms") or 0))
    return hold


def student_verdict(verdict: str | None, results: Sequence[dict[str, Any]] | None) -> str | None:
    """The overall verdict a student may see: a hidden test's own verdict stays hidden
    (the first failed visible test's verdict, else ``wrong_answer`` when a hidden one
    failed)."""
    if verdict in (None, ACCEPTED, COMPILE_ERROR, INTERNAL_ERROR) or not results:
        return verdict
    for t in results:
        if not t["passed"] and not t["hidden"]:
            return str(t["verdict"])
    return WRONG_ANSWER if any(not t["passed"] for t in results) else verdict


def points_text(value: float | None) -> str:
    """Points as a person writes them: ``8``, ``7.5``, or empty for none."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
