"""Limits on regrades: one regrade of an assignment at a time, and a per-user rate.

A regrade queues one grading run per submission (bulk work, see ``queue.base``), so a
second regrade while the first is still being graded would only double the backlog:
it is refused (409) until every submission the first one re-queued is scored. Each
user's regrades are also counted against ``RunLimiter.regrade_rate`` (429).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import Caller
from ...errors import Conflict
from ...store import Assignment, Submission
from ..ratelimit import RunLimiter
from .grading import GRADING, score_finished


async def regrade_pending(s: AsyncSession, assignment_id: str) -> int:
    """Submissions of the assignment a regrade re-queued that are not scored yet."""
    await score_finished(s, assignment_id)  # a done run whose hook never ran counts as done
    return int(
        await s.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.assignment_id == assignment_id,
                Submission.status == GRADING,
                Submission.regraded_by.is_not(None),
            )
        )
        or 0
    )


class RegradeGuard:
    """Admits regrades (see the module docstring)."""

    def __init__(self, limiter: RunLimiter) -> None:
        self.limiter = limiter

    async def begin(self, s: AsyncSession, caller: Caller, assignment_id: str) -> None:
        """Admit a regrade of the assignment, whose runs ``s`` then stores: 409 when one
        is in progress, 429 when the caller asked for too many. Holds the assignment's
        row until ``s`` ends, so regrades asked at once (on any replica) take turns."""
        await s.get(Assignment, assignment_id, with_for_update=True)
        pending = await regrade_pending(s, assignment_id)
        if pending:
            raise Conflict(
                "a regrade of this assignment is already in progress"
                f" ({pending} submissions still being graded)"
                "; wait for it to finish before asking for another",
                reason="regrade_in_progress",
            )
        await self.limiter.hit_regrade(caller)
