"""Grades: one assignment's grade sheet and a class's gradebook, as JSON and CSV.

Only the class's instructors and TAs (and admins) read grades. A row per student of
the class, and per anyone else who submitted but is not its staff (a student taken
off the roster keeps their grades). A grade sheet's row carries the latest
submission's maximum beside its score (so a changed maximum never stands beside an
older score) and its override's comment; a gradebook's row carries the student's
``total`` over the published assignments.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import Caller
from ...store import Assignment, Database, Membership, Submission
from ..access import STAFF_ROLES, assignment_for, class_role, require_staff
from ..views import iso
from .grading import score_finished
from .nbgrader import assignment_max
from .scoring import points_text


class GradebookService:
    """Grade sheets of assignments and gradebooks of classes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def grades(self, caller: Caller, assignment_id: str) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
            await score_finished(s, a.id)
            return await self._grade_rows(s, a)

    async def grades_csv(self, caller: Caller, assignment_id: str) -> str:
        rows = await self.grades(caller, assignment_id)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(
            [
                "student",
                "latest_score",
                "best_score",
                "max_score",
                "submitted_at",
                "late",
                "attempts",
                "overridden",
                "comment",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    _csv_cell(r["student"]),
                    points_text(r["latest_score"]),
                    points_text(r["best_score"]),
                    points_text(r["max_score"]),
                    r["submitted_at"] or "",
                    "" if r["late"] is None else str(r["late"]).lower(),
                    r["attempts"],
                    str(r["overridden"]).lower(),
                    _csv_cell(r["comment"]),
                ]
            )
        return out.getvalue()

    @staticmethod
    async def _gradebook_names(s: AsyncSession, class_id: str, submitters: set[str]) -> list[str]:
        """The class's students, and anyone else who submitted but is not its staff
        (a student taken off the roster keeps their grades)."""
        roles = dict(
            (
                await s.execute(
                    select(Membership.user_name, Membership.role).where(
                        Membership.class_id == class_id
                    )
                )
            ).all()
        )
        students = {n for n, r in roles.items() if r == "student"}
        return sorted(students | {n for n in submitters if roles.get(n) not in STAFF_ROLES})

    async def _grade_rows(self, s: AsyncSession, a: Assignment) -> list[dict[str, Any]]:
        subs = list(
            await s.scalars(
                select(Submission)
                .where(Submission.assignment_id == a.id)
                .order_by(Submission.attempt)
            )
        )
        by_student: dict[str, list[Submission]] = {}
        for sub in subs:
            by_student.setdefault(sub.student, []).append(sub)
        names = await self._gradebook_names(s, a.class_id, set(by_student))
        total = assignment_max(a)
        rows = []
        for name in names:
            mine = by_student.get(name, [])
            latest = mine[-1] if mine else None
            scores = [x.score for x in mine if x.score is not None]
            rows.append(
                {
                    "student": name,
                    "latest_score": latest.score if latest else None,
                    "best_score": max(scores) if scores else None,
                    "max_score": latest.max_score if latest else total,
                    "submitted_at": iso(latest.submitted_at) if latest else None,
                    "late": latest.late if latest else None,
                    "attempts": len(mine),
                    "overridden": bool(latest and latest.override_score is not None),
                    "comment": latest.override_comment
                    if latest and latest.override_score is not None
                    else None,
                }
            )
        return rows

    async def gradebook(self, caller: Caller, class_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            _, _, staff = await class_role(s, caller, class_id)
            require_staff(caller, staff)
            assignments = list(
                await s.scalars(
                    select(Assignment).where(
                        Assignment.class_id == class_id, Assignment.deleted_at.is_(None)
                    )
                )
            )
            assignments.sort(key=lambda a: (a.due_at is None, a.due_at or a.created_at, a.title))
            best: dict[tuple[str, str], float] = {}
            for a in assignments:
                await score_finished(s, a.id)
            if assignments:
                rows = await s.execute(
                    select(Submission.student, Submission.assignment_id, func.max(Submission.score))
                    .where(Submission.assignment_id.in_([a.id for a in assignments]))
                    .group_by(Submission.student, Submission.assignment_id)
                )
                best = {(n, i): v for n, i, v in rows.all() if v is not None}
            names = await self._gradebook_names(s, class_id, {n for n, _ in best})
            counted = [a for a in assignments if a.published]
            return {
                "max_total": float(sum(assignment_max(a) for a in counted)),
                "assignments": [
                    {
                        "id": a.id,
                        "title": a.title,
                        "max_score": assignment_max(a),
                        "due_at": iso(a.due_at),
                        "published": a.published,
                    }
                    for a in assignments
                ],
                "students": [
                    {
                        "name": n,
                        "scores": {a.id: best.get((n, a.id)) for a in assignments},
                        "total": float(sum(best.get((n, a.id)) or 0.0 for a in counted)),
                    }
                    for n in names
                ],
            }

    async def gradebook_csv(self, caller: Caller, class_id: str) -> str:
        book = await self.gradebook(caller, class_id)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["student", *(_csv_cell(a["title"]) for a in book["assignments"]), "total"])
        w.writerow(
            [
                "max_score",
                *(points_text(a["max_score"]) for a in book["assignments"]),
                points_text(book["max_total"]),
            ]
        )
        for st in book["students"]:
            w.writerow(
                [
                    _csv_cell(st["name"]),
                    *(points_text(st["scores"][a["id"]]) for a in book["assignments"]),
                    points_text(st["total"]),
                ]
            )
        return out.getvalue()


def _csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
