"""What callers send to ``/assignments`` and ``/submissions``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from ...errors import Invalid
from ..inputs import StrictInput
from ..run_requests import CompareInput, LimitsInput

LateMode = Literal["accept", "penalty", "no_credit"]
#: ``files``: tests run the program; ``nbgrader``: the starter files hold an nbgrader
#: source notebook whose graded cells are the tests.
Format = Literal["files", "nbgrader"]


class StarterFileInput(StrictInput):
    path: StrictStr
    content: StrictStr


class LatePolicyInput(StrictInput):
    mode: LateMode = "accept"
    penalty_per_day: float = Field(default=0.0, ge=0, le=100)


class TestSpec(CompareInput):
    """One test of an assignment; ``compare``/``tolerance``: how its output is compared."""

    __test__ = False  # not a pytest test class, despite the name

    name: StrictStr = Field(min_length=1, max_length=255)
    stdin: StrictStr = ""
    expected_output: StrictStr | None = None
    points: float = Field(default=1.0, ge=0, le=10_000)
    hidden: StrictBool = False
    limits: LimitsInput | None = None


class AssignmentCreate(StrictInput):
    title: StrictStr = Field(min_length=1, max_length=255)
    description: StrictStr = Field(default="", max_length=100_000)
    language: StrictStr
    format: Format = "files"
    starter_files: list[StarterFileInput] = Field(default_factory=list)
    reference_files: list[StarterFileInput] | None = None
    tests: list[TestSpec] = Field(default_factory=list)
    due_at: StrictStr | None = None
    late_policy: LatePolicyInput = Field(default_factory=LatePolicyInput)
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    limits: LimitsInput | None = None
    published: StrictBool = False


class AssignmentUpdate(StrictInput):
    title: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    description: StrictStr | None = Field(default=None, max_length=100_000)
    language: StrictStr | None = None
    starter_files: list[StarterFileInput] | None = None
    reference_files: list[StarterFileInput] | None = None
    tests: list[TestSpec] | None = None
    due_at: StrictStr | None = None
    late_policy: LatePolicyInput | None = None
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    limits: LimitsInput | None = None
    published: StrictBool | None = None


class SubmissionCreate(StrictInput):
    project_id: StrictStr


class CheckCreate(SubmissionCreate):
    """A check of a project; ``notebook``: which of a notebook assignment's notebooks
    to run (its path; none: the first with visible test cells)."""

    notebook: StrictStr | None = None


class ScoreOverride(StrictInput):
    """Staff's change to a submission: an override of its ``score`` (null clears it)
    and/or, for a notebook assignment, the ``manual_scores`` of its manually graded
    cells (grade_id to points; null removes a score)."""

    score: float | None = Field(default=None, ge=0)
    comment: StrictStr = Field(default="", max_length=2000)
    manual_scores: dict[StrictStr, float | None] | None = None


def parse_due(value: str | None) -> datetime | None:
    """An ISO 8601 date-time with a time zone, or None."""
    if value is None:
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field(
            "due_at", f"{value!r} is not an ISO 8601 date-time (e.g. 2026-12-01T23:59:00Z)"
        ) from None
    if due.tzinfo is None:
        raise Invalid.field("due_at", "give a time zone, e.g. 2026-12-01T23:59:00Z or +01:00")
    return due
