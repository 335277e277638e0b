"""JSON views of assignments and submissions, for staff and for students.

Hidden tests reach students as name, points and pass/fail only: never their input,
expected output, the program's output on them, their verdict, or any figure that
depends on how long they ran or how much memory or output they used. A student's
``results.json`` ``execution_time`` sums the visible tests only (of a notebook, those
before its first hidden test cell: the student's code runs on in the kernel that ran
it); ``graded_at`` is
staff-only; and a grade reaches its student at its release time (``graded_at``, see
``grading.apply_score``): until then the student sees the submission as it was while
being graded, whatever the staff already see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...execution.compare import DEFAULT_COMPARE
from ...execution.verdicts import RUNTIME_ERROR
from ...store import Assignment, Submission
from ...store.models import utcnow
from ..views import iso
from . import nbgrader
from .grading import GRADED, GRADING
from .scoring import rescaled_override, student_verdict


def released(sub: Submission, now: datetime | None = None) -> bool:
    """Has the grade of ``sub`` been given to its student (graded, release time past)?"""
    return (
        sub.status == GRADED
        and sub.graded_at is not None
        and (now if now is not None else utcnow()) >= sub.graded_at
    )


def _public_test(t: dict[str, Any], staff: bool) -> dict[str, Any]:
    if t.get("hidden") and not staff:
        return {"name": t["name"], "points": t["points"], "hidden": True}
    return {
        "name": t["name"],
        "stdin": t["stdin"],
        "expected_output": t["expected_output"],
        "compare": t.get("compare") or DEFAULT_COMPARE,
        "tolerance": t.get("tolerance"),
        "points": t["points"],
        "hidden": bool(t.get("hidden")),
        "limits": t.get("limits"),
    }


def my_work(
    project_id: str | None,
    mine: list[Submission],
    due_at: datetime | None = None,
    extended: bool = False,
) -> dict[str, Any]:
    """The caller's own project, attempts and due date (their extension's, else the
    assignment's) of an assignment (its ``my`` field); the scores of released grades
    only."""
    now = utcnow()
    scores = [x.score for x in mine if x.score is not None and released(x, now)]
    latest = mine[-1] if mine else None
    return {
        "project_id": project_id,
        "attempts": len(mine),
        "latest_score": latest.score if latest and released(latest, now) else None,
        "best_score": max(scores) if scores else None,
        "submitted_at": iso(latest.submitted_at) if latest else None,
        "due_at": iso(due_at),
        "extended": extended,
    }


def assignment_json(
    a: Assignment,
    *,
    role: str | None,
    staff: bool,
    my: dict[str, Any],
    grading: dict[str, int] | None = None,
    verification: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An assignment as ``role`` sees it. Its staff also get the reference solution,
    ``grading`` (progress, and how many grades are stale), ``regrade_suggested`` and
    the latest ``verification``; a student sees their own due date as ``due_at``."""
    notebook = a.format == nbgrader.NBGRADER
    out: dict[str, Any] = {
        "id": a.id,
        "class_id": a.class_id,
        "title": a.title,
        "description": a.description,
        "language": a.language,
        "format": a.format,
        # A notebook assignment's students get the release, never the source notebook.
        "starter_files": nbgrader.release_files(a) if notebook and not staff else a.starter_files,
        "tests": nbgrader.cell_tests(a) if notebook else [_public_test(t, staff) for t in a.tests],
        "due_at": iso(a.due_at) if staff else my["due_at"],
        "late_policy": a.late_policy,
        "max_attempts": a.max_attempts,
        "limits": a.limits,
        "published": a.published,
        "max_score": nbgrader.assignment_max(a),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "role": role,
        "my": my,
    }
    if notebook:
        out["manual"] = nbgrader.manual_cells(a)
    if staff:
        out["reference_files"] = a.reference_files or []
        out["verification"] = verification
        if grading is not None:
            out["grading"] = grading
            out["regrade_suggested"] = grading.get("stale", 0) > 0
    return out


_STUDENT_TEST_FIELDS = ("name", "hidden", "points", "points_awarded", "passed")
# Marks of a notebook's test results for these views only, never shown.
_MARKS = ("student_detail", "stopped_after_hidden")
# What its student is told of a notebook that stopped (a limit, the kernel died) from
# its first hidden test cell on: which limit could depend on the hidden test's input.
STOPPED_VERDICT = RUNTIME_ERROR
STOPPED_MESSAGE = "The notebook did not finish running"


def _stopped_after_hidden(sub: Submission) -> bool:
    """Did ``sub``'s notebook stop (no test scores) from its first hidden test cell on?"""
    return any(t.get("stopped_after_hidden") for t in sub.results or [])


def _student_message(sub: Submission) -> str | None:
    """The submission's message as its student sees it: not the limit a notebook hit
    from its first hidden test cell on."""
    if not _stopped_after_hidden(sub):
        return sub.message
    message = (
        f"{STOPPED_MESSAGE}, so no test scores: make it run from top to bottom, then submit again."
    )
    if sub.manual:
        message += nbgrader.staff_cells_note(len(sub.manual))
    return message


def _detailed(t: dict[str, Any]) -> bool:
    """Does its student see more of test result ``t`` than name, points and pass/fail?
    Not of a hidden test, nor of a notebook's test cell that ran after a hidden one
    (the student's code could have filled its output, or spent its time, with what it
    saw of the hidden test)."""
    return not t["hidden"] and bool(t.get("student_detail", True))


def _student_test(t: dict[str, Any]) -> dict[str, Any]:
    """A test's result as its student sees it: name, points and pass/fail only unless
    :func:`_detailed`; of a notebook stopped from its first hidden test cell on, not
    which limit it hit."""
    if not _detailed(t):
        # A notebook assignment's cells also name their notebook (not in older results).
        return {k: t[k] for k in (*_STUDENT_TEST_FIELDS, "notebook") if k in t}
    out = {k: v for k, v in t.items() if k not in _MARKS}
    if t.get("stopped_after_hidden"):
        out |= {"verdict": STOPPED_VERDICT, "message": STOPPED_MESSAGE.lower()}
    return out


def manual_json(sub: Submission, *, staff: bool) -> list[dict[str, Any]]:
    """A notebook submission's manually graded cells: each with its ``score`` (staff's,
    else the automatic one: 0 for an unchanged answer, else null)."""
    scores = sub.manual_scores or {}
    out = []
    for m in sub.manual or []:
        key = nbgrader.manual_key(m)
        entry = {
            "name": m["name"],
            "points": m["points"],
            "score": scores.get(key, m.get("points_awarded")),
            "scored_by_staff": key in scores,
            "message": m.get("message"),
        }
        if m.get("notebook"):  # not in results stored before cells named it
            entry["notebook"] = m["notebook"]
        if staff:
            entry["answer"] = m.get("answer", "")
        out.append(entry)
    return out


def _student_verdict(sub: Submission) -> str | None:
    if _stopped_after_hidden(sub):
        return STOPPED_VERDICT
    return student_verdict(sub.verdict, sub.results)


def submission_json(sub: Submission, *, staff: bool) -> dict[str, Any]:
    """A submission: everything for staff; for its student, once released, hidden
    tests' results reduced to pass/fail and points and the verdict they may see, and
    before that the submission as it is while being graded (no results at all)."""
    shown = staff or released(sub)
    tests = []
    for t in (sub.results or []) if shown else []:
        if staff:
            tests.append({k: v for k, v in t.items() if k not in _MARKS})
        else:
            tests.append(_student_test(t))
    override = None
    if sub.override_score is not None:
        given_max = sub.override_max if sub.override_max is not None else sub.max_score
        override = {
            "score": sub.override_score,
            "comment": sub.override_comment or "",
            "by": sub.override_by or "",
            "at": iso(sub.override_at),
            "max": given_max,
            "review": rescaled_override(sub.override_score, given_max, sub.max_score)[1],
        }
    return {
        "id": sub.id,
        "assignment_id": sub.assignment_id,
        "student": sub.student,
        "project_id": sub.project_id,
        "attempt": sub.attempt,
        "submitted_at": iso(sub.submitted_at),
        "late": sub.late,
        "days_late": sub.days_late,
        "status": sub.status if staff else (GRADED if shown else GRADING),
        "verdict": sub.verdict if staff else (_student_verdict(sub) if shown else None),
        "message": (sub.message if staff else _student_message(sub)) if shown else None,
        "compile_output": sub.compile_output if shown else None,
        "raw_score": sub.raw_score if shown else None,
        "score": sub.score if shown else None,
        "max_score": sub.max_score,
        "override": override,
        "tests": tests,
        "manual": manual_json(sub, staff=staff) if shown else [],
        "files": [f["path"] for f in sub.files],
        # When the grade was released: it moves with nothing hidden, but it is the
        # staff's (a student knows when they got their grade).
        "graded_at": iso(sub.graded_at) if staff else None,
    }


def gradescope_json(sub: Submission, *, staff: bool) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded submission; a student's
    ``execution_time`` is that of the visible tests only."""
    tests = []
    for number, t in enumerate(sub.results or [], start=1):
        entry: dict[str, Any] = {
            "name": t["name"],
            "number": str(number),
            "score": t["points_awarded"],
            "max_score": t["points"],
            "status": "passed" if t["passed"] else "failed",
            "visibility": "hidden" if t["hidden"] else "visible",
        }
        if staff or _detailed(t):
            shown = t if staff else _student_test(t)
            entry["output"] = shown.get("message") or (shown.get("verdict") or "")
        tests.append(entry)
    output = (sub.message if staff else _student_message(sub)) or ""
    if sub.override_score is not None and sub.override_comment:
        output = f"{output}\n{sub.override_comment}".strip()
    return {
        "score": sub.score if sub.score is not None else 0.0,
        "execution_time": sum(
            int(t.get("time_ms") or 0) for t in sub.results or [] if staff or _detailed(t)
        ),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
