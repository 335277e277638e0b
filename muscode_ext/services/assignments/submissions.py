"""Submissions: students start, check and hand in their work; staff grade it.

A student starts their own project from an assignment's starter files, checks it
against the visible tests (an ordinary run of theirs), and submits: a snapshot of the
project's files, graded by a grading run (:mod:`.grading`). Instructors and TAs see
every submission, override scores and regrade; students see their own submissions,
hidden tests as name, points and pass/fail only. Anyone else gets 404.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import Caller
from ...errors import Conflict, DependencyDown, Forbidden, Invalid, NotFound, TooLarge
from ...store import Assignment, Class, Database, Membership, Project, Submission
from ...store.models import utcnow
from ..access import assignment_for, require_staff
from ..executions import ExecutionService
from ..paths import encode_content
from ..projects import FileInput, ProjectCreate, ProjectService
from ..run_requests import ExecutionCreate, main_file
from ..views import iso
from . import nbgrader
from .extensions import due_for, extended_due_dates
from .grading import (
    GRADED,
    GRADING,
    Grading,
    current_score,
    grading_progress,
    rescore_manual,
    run_test,
    score_finished,
)
from .inputs import ScoreOverride, SubmissionCreate
from .regrades import RegradeGuard
from .scoring import days_late, points_text
from .views import gradescope_json, released, submission_json

log = logging.getLogger(__name__)


class SubmissionService:
    """Students' projects, checks and submissions of assignments; scores and regrades."""

    def __init__(
        self,
        db: Database,
        projects: ProjectService,
        executions: ExecutionService,
        grading: Grading,
    ) -> None:
        self.db = db
        self.projects = projects
        self.executions = executions
        self.grading = grading
        self.regrades = RegradeGuard(executions.limiter)

    async def start(self, caller: Caller, assignment_id: str) -> tuple[dict[str, Any], bool]:
        """The caller's project for the assignment, made from the starter files the
        first time. Returns (project JSON, created)."""
        caller.require("projects")
        async with self.db.session() as s:
            a, _, _ = await assignment_for(s, caller, assignment_id)
            existing = await s.scalar(
                select(Project.id).where(
                    Project.owner == caller.name,
                    Project.assignment_id == a.id,
                    Project.deleted_at.is_(None),
                )
            )
        if existing is not None:
            return await self.projects.get(caller, existing), False
        base = project_name(a.title)
        starter = nbgrader.release_files(a) if a.format == nbgrader.NBGRADER else a.starter_files
        files = [FileInput(path=f["path"], content=f["content"]) for f in starter]
        for n in range(1, 50):
            name = base if n == 1 else f"{base} ({n})"
            try:
                project = await self.projects.create(
                    caller,
                    ProjectCreate(
                        name=name,
                        description=f"Started from the assignment {a.title!r}.",
                        language=a.language,
                        class_id=a.class_id,
                        files=files,
                    ),
                )
            except Conflict as e:
                if e.reason == "project_exists":
                    continue
                raise
            async with self.db.session() as s:
                row = await s.get(Project, project["id"])
                assert row is not None
                row.assignment_id = a.id
            return await self.projects.get(caller, project["id"]), True
        raise Conflict(
            f"you have too many projects named like {base!r}; rename some",
            reason="project_exists",
        )

    async def _snapshot(
        self, caller: Caller, a: Assignment, project_id: str
    ) -> tuple[list[tuple[str, bytes]], str]:
        """The files of one of the caller's own projects, and the file to run."""
        project, rows = await self.projects.read_files(caller, project_id)
        if project.owner != caller.name:
            raise Invalid.field("project_id", "submit one of your own projects")
        files = [(f.path, f.content) for f in rows]
        if not files:
            raise Invalid.field("project_id", "the project has no files")
        size = sum(len(c) for _, c in files)
        cap = self.executions.policy.max_source_size
        if size > cap:
            raise TooLarge(
                f"the project's files are {size} bytes; the limit is {cap} bytes",
                reason="source_too_large",
            )
        if a.format == nbgrader.NBGRADER:
            return files, nbgrader.source_file(a)[0]
        language = self.executions.languages[a.language]
        return files, main_file(language, None, [p for p, _ in files])

    async def _grading_in_flight(self, assignment_id: str, student: str) -> bool:
        """Is a submission of ``student`` being graded, or its grade not yet released
        (as the student sees it: answering otherwise would tell when it was scored)?"""
        async with self.db.session() as s:
            await score_finished(s, assignment_id, student)
            pending = await s.scalar(
                select(func.count())
                .select_from(Submission)
                .where(
                    Submission.assignment_id == assignment_id,
                    Submission.student == student,
                    (Submission.status == GRADING) | (Submission.graded_at > utcnow()),
                )
            )
        return bool(pending)

    async def check(
        self, caller: Caller, assignment_id: str, project_id: str, notebook: str | None = None
    ) -> dict[str, Any]:
        """Run the visible tests on the caller's project: an ordinary run of their own,
        which does not count as a submission. ``notebook``: which notebook of a
        notebook assignment (none: the first with visible test cells)."""
        caller.require("execute")
        async with self.db.session() as s:
            a, _, _ = await assignment_for(s, caller, assignment_id)
        if a.format == nbgrader.NBGRADER:
            return await self._check_notebook(caller, a, project_id, notebook)
        if notebook is not None:
            raise Invalid.field("notebook", "only notebook assignments have notebooks")
        visible = [t for t in a.tests if not t.get("hidden")]
        if not visible:
            raise Invalid.field(
                "assignment", "this assignment has no visible tests; run your program instead"
            )
        return await self.executions.submit(
            caller,
            ExecutionCreate.model_validate(
                {
                    "language": a.language,
                    "project_id": project_id,
                    "limits": a.limits,
                    "tests": [run_test(t) for t in visible],
                }
            ),
        )

    async def _check_notebook(
        self, caller: Caller, a: Assignment, project_id: str, notebook: str | None
    ) -> dict[str, Any]:
        """Run the caller's ``notebook`` (none: the first with visible test cells) with
        its visible test cells put back as released (never a hidden test): an ordinary
        notebook run of theirs, errors allowed."""
        paths = [p for p, _ in nbgrader.source_files(a)]
        if notebook is not None and notebook not in paths:
            raise Invalid.field(
                "notebook",
                f"{notebook!r} is not a notebook of this assignment; its notebooks are "
                + ", ".join(repr(p) for p in paths),
            )
        visible = [t["notebook"] for t in nbgrader.cell_tests(a) if not t["hidden"]]
        if notebook is None:
            notebook = visible[0] if visible else paths[0]
        if notebook not in visible:
            raise Invalid.field(
                "assignment", f"{notebook} has no visible test cells; run it instead"
            )
        files, _ = await self._snapshot(caller, a, project_id)
        run_files, main = nbgrader.run_files(a, files, notebook, visible_only=True)
        return await self.executions.submit(
            caller,
            ExecutionCreate.model_validate(
                {
                    "language": a.language,
                    "files": [
                        dict(zip(("content", "encoding"), encode_content(c), strict=True), path=p)
                        for p, c in run_files
                    ],
                    "main": main,
                    "limits": a.limits,
                    "allow_errors": True,
                }
            ),
        )

    async def submit(
        self, caller: Caller, assignment_id: str, data: SubmissionCreate
    ) -> dict[str, Any]:
        caller.require("execute")
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            archived = await s.scalar(select(Class.archived_at).where(Class.id == a.class_id))
            due, _ = await due_for(s, a, caller.name)
            used = int(
                await s.scalar(
                    select(func.count())
                    .select_from(Submission)
                    .where(Submission.assignment_id == a.id, Submission.student == caller.name)
                )
                or 0
            )
        if archived:
            raise Conflict(
                "this class is archived: it takes no new submissions", reason="class_archived"
            )
        if a.max_attempts is not None and used >= a.max_attempts:
            raise Conflict(
                f"you have used all {a.max_attempts} attempts at this assignment",
                reason="no_attempts_left",
            )
        if not staff and await self._grading_in_flight(a.id, caller.name):
            raise Conflict(
                "your previous submission is still being graded; submit again once it is",
                reason="still_grading",
            )
        files, main = await self._snapshot(caller, a, data.project_id)
        if a.format == nbgrader.NBGRADER:
            for path in nbgrader.graded_paths(a):
                nbgrader.student_notebook(files, path)  # 422 (not an attempt) if broken
        # A submission is a run: the same rate limit and queue depth as any other.
        await self.executions.admit(caller, 1)
        now = utcnow()
        days = days_late(now, due)
        sub = Submission(
            assignment_id=a.id,
            student=caller.name,
            project_id=data.project_id,
            attempt=used + 1,
            files=[
                dict(zip(("content", "encoding"), encode_content(c), strict=True), path=p)
                for p, c in files
            ],
            main=main,
            submitted_at=now,
            late=days > 0,
            days_late=days,
            status=GRADING,
            max_score=nbgrader.assignment_max(a),
        )
        runs = await self.grading.new_runs(a, sub)
        try:
            async with self.db.session() as s:
                s.add(sub)
                await s.flush()
                s.add_all(runs)
        except IntegrityError:
            raise Conflict(
                "another submission of yours arrived at the same moment; look at your "
                "submissions and try again if needed",
                reason="concurrent_submission",
            ) from None
        try:
            await self.executions.enqueue(runs)
        except DependencyDown:
            # Not graded, so not an attempt: the student may submit again.
            async with self.db.session() as s:
                row = await s.get(Submission, sub.id)
                if row is not None:
                    await s.delete(row)
            raise
        return submission_json(sub, staff=staff)

    async def submissions(
        self, caller: Caller, assignment_id: str, student: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            if staff:
                caller.require("grade")
            else:
                caller.require("classes:read")
                if student not in (None, caller.name):
                    raise Forbidden("students see only their own submissions", reason="not_staff")
                student = caller.name
            await score_finished(s, a.id, student)
            q = select(Submission).where(Submission.assignment_id == a.id)
            if student is not None:
                q = q.where(Submission.student == student)
            rows = await s.scalars(
                q.order_by(Submission.submitted_at.desc(), Submission.attempt.desc())
            )
            return [submission_json(r, staff=staff) for r in rows]

    async def _submission(
        self, s: AsyncSession, caller: Caller, submission_id: str
    ) -> tuple[Submission, Assignment, bool]:
        sub = await s.get(Submission, submission_id)
        missing = NotFound(f"submission {submission_id} not found", reason="submission_not_found")
        if sub is None:
            raise missing
        try:
            a, _, staff = await assignment_for(s, caller, sub.assignment_id)
        except NotFound:
            raise missing from None
        if not staff and sub.student != caller.name:
            raise missing
        if staff:
            caller.require("grade")
        await score_finished(s, a.id, sub.student)
        return sub, a, staff

    async def submission(self, caller: Caller, submission_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            sub, _, staff = await self._submission(s, caller, submission_id)
            return submission_json(sub, staff=staff)

    async def files(self, caller: Caller, submission_id: str) -> list[dict[str, Any]]:
        """Exactly the files that were graded: ``[{"path", "content", "encoding"}]``
        (``base64`` for files that are not UTF-8 text). Its student and the class's
        staff only; 404 for anyone else."""
        async with self.db.session() as s:
            sub, _, _ = await self._submission(s, caller, submission_id)
            return [
                {"path": f["path"], "content": f["content"], "encoding": f["encoding"]}
                for f in sub.files
            ]

    async def missing(self, caller: Caller, assignment_id: str) -> list[dict[str, Any]]:
        """The class's students who have not submitted the assignment (staff only),
        by name, each with their due date."""
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
            submitted = select(Submission.student).where(Submission.assignment_id == a.id)
            names = await s.scalars(
                select(Membership.user_name)
                .where(
                    Membership.class_id == a.class_id,
                    Membership.role == "student",
                    Membership.user_name.not_in(submitted),
                )
                .order_by(Membership.user_name)
            )
            extended = await extended_due_dates(s, a.id)
            return [
                {
                    "student": n,
                    "due_at": iso(extended.get(n, a.due_at)),
                    "extended": n in extended,
                }
                for n in names
            ]

    async def wait_graded(
        self, caller: Caller, submission_id: str, timeout: float
    ) -> dict[str, Any]:
        """The submission once graded, or as it is after ``timeout`` seconds.

        Polls the database (scoring happens in whichever process ran the grading run),
        quickly at first: a short program is graded in well under a second.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pause = 0.05
        sub = await self.submission(caller, submission_id)
        while sub["status"] != GRADED and loop.time() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            sub = await self.submission(caller, submission_id)
        return sub

    async def results_json(self, caller: Caller, submission_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            sub, _, staff = await self._submission(s, caller, submission_id)
            if not (sub.status == GRADED if staff else released(sub)):
                raise Conflict("the submission is still being graded", reason="not_graded")
            return gradescope_json(sub, staff=staff)

    async def override(
        self, caller: Caller, submission_id: str, data: ScoreOverride
    ) -> dict[str, Any]:
        given = data.model_fields_set
        if not given & {"score", "manual_scores"}:
            raise Invalid.field("body", "send score (an override) or manual_scores")
        async with self.db.session() as s:
            sub, a, staff = await self._submission(s, caller, submission_id)
            require_staff(caller, staff)
            if data.manual_scores is not None:
                self._set_manual(sub, a, data.manual_scores)
            if "score" not in given:
                await s.flush()
                return submission_json(sub, staff=True)
            if data.score is not None and data.score > sub.max_score:
                # Given against the submission's maximum (regrade first when the
                # tests' points changed): see rescaled_override.
                raise Invalid.field(
                    "score", f"must be at most the submission's {points_text(sub.max_score)} points"
                )
            sub.override_score = data.score
            sub.override_max = sub.max_score if data.score is not None else None
            sub.override_comment = data.comment if data.score is not None else None
            sub.override_by = caller.name if data.score is not None else None
            sub.override_at = utcnow() if data.score is not None else None
            if sub.status == GRADED:
                sub.score = current_score(sub, a)
            await s.flush()
            return submission_json(sub, staff=True)

    @staticmethod
    def _set_manual(sub: Submission, a: Assignment, scores: dict[str, float | None]) -> None:
        """Staff's scores of a notebook submission's manually graded cells."""
        if a.format != nbgrader.NBGRADER:
            raise Invalid.field(
                "manual_scores", "only notebook assignments have manually graded cells"
            )
        if sub.status != GRADED:
            raise Conflict(
                "the submission is still being graded; score its cells once it is",
                reason="not_graded",
            )
        resolved, problems = nbgrader.resolve_manual_keys(sub.manual or [], scores)
        if problems:
            raise Invalid("; ".join(p["message"] for p in problems), errors=problems)
        rescore_manual(sub, a, resolved)

    async def regrade(self, caller: Caller, assignment_id: str) -> dict[str, int]:
        """Grade every submission again with the assignment's current tests (in the
        queue's bulk lane). 409 while a regrade of it is in progress; 429 over the
        caller's regrade rate."""
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
            subs = list(await s.scalars(select(Submission).where(Submission.assignment_id == a.id)))
        runs = [await self.grading.new_runs(a, sub) for sub in subs]
        async with self.db.session() as s:
            # Admitted and stored in one transaction holding the assignment's row: a
            # regrade asked at the same moment, on any replica, waits here and then
            # finds this one in progress.
            await self.regrades.begin(s, caller, a.id)
            for sub, its_runs in zip(subs, runs, strict=True):
                row = await s.get(Submission, sub.id)
                assert row is not None
                row.execution_id = sub.execution_id
                row.status = GRADING
                row.tests_fingerprint = sub.tests_fingerprint
                row.regraded_by = caller.name
                # Its maximum changes with its score, once graded: never a new maximum
                # beside an old score.
                s.add_all(its_runs)
            progress = await grading_progress(s, a)
        await self.executions.enqueue([run for its_runs in runs for run in its_runs])
        log.info("regrading %d submissions of assignment %s for %s", len(runs), a.id, caller.name)
        return progress


def project_name(title: str) -> str:
    """A project name (shown as a folder) from an assignment title."""
    name = "".join(" " if ch < " " or ch in "/\\\x7f" else ch for ch in title).strip()
    return (name if name not in ("", ".", "..") else "assignment")[:200]
