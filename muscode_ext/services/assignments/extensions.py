"""Extensions: one student's own due date for one assignment.

The class's staff (TAs, instructors, admins, with ``grade``) grant, change and withdraw
extensions; each change is an audit event (``extension``). A student's due date is
their extension's, else the assignment's: their late flags and late penalties, and the
due date their own view of the assignment shows, follow it. Granting, changing or
withdrawing an extension judges that student's existing submissions again against
their new due date (late flag, days late, score after the late policy); changing the
assignment's own due date judges nobody again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import StrictStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ...audit import Audit
from ...auth import Caller
from ...errors import Invalid, NotFound
from ...store import Assignment, Database, Extension, Membership, Submission
from ...store.models import utcnow
from ..access import assignment_for, require_staff
from ..inputs import StrictInput
from ..views import iso
from .grading import judge_lateness, score_finished
from .inputs import parse_due


class ExtensionInput(StrictInput):
    due_at: StrictStr


def extension_json(e: Extension) -> dict[str, Any]:
    return {
        "student": e.student,
        "due_at": iso(e.due_at),
        "granted_by": e.granted_by,
        "granted_at": iso(e.granted_at),
    }


async def due_for(s: AsyncSession, a: Assignment, student: str) -> tuple[datetime | None, bool]:
    """``student``'s due date for ``a`` and whether it is an extension."""
    e = await s.get(Extension, (a.id, student))
    return (e.due_at, True) if e is not None else (a.due_at, False)


async def extended_due_dates(s: AsyncSession, assignment_id: str) -> dict[str, datetime]:
    """The due date of every student with an extension of the assignment."""
    rows = await s.execute(
        select(Extension.student, Extension.due_at).where(Extension.assignment_id == assignment_id)
    )
    return {student: due for student, due in rows.all()}


class ExtensionService:
    """Per-student due dates of assignments."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self.audit = audit

    async def list_for(self, caller: Caller, assignment_id: str) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
            rows = await s.scalars(
                select(Extension).where(Extension.assignment_id == a.id).order_by(Extension.student)
            )
            return [extension_json(e) for e in rows]

    async def grant(
        self, caller: Caller, assignment_id: str, student: str, data: ExtensionInput
    ) -> tuple[dict[str, Any], bool]:
        """Give ``student`` their own due date (or change it). Returns (the extension,
        whether it is new)."""
        fields = {"assignment_id": assignment_id, "student": student}
        with self.audit.recording("extension", "grant", caller, **fields) as event:
            due = parse_due(data.due_at)
            assert due is not None
            event["due_at"] = iso(due)
            async with self.db.session() as s:
                a = await self._staff_assignment(s, caller, assignment_id, event)
                role = await s.scalar(
                    select(Membership.role).where(
                        Membership.class_id == a.class_id, Membership.user_name == student
                    )
                )
                if role != "student":
                    raise Invalid.field("student", f"{student!r} is not a student of this class")
                e = await s.get(Extension, (a.id, student))
                created = e is None
                if e is None:
                    e = Extension(assignment_id=a.id, student=student)
                    s.add(e)
                e.due_at = due
                e.granted_by = caller.name
                e.granted_at = utcnow()
                await self._judge_again(s, a, student, due)
                return extension_json(e), created

    async def withdraw(self, caller: Caller, assignment_id: str, student: str) -> None:
        """Take ``student``'s extension away: the assignment's due date is theirs again."""
        fields = {"assignment_id": assignment_id, "student": student}
        with self.audit.recording("extension", "withdraw", caller, **fields) as event:
            async with self.db.session() as s:
                a = await self._staff_assignment(s, caller, assignment_id, event)
                e = await s.get(Extension, (a.id, student))
                if e is None:
                    raise NotFound(
                        f"{student!r} has no extension of this assignment",
                        reason="extension_not_found",
                    )
                await s.delete(e)
                await self._judge_again(s, a, student, a.due_at)

    @staticmethod
    async def _staff_assignment(
        s: AsyncSession, caller: Caller, assignment_id: str, event: dict[str, Any]
    ) -> Assignment:
        a, _, staff = await assignment_for(s, caller, assignment_id)
        event["class_id"] = a.class_id
        require_staff(caller, staff)
        return a

    @staticmethod
    async def _judge_again(
        s: AsyncSession, a: Assignment, student: str, due: datetime | None
    ) -> None:
        await score_finished(s, a.id, student)
        subs = await s.scalars(
            select(Submission).where(
                Submission.assignment_id == a.id, Submission.student == student
            )
        )
        for sub in subs:
            judge_lateness(sub, a, due)
        await s.flush()
