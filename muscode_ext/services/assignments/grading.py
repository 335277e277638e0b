"""Grading runs: made for a submission, recognised by it, scored when done.

A submission is graded by one compile-once-run-many execution owned by
:data:`GRADER`, so no student can read the grading run (its request holds the hidden
tests); a notebook submission by one notebook run per graded notebook, each in its own
sandbox and kernel. The run names its submission in ``executions.submission_id``; the
submission names its (first) run in ``execution_id``, whose ``request["grading"]
["runs"]`` lists the runs that grade it together (:func:`grading_runs`). When it is done
the runner's done hook (:meth:`Grading.on_run_done`, in whichever process ran it)
scores the submission; reading a submission whose run is done but not yet scored
scores it too (:func:`score_finished`), so a hook that never ran loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ...events import EventBus
from ...names import GRADER
from ...store import Assignment, Database, Execution, Submission, User
from ...store.models import RunStatus, new_id, utcnow
from ..executions import ExecutionService
from ..notebook_runs import graded_notebook_run
from ..paths import decode_content
from ..run_requests import LimitsInput
from . import nbgrader
from .fingerprints import grading_fingerprint
from .scoring import days_late, final_score, release_hold_ms, score_run

log = logging.getLogger(__name__)

#: A submission's status while its grading run has not been scored, and after.
GRADING, GRADED = "grading", "graded"


class Grading:
    """Grading runs of one process. ``executions`` is None in a worker process, which
    only scores (:meth:`on_run_done`)."""

    def __init__(self, db: Database, bus: EventBus, executions: ExecutionService | None) -> None:
        self.db = db
        self.bus = bus
        self._executions = executions
        self._grader_recorded = False
        #: Notices being sent at their grade's release (:func:`apply_score`).
        self._held: set[asyncio.Future[None]] = set()

    async def _ensure_grader(self) -> None:
        """Record the grading user once (runs reference their owner)."""
        if self._grader_recorded:
            return
        try:
            async with self.db.session() as s:
                if await s.get(User, GRADER) is None:
                    s.add(User(name=GRADER))
        except IntegrityError:
            pass  # recorded at the same moment by another request or process
        self._grader_recorded = True

    async def new_runs(self, a: Assignment, sub: Submission) -> list[Execution]:
        """The new grading runs of ``sub`` against ``a``'s current tests (not stored):
        one, or one per graded notebook of a notebook assignment; sets
        ``sub.execution_id`` (the first) and ``sub.tests_fingerprint``. 503 when the
        sandbox is down, 422 when the assignment's language is unavailable."""
        if sub.id is None:
            sub.id = new_id()
        files = [
            (f["path"], decode_content(f["content"], f["encoding"], "files")) for f in sub.files
        ]
        if a.format == nbgrader.NBGRADER:
            runs = [
                await self.run_notebook(a, files, submission_id=sub.id, path=path)
                for path in nbgrader.graded_paths(a)
            ]
            ids = [r.id for r in runs]
            for r in runs:
                r.request = {**r.request, "grading": {"notebook": r.request["main"], "runs": ids}}
        else:
            runs = [
                await self.run_tests(
                    a, files, sub.main, submission_id=sub.id, build_scope=sub.student
                )
            ]
        sub.execution_id = runs[0].id
        sub.tests_fingerprint = grading_fingerprint(a)
        return runs

    async def run_tests(
        self,
        a: Assignment,
        files: list[tuple[str, bytes]],
        main: str,
        *,
        submission_id: str | None = None,
        build_scope: str | None = None,
    ) -> Execution:
        """A new run (not stored) of ``a``'s current tests on ``files``, owned by
        :data:`GRADER` so no student ever reads it; it grades ``submission_id`` if
        given. ``build_scope``: whose builds it may reuse (the student's own runs of
        the same code); None: the grader's own."""
        assert self._executions is not None, "a worker's grading only scores"
        await self._ensure_grader()
        limits = self._executions.limits_within(
            LimitsInput.model_validate(a.limits) if a.limits else None
        )
        return await self._executions.graded_run(
            owner=GRADER,
            language=a.language,
            files=files,
            main=main,
            tests=tests_to_run(a),
            limits=limits,
            submission_id=submission_id,
            build_scope=build_scope,
        )

    async def run_notebook(
        self,
        a: Assignment,
        files: list[tuple[str, bytes]],
        *,
        submission_id: str,
        path: str | None = None,
    ) -> Execution:
        """A new grading run (not stored) of the student's notebook at ``path`` (None:
        the first) among ``files``: its grading version (every test cell the
        instructor's, hidden tests back), run with errors allowed, owned by
        :data:`GRADER`. 422 when it is not a notebook."""
        assert self._executions is not None, "a worker's grading only scores"
        await self._ensure_grader()
        limits = self._executions.limits_within(
            LimitsInput.model_validate(a.limits) if a.limits else None
        )
        run_files, main = nbgrader.run_files(a, files, path)
        return await graded_notebook_run(
            self._executions,
            owner=GRADER,
            files=run_files,
            main=main,
            limits=limits,
            submission_id=submission_id,
        )

    async def on_run_done(self, row: Execution) -> None:
        """The runner's done hook: score the submission a grading run was for, tell
        its student, and tell whoever asked for its regrade how far the regrade is."""
        if row.submission_id is None:
            return
        async with self.db.session() as s:
            sub = await s.get(Submission, row.submission_id)
            if sub is None:
                return
            runs = await grading_runs(s, sub)
            if row.id not in {r.id for r in runs}:
                return  # a run of an earlier grading of it
            a = await s.get(Assignment, sub.assignment_id)
            if a is None:
                return
            own = None
            if not _finishes(row, runs):
                # Not the run that ends the grading (another of its notebooks' runs
                # does): it still holds its worker until its own part of the grade would
                # be released.
                if a.format != nbgrader.NBGRADER or sub.regraded_by:
                    return
                own = run_release(a, row)
            elif sub.status != GRADED:
                apply_score(sub, a, runs)
            # else a reader scored it first (:func:`score_finished`): this run still
            # holds its worker until the release and tells the student, as if it had.
            regraded_by = sub.regraded_by
            progress = await grading_progress(s, a) if regraded_by else None
            notice = {
                "type": "submission",
                "id": sub.id,
                "assignment_id": sub.assignment_id,
                "status": sub.status,
                "score": sub.score,
            }
            student, released, scored = sub.student, sub.graded_at, sub.status == GRADED
        if own is not None:
            await asyncio.sleep(max(0.0, (own - utcnow()).total_seconds()))
            return
        if not scored:
            return
        if regraded_by and progress is not None:
            await self.bus.notify(
                regraded_by, {"type": "regrade", "assignment_id": a.id, **progress}
            )
        if not regraded_by and released is not None:
            # A submission the student just made: this worker stays busy until the grade
            # is released too, so that when it frees up (which the student's own queued
            # runs would feel) says nothing of the hidden tests either. Regrades, which
            # no student starts, do not hold their worker.
            await asyncio.sleep(max(0.0, (released - utcnow()).total_seconds()))
        await self._notify_at(released, student, notice)

    async def _notify_at(self, when: datetime | None, user: str, notice: dict[str, Any]) -> None:
        """Tell ``user`` now, or at ``when`` (the grade's release). A notice held back
        is lost if the process stops first; the student still sees the grade."""
        delay = 0.0 if when is None else (when - utcnow()).total_seconds()
        if delay <= 0:
            await self.bus.notify(user, notice)
        else:
            asyncio.get_running_loop().call_later(delay, self._tell_later, user, notice)

    def _tell_later(self, user: str, notice: dict[str, Any]) -> None:
        async def tell() -> None:
            try:
                await self.bus.notify(user, notice)
            except Exception:  # a notice is a courtesy: the grade is stored and shown
                log.warning("could not tell %s that submission %s is graded", user, notice["id"])

        task = asyncio.ensure_future(tell())
        self._held.add(task)
        task.add_done_callback(self._held.discard)


def run_test(t: dict[str, Any]) -> dict[str, Any]:
    """An assignment's test as a run's request carries it: what runs and how its output
    is compared."""
    return {
        "name": t["name"],
        "stdin": t["stdin"],
        "expected_output": t["expected_output"],
        "compare": t.get("compare"),
        "tolerance": t.get("tolerance"),
        "limits": t.get("limits"),
    }


def tests_to_run(a: Assignment) -> list[dict[str, Any]]:
    """The tests a run of ``a``'s tests carries (each with its points and hidden flag).
    Without tests the program must compile and run cleanly (a test of 0 points)."""
    tests = [
        run_test(t) | {"points": t["points"], "hidden": bool(t.get("hidden"))} for t in a.tests
    ]
    if not tests:
        tests = [
            {
                "name": "runs",
                "stdin": "",
                "expected_output": None,
                "limits": None,
                "points": 0.0,
                "hidden": False,
            }
        ]
    return tests


def apply_score(sub: Submission, a: Assignment, runs: Sequence[Execution]) -> None:
    """Score ``sub`` from its finished grading runs (the tests as they were run).

    ``graded_at`` is when its student is given the grade: the run's end plus what the
    hidden tests left of their wall-time limits (:func:`.scoring.release_hold_ms`), so
    that nothing a student sees, not even when, depends on how long they ran."""
    if a.format == nbgrader.NBGRADER:
        apply_notebook_score(sub, a, runs)
        return
    run = runs[0]
    scored = score_run(run.request.get("tests") or [], run.result, run.verdict, run.message)
    sub.results = scored.results
    sub.verdict = scored.verdict
    sub.compile_output = scored.compile_output
    sub.max_score = scored.max_score
    sub.raw_score = scored.raw_score
    sub.message = scored.message
    sub.score = current_score(sub, a)
    sub.status = GRADED
    hold = release_hold_ms(
        run.request.get("tests") or [], run.result, run.verdict, run.request.get("limits")
    )
    sub.graded_at = (run.finished_at or utcnow()) + timedelta(milliseconds=hold)


def _notebook_of(a: Assignment, run: Execution) -> str:
    """Which of ``a``'s notebooks a grading run ran."""
    return str((run.request.get("grading") or {}).get("notebook") or run.request["main"])


def run_release(a: Assignment, run: Execution) -> datetime:
    """When a notebook's finished grading run lets its grade out: its end, held as if
    every cell from its first hidden test on had used its whole time
    (:func:`.nbgrader.release_hold_ms`)."""
    path = _notebook_of(a, run)
    known = path in dict(nbgrader.source_files(a))
    hold = nbgrader.release_hold_ms(
        a, run.result, run.notebook, run.request, path if known else None
    )
    return (run.finished_at or utcnow()) + timedelta(milliseconds=hold)


def apply_notebook_score(sub: Submission, a: Assignment, runs: Sequence[Execution]) -> None:
    """Score a notebook submission from its notebooks' finished grading runs: each
    autograded cell by nbgrader's rule (a notebook whose run did not finish scores
    none of its cells; the others count), the manually graded cells by the staff's
    scores kept from before (those still valid for the assignment's cells). Its
    ``graded_at`` is the latest of its runs' :func:`run_release`."""
    paths = nbgrader.graded_paths(a)
    by_path = {_notebook_of(a, r): r for r in runs}
    if len(runs) == 1 and len(paths) == 1:
        by_path = {paths[0]: runs[0]}  # one notebook, even if renamed since
    scored: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        run = by_path.get(path)
        if run is None:  # the notebook is newer than the grading: regrade
            scored.append((path, nbgrader.score_run(a, None, None, None, path)))
        else:
            scored.append(
                (path, nbgrader.score_run(a, run.result, run.notebook, run.verdict, path))
            )
    combined = nbgrader.combine(scored)
    sub.results = combined["results"]
    sub.manual = combined["manual"]
    kept, _ = nbgrader.resolve_manual_keys(sub.manual, sub.manual_scores or {})
    sub.manual_scores = {k: v for k, v in kept.items() if v is not None}
    sub.verdict = combined["verdict"]
    sub.compile_output = None
    sub.max_score = combined["max_score"]
    sub.raw_score = combined["raw_score"] + nbgrader.manual_points(sub.manual, sub.manual_scores)
    sub.message = combined["message"]
    sub.score = current_score(sub, a)
    sub.status = GRADED
    sub.graded_at = max(run_release(a, r) for r in runs)


def rescore_manual(sub: Submission, a: Assignment, scores: dict[str, float | None]) -> None:
    """Staff's scores of manually graded cells (None removes one; keyed as
    :func:`.nbgrader.manual_key` keys them), and the totals."""
    kept = dict(sub.manual_scores or {})
    for name, value in scores.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = float(value)
    sub.manual_scores = kept
    if sub.status == GRADED:
        auto = float(sum(t["points_awarded"] for t in sub.results or []))
        sub.raw_score = auto + nbgrader.manual_points(sub.manual or [], kept)
        sub.score = current_score(sub, a)


def current_score(sub: Submission, a: Assignment) -> float | None:
    """What ``sub`` scores now: its override (kept relative to its maximum), else its
    raw score after ``a``'s late policy."""
    return final_score(
        sub.raw_score,
        sub.override_score,
        sub.days_late,
        a.late_policy,
        override_max=sub.override_max,
        max_score=sub.max_score,
    )


def judge_lateness(sub: Submission, a: Assignment, due: datetime | None) -> None:
    """Judge ``sub`` late or not against ``due`` (the student's due date), and score
    it again if it is graded."""
    days = days_late(sub.submitted_at, due)
    sub.late = days > 0
    sub.days_late = days
    if sub.status == GRADED:
        sub.score = current_score(sub, a)


async def score_finished(s: AsyncSession, assignment_id: str, student: str | None = None) -> None:
    """Score the submissions whose grading run is done but not yet scored."""
    q = (
        select(Submission, Execution)
        .join(Execution, Execution.id == Submission.execution_id)
        .where(
            Submission.assignment_id == assignment_id,
            Submission.status == GRADING,
            Execution.status == RunStatus.DONE,
        )
    )
    if student is not None:
        q = q.where(Submission.student == student)
    pairs = (await s.execute(q)).all()
    if not pairs:
        return
    a = await s.get(Assignment, assignment_id)
    assert a is not None
    for sub, _ in pairs:
        runs = await grading_runs(s, sub)
        if all(r.status == RunStatus.DONE for r in runs):
            apply_score(sub, a, runs)
    await s.flush()


def _finishes(row: Execution, runs: Sequence[Execution]) -> bool:
    """Whether ``row`` is the grading run whose end completes its grading: all of
    ``runs`` are done and it finished last (ties broken by id), so that one hook, and
    only one, scores the submission and tells its student."""
    if any(r.status != RunStatus.DONE for r in runs):
        return False
    last = max(runs, key=lambda r: (r.finished_at.timestamp() if r.finished_at else 0.0, r.id))
    return last.id == row.id


async def grading_runs(s: AsyncSession, sub: Submission) -> list[Execution]:
    """The runs of ``sub``'s latest grading: its ``execution_id`` and the runs that
    one's request names beside it (a notebook submission's other notebooks)."""
    first = await s.get(Execution, sub.execution_id) if sub.execution_id else None
    if first is None:
        return []
    ids = [i for i in (first.request.get("grading") or {}).get("runs") or [] if i != first.id]
    if not ids:
        return [first]
    others = {r.id: r for r in await s.scalars(select(Execution).where(Execution.id.in_(ids)))}
    return [first, *(others[i] for i in ids if i in others)]


async def grading_progress(s: AsyncSession, a: Assignment) -> dict[str, int]:
    """How many submissions ``a`` has, how many are still being graded, and how many
    were last graded against other tests (or points, limits, language) than its
    current ones: ``stale``, a regrade is advisable."""
    rows = dict(
        (
            await s.execute(
                select(Submission.status, func.count())
                .where(Submission.assignment_id == a.id)
                .group_by(Submission.status)
            )
        ).all()
    )
    stale = await s.scalar(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.assignment_id == a.id,
            Submission.tests_fingerprint.is_not(None),
            Submission.tests_fingerprint != grading_fingerprint(a),
        )
    )
    return {
        "total": int(sum(rows.values())),
        "pending": int(rows.get(GRADING, 0)),
        "stale": int(stale or 0),
    }
