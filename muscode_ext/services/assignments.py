"""Assignments and autograding: the domain rules behind ``/assignments``.

An instructor writes an assignment once (starter files, test cases with points, some
hidden); students start their own project from it, check it against the visible tests,
and submit. A submission is a snapshot of the project's files, graded by one
compile-once-run-many execution owned by :data:`GRADER`, so no student can read the
grading run (its request holds the hidden tests). When that run is done the runner's
done hook (:meth:`AssignmentService.on_run_done`, in whichever process ran it) scores
the submission; reading a submission whose run is done but not yet scored scores it
too, so a hook that never ran loses nothing.

Hidden tests reach students as name, points and pass/fail only: never their input,
expected output, the program's output on them or their verdict.

Who may do what: the class's instructors (and admins) write assignments; instructors
and TAs see every submission, override scores and regrade; students see published
assignments and their own submissions. Anyone else gets 404.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import Caller
from ..errors import Conflict, DependencyDown, Forbidden, Invalid, NotFound, TooLarge
from ..events import EventBus
from ..execution.verdicts import ACCEPTED, COMPILE_ERROR, INTERNAL_ERROR, WRONG_ANSWER
from ..store import (
    Assignment,
    Class,
    Database,
    Execution,
    Membership,
    Project,
    Submission,
    User,
)
from ..store.models import new_id, utcnow
from .classes import STAFF_ROLES, ClassService
from .executions import ExecutionCreate, ExecutionService, LimitsInput
from .paths import decode_content, encode_content, normalize_path
from .projects import FileInput, ProjectCreate, ProjectService, _Input
from .views import iso

log = logging.getLogger(__name__)

#: Owner of grading runs. User names never hold "/", so no person can be this user.
GRADER = "muscode/grader"

LateMode = Literal["accept", "penalty", "no_credit"]
_DAY = timedelta(days=1)


# -- input ---------------------------------------------------------------------------


class StarterFileInput(_Input):
    path: StrictStr
    content: StrictStr


class LatePolicyInput(_Input):
    mode: LateMode = "accept"
    penalty_per_day: float = Field(default=0.0, ge=0, le=100)


class TestSpec(_Input):
    __test__ = False  # not a pytest test class, despite the name

    name: StrictStr = Field(min_length=1, max_length=255)
    stdin: StrictStr = ""
    expected_output: StrictStr | None = None
    points: float = Field(default=1.0, ge=0, le=10_000)
    hidden: StrictBool = False
    limits: LimitsInput | None = None


class AssignmentCreate(_Input):
    title: StrictStr = Field(min_length=1, max_length=255)
    description: StrictStr = Field(default="", max_length=100_000)
    language: StrictStr
    starter_files: list[StarterFileInput] = Field(default_factory=list)
    tests: list[TestSpec] = Field(default_factory=list)
    due_at: StrictStr | None = None
    late_policy: LatePolicyInput = Field(default_factory=LatePolicyInput)
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    limits: LimitsInput | None = None
    published: StrictBool = False


class AssignmentUpdate(_Input):
    title: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    description: StrictStr | None = Field(default=None, max_length=100_000)
    language: StrictStr | None = None
    starter_files: list[StarterFileInput] | None = None
    tests: list[TestSpec] | None = None
    due_at: StrictStr | None = None
    late_policy: LatePolicyInput | None = None
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    limits: LimitsInput | None = None
    published: StrictBool | None = None


class SubmissionCreate(_Input):
    project_id: StrictStr


class ScoreOverride(_Input):
    score: float | None = Field(ge=0)
    comment: StrictStr = Field(default="", max_length=2000)


# -- pure rules ------------------------------------------------------------------------


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
    return float(sum(t.get("points", 0) for t in tests))


def _project_name(title: str) -> str:
    """A project name (shown as a folder) from an assignment title."""
    name = "".join(" " if ch < " " or ch in "/\\\x7f" else ch for ch in title).strip()
    return (name if name not in ("", ".", "..") else "assignment")[:200]


def _csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- views -----------------------------------------------------------------------------


def _public_test(t: dict[str, Any], staff: bool) -> dict[str, Any]:
    if t.get("hidden") and not staff:
        return {"name": t["name"], "points": t["points"], "hidden": True}
    return {
        "name": t["name"],
        "stdin": t["stdin"],
        "expected_output": t["expected_output"],
        "points": t["points"],
        "hidden": bool(t.get("hidden")),
        "limits": t.get("limits"),
    }


def assignment_json(
    a: Assignment,
    *,
    role: str | None,
    staff: bool,
    my: dict[str, Any],
    grading: dict[str, int] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "class_id": a.class_id,
        "title": a.title,
        "description": a.description,
        "language": a.language,
        "starter_files": a.starter_files,
        "tests": [_public_test(t, staff) for t in a.tests],
        "due_at": iso(a.due_at),
        "late_policy": a.late_policy,
        "max_attempts": a.max_attempts,
        "limits": a.limits,
        "published": a.published,
        "max_score": max_score(a.tests),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "role": role,
        "my": my,
    }
    if grading is not None:
        out["grading"] = grading
    return out


_STUDENT_TEST_FIELDS = ("name", "hidden", "points", "points_awarded", "passed")


def _student_verdict(sub: Submission) -> str | None:
    """The overall verdict a student may see: a hidden test's own verdict stays hidden."""
    if sub.verdict in (None, ACCEPTED, COMPILE_ERROR, INTERNAL_ERROR) or not sub.results:
        return sub.verdict
    for t in sub.results:
        if not t["passed"] and not t["hidden"]:
            return str(t["verdict"])
    return WRONG_ANSWER if any(not t["passed"] for t in sub.results) else sub.verdict


def submission_json(sub: Submission, *, staff: bool) -> dict[str, Any]:
    tests = []
    for t in sub.results or []:
        if t["hidden"] and not staff:
            tests.append({k: t[k] for k in _STUDENT_TEST_FIELDS})
        else:
            tests.append(dict(t))
    override = None
    if sub.override_score is not None:
        override = {
            "score": sub.override_score,
            "comment": sub.override_comment or "",
            "by": sub.override_by or "",
            "at": iso(sub.override_at),
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
        "status": sub.status,
        "verdict": sub.verdict if staff else _student_verdict(sub),
        "message": sub.message,
        "compile_output": sub.compile_output,
        "raw_score": sub.raw_score,
        "score": sub.score,
        "max_score": sub.max_score,
        "override": override,
        "tests": tests,
        "files": [f["path"] for f in sub.files],
        "graded_at": iso(sub.graded_at),
    }


def gradescope_json(sub: Submission, *, staff: bool) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded submission."""
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
        if staff or not t["hidden"]:
            entry["output"] = t.get("message") or (t.get("verdict") or "")
        tests.append(entry)
    output = sub.message or ""
    if sub.override_score is not None and sub.override_comment:
        output = f"{output}\n{sub.override_comment}".strip()
    return {
        "score": sub.score if sub.score is not None else 0.0,
        "execution_time": sum(int(t.get("time_ms") or 0) for t in sub.results or []),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


# -- the service -----------------------------------------------------------------------


class AssignmentService:
    """Assignments, submissions and grades. ``executions`` is None in a worker process,
    which only scores submissions (:meth:`on_run_done`)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        classes: ClassService | None = None,
        projects: ProjectService | None = None,
        executions: ExecutionService | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self._classes = classes
        self._projects = projects
        self._executions = executions
        self._grader_recorded = False

    @property
    def classes(self) -> ClassService:
        assert self._classes is not None, "a worker's AssignmentService only scores"
        return self._classes

    @property
    def projects(self) -> ProjectService:
        assert self._projects is not None, "a worker's AssignmentService only scores"
        return self._projects

    @property
    def executions(self) -> ExecutionService:
        assert self._executions is not None, "a worker's AssignmentService only scores"
        return self._executions

    # -- checks ---------------------------------------------------------------------

    async def _role(
        self, s: AsyncSession, caller: Caller, class_id: str
    ) -> tuple[Class, str | None, bool]:
        """The class, the caller's role in it, and whether the caller is its staff
        (TA, instructor or admin). 404 unless a member or an admin."""
        c, role = await self.classes._class(s, caller, class_id)
        return c, role, caller.admin or role in STAFF_ROLES

    async def _assignment(
        self, s: AsyncSession, caller: Caller, assignment_id: str
    ) -> tuple[Assignment, str | None, bool]:
        """The live assignment the caller may see (students: published only), the
        caller's role, and staff-ness; 404 otherwise."""
        a = await s.get(Assignment, assignment_id)
        missing = NotFound(f"assignment {assignment_id} not found", reason="assignment_not_found")
        if a is None or a.deleted_at is not None:
            raise missing
        try:
            _, role, staff = await self._role(s, caller, a.class_id)
        except NotFound:
            raise missing from None
        if not staff and not a.published:
            raise missing
        return a, role, staff

    @staticmethod
    def _require_instructor(caller: Caller, role: str | None) -> None:
        caller.require("classes:write")
        if not caller.admin and role != "instructor":
            raise Forbidden(
                "only the class's instructors and admins may change its assignments",
                reason="not_instructor",
            )

    @staticmethod
    def _require_staff(caller: Caller, staff: bool) -> None:
        caller.require("grade")
        if not staff:
            raise Forbidden("only the class's instructors and TAs may do this", reason="not_staff")

    def _clean(self, data: AssignmentCreate | AssignmentUpdate, fields: set[str]) -> dict[str, Any]:
        """Validated column values for the ``fields`` given in ``data``."""
        out: dict[str, Any] = {}
        if "title" in fields:
            assert data.title is not None
            title = data.title.strip()
            if not title:
                raise Invalid.field("title", "must not be blank")
            out["title"] = title
        if "description" in fields and data.description is not None:
            out["description"] = data.description
        if "language" in fields:
            if data.language not in self.executions.languages:
                known = ", ".join(sorted(self.executions.languages))
                raise Invalid.field(
                    "language", f"unknown language {data.language!r}; use one of {known}"
                )
            out["language"] = data.language
        if "starter_files" in fields and data.starter_files is not None:
            out["starter_files"] = self._starter_files(data.starter_files)
        if "tests" in fields and data.tests is not None:
            out["tests"] = self._tests(data.tests, data.limits)
        if "due_at" in fields:
            out["due_at"] = parse_due(data.due_at)
        if "late_policy" in fields and data.late_policy is not None:
            out["late_policy"] = data.late_policy.model_dump()
        if "max_attempts" in fields:
            out["max_attempts"] = data.max_attempts
        if "limits" in fields:
            out["limits"] = (
                None
                if data.limits is None
                else self.executions.limits_within(data.limits).as_dict()
            )
        if "published" in fields and data.published is not None:
            out["published"] = data.published
        return out

    def _starter_files(self, files: list[StarterFileInput]) -> list[dict[str, str]]:
        seen: dict[str, int] = {}
        total = 0
        for i, f in enumerate(files):
            path = normalize_path(f.path, f"starter_files[{i}].path")
            if path in seen:
                raise Invalid.field(f"starter_files[{i}].path", f"{path!r} appears twice")
            size = len(f.content.encode("utf-8"))
            self.projects._check_file_size(path, size)
            seen[path] = i
            total += size
        self.projects._check_project_size(total, len(seen))
        return [{"path": p, "content": files[i].content} for p, i in seen.items()]

    def _tests(self, tests: list[TestSpec], limits: LimitsInput | None) -> list[dict[str, Any]]:
        policy = self.executions.policy
        if len(tests) > policy.max_tests:
            raise Invalid.field("tests", f"must hold at most {policy.max_tests} tests")
        names: set[str] = set()
        out = []
        # Tests' own limits start from the assignment's.
        base = self.executions.limits_within(limits)
        for i, t in enumerate(tests):
            name = t.name.strip()
            if not name:
                raise Invalid.field(f"tests[{i}].name", "must not be blank")
            if name in names:
                raise Invalid.field(f"tests[{i}].name", f"{name!r} names two tests")
            names.add(name)
            if len(t.stdin.encode("utf-8")) > policy.max_stdin_size:
                raise TooLarge(
                    f"tests[{i}].stdin is over the limit of {policy.max_stdin_size} bytes",
                    reason="stdin_too_large",
                )
            test_limits = None
            if t.limits is not None:
                test_limits = self.executions.limits_within(
                    t.limits, base, f"tests[{i}].limits"
                ).as_dict()
            out.append(
                {
                    "name": name,
                    "stdin": t.stdin,
                    "expected_output": t.expected_output,
                    "points": t.points,
                    "hidden": t.hidden,
                    "limits": test_limits,
                }
            )
        return out

    # -- assignments ----------------------------------------------------------------

    async def create(self, caller: Caller, class_id: str, data: AssignmentCreate) -> dict[str, Any]:
        async with self.db.session() as s:
            _, role, staff = await self._role(s, caller, class_id)
            self._require_instructor(caller, role)
            values = self._clean(data, set(data.model_fields_set) | {"title", "language"})
            values.setdefault("starter_files", [])
            values.setdefault("tests", [])
            values.setdefault("late_policy", LatePolicyInput().model_dump())
            now = utcnow()
            a = Assignment(
                class_id=class_id,
                created_by=caller.name,
                created_at=now,
                updated_at=now,
                description=values.pop("description", ""),
                published=values.pop("published", False),
                **values,
            )
            s.add(a)
            await s.flush()
            return assignment_json(
                a, role=role, staff=staff, my=_my(None, []), grading={"total": 0, "pending": 0}
            )

    async def list_for_class(self, caller: Caller, class_id: str) -> list[dict[str, Any]]:
        caller.require("classes:read")
        async with self.db.session() as s:
            _, role, staff = await self._role(s, caller, class_id)
            q = select(Assignment).where(
                Assignment.class_id == class_id, Assignment.deleted_at.is_(None)
            )
            if not staff:
                q = q.where(Assignment.published.is_(True))
            rows = list(await s.scalars(q))
            rows.sort(key=lambda a: (a.due_at is None, a.due_at or a.created_at, a.title))
            return [await self._view(s, caller, a, role, staff) for a in rows]

    async def get(self, caller: Caller, assignment_id: str) -> dict[str, Any]:
        caller.require("classes:read")
        async with self.db.session() as s:
            a, role, staff = await self._assignment(s, caller, assignment_id)
            await self._score_finished(s, a.id)
            return await self._view(s, caller, a, role, staff)

    async def _view(
        self, s: AsyncSession, caller: Caller, a: Assignment, role: str | None, staff: bool
    ) -> dict[str, Any]:
        project_id = await s.scalar(
            select(Project.id).where(
                Project.owner == caller.name,
                Project.assignment_id == a.id,
                Project.deleted_at.is_(None),
            )
        )
        mine = list(
            await s.scalars(
                select(Submission)
                .where(Submission.assignment_id == a.id, Submission.student == caller.name)
                .order_by(Submission.attempt)
            )
        )
        grading = await self._progress(s, a.id) if staff else None
        return assignment_json(a, role=role, staff=staff, my=_my(project_id, mine), grading=grading)

    @staticmethod
    async def _progress(s: AsyncSession, assignment_id: str) -> dict[str, int]:
        rows = dict(
            (
                await s.execute(
                    select(Submission.status, func.count())
                    .where(Submission.assignment_id == assignment_id)
                    .group_by(Submission.status)
                )
            ).all()
        )
        return {"total": int(sum(rows.values())), "pending": int(rows.get("grading", 0))}

    async def update(
        self, caller: Caller, assignment_id: str, data: AssignmentUpdate
    ) -> dict[str, Any]:
        given = set(data.model_fields_set)
        if not given:
            raise Invalid(
                "send at least one field to change",
                errors=[{"field": "body", "message": "no field to change"}],
            )
        for name in ("title", "language", "starter_files", "tests", "late_policy", "published"):
            if name in given and getattr(data, name) is None:
                raise Invalid.field(name, "must not be null")
        async with self.db.session() as s:
            a, role, staff = await self._assignment(s, caller, assignment_id)
            self._require_instructor(caller, role)
            if "tests" not in given and "limits" in given:
                # Tests' own limits are checked against the assignment's limits.
                data = data.model_copy(
                    update={"tests": [TestSpec.model_validate(_spec(t)) for t in a.tests]}
                )
                given.add("tests")
            if "limits" not in given and a.limits:
                # New tests' own limits start from the assignment's stored ones.
                data = data.model_copy(update={"limits": LimitsInput.model_validate(a.limits)})
            values = self._clean(data, given)
            for name, value in values.items():
                setattr(a, name, value)
            a.updated_at = utcnow()
            await s.flush()
            return await self._view(s, caller, a, role, staff)

    async def delete(self, caller: Caller, assignment_id: str) -> None:
        async with self.db.session() as s:
            a, role, _ = await self._assignment(s, caller, assignment_id)
            self._require_instructor(caller, role)
            a.deleted_at = utcnow()

    # -- students -------------------------------------------------------------------

    async def start(self, caller: Caller, assignment_id: str) -> tuple[dict[str, Any], bool]:
        """The caller's project for the assignment, made from the starter files the
        first time. Returns (project JSON, created)."""
        caller.require("projects")
        async with self.db.session() as s:
            a, _, _ = await self._assignment(s, caller, assignment_id)
            existing = await s.scalar(
                select(Project.id).where(
                    Project.owner == caller.name,
                    Project.assignment_id == a.id,
                    Project.deleted_at.is_(None),
                )
            )
        if existing is not None:
            return await self.projects.get(caller, existing), False
        base = _project_name(a.title)
        files = [FileInput(path=f["path"], content=f["content"]) for f in a.starter_files]
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
        language = self.executions.languages[a.language]
        return files, self.executions._main(language, None, [p for p, _ in files])

    async def _grading_in_flight(self, assignment_id: str, student: str) -> bool:
        async with self.db.session() as s:
            await self._score_finished(s, assignment_id, student)
            pending = await s.scalar(
                select(func.count())
                .select_from(Submission)
                .where(
                    Submission.assignment_id == assignment_id,
                    Submission.student == student,
                    Submission.status == "grading",
                )
            )
        return bool(pending)

    async def check(self, caller: Caller, assignment_id: str, project_id: str) -> dict[str, Any]:
        """Run the visible tests on the caller's project: an ordinary run of their own,
        which does not count as a submission."""
        caller.require("execute")
        async with self.db.session() as s:
            a, _, _ = await self._assignment(s, caller, assignment_id)
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
                    "tests": [
                        {
                            "name": t["name"],
                            "stdin": t["stdin"],
                            "expected_output": t["expected_output"],
                            "limits": t.get("limits"),
                        }
                        for t in visible
                    ],
                }
            ),
        )

    async def submit(
        self, caller: Caller, assignment_id: str, data: SubmissionCreate
    ) -> dict[str, Any]:
        caller.require("execute")
        async with self.db.session() as s:
            a, _, staff = await self._assignment(s, caller, assignment_id)
            used = int(
                await s.scalar(
                    select(func.count())
                    .select_from(Submission)
                    .where(Submission.assignment_id == a.id, Submission.student == caller.name)
                )
                or 0
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
        # A submission is a run: the same rate limit and queue depth as any other.
        await self.executions.admit(caller, 1)
        now = utcnow()
        days = days_late(now, a.due_at)
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
            status="grading",
            max_score=max_score(a.tests),
        )
        run = await self._grading_run(a, sub, notify=[])
        try:
            async with self.db.session() as s:
                s.add(sub)
                await s.flush()
                s.add(run)
        except IntegrityError:
            raise Conflict(
                "another submission of yours arrived at the same moment; look at your "
                "submissions and try again if needed",
                reason="concurrent_submission",
            ) from None
        try:
            await self.executions.enqueue([run])
        except DependencyDown:
            # Not graded, so not an attempt: the student may submit again.
            async with self.db.session() as s:
                row = await s.get(Submission, sub.id)
                if row is not None:
                    await s.delete(row)
            raise
        return submission_json(sub, staff=staff)

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

    async def _grading_run(self, a: Assignment, sub: Submission, notify: list[str]) -> Execution:
        """A new grading run of ``sub`` against ``a``'s current tests (not stored);
        sets ``sub.execution_id``."""
        await self._ensure_grader()
        if sub.id is None:
            sub.id = new_id()
        limits = self.executions.limits_within(
            LimitsInput.model_validate(a.limits) if a.limits else None
        )
        tests = [
            {
                "name": t["name"],
                "stdin": t["stdin"],
                "expected_output": t["expected_output"],
                "limits": t.get("limits"),
                "points": t["points"],
                "hidden": bool(t.get("hidden")),
            }
            for t in a.tests
        ]
        if not tests:
            # Nothing to compare: the program must compile and run cleanly (0 points).
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
        files = [
            (f["path"], decode_content(f["content"], f["encoding"], "files")) for f in sub.files
        ]
        run = await self.executions.graded_run(
            owner=GRADER,
            language=a.language,
            files=files,
            main=sub.main,
            tests=tests,
            limits=limits,
            grading={"submission_id": sub.id, "assignment_id": a.id, "notify": notify},
        )
        run.id = run.id or new_id()
        sub.execution_id = run.id
        return run

    # -- scoring --------------------------------------------------------------------

    async def on_run_done(self, row: Execution) -> None:
        """The runner's done hook: score the submission a grading run was for."""
        grading = row.request.get("grading") if row.owner == GRADER else None
        if not grading:
            return
        async with self.db.session() as s:
            sub = await s.get(Submission, grading.get("submission_id"))
            if sub is None or sub.execution_id != row.id or sub.status == "graded":
                return
            fresh = await s.get(Execution, row.id)
            if fresh is None:
                return
            a = await s.get(Assignment, sub.assignment_id)
            if a is None:
                return
            _score(sub, a, fresh)
            progress = await self._progress(s, a.id) if grading.get("notify") else None
            notice = {
                "type": "submission",
                "id": sub.id,
                "assignment_id": sub.assignment_id,
                "status": sub.status,
                "score": sub.score,
            }
            student = sub.student
        await self.bus.notify(student, notice)
        if progress is not None:
            for name in grading["notify"]:
                await self.bus.notify(
                    name, {"type": "regrade", "assignment_id": grading["assignment_id"], **progress}
                )

    @staticmethod
    async def _score_finished(
        s: AsyncSession, assignment_id: str, student: str | None = None
    ) -> None:
        """Score the submissions whose grading run is done but not yet scored."""
        q = (
            select(Submission, Execution)
            .join(Execution, Execution.id == Submission.execution_id)
            .where(
                Submission.assignment_id == assignment_id,
                Submission.status == "grading",
                Execution.status == "done",
            )
        )
        if student is not None:
            q = q.where(Submission.student == student)
        pairs = (await s.execute(q)).all()
        if not pairs:
            return
        a = await s.get(Assignment, assignment_id)
        assert a is not None
        for sub, run in pairs:
            _score(sub, a, run)
        await s.flush()

    # -- submissions and grades ------------------------------------------------------

    async def submissions(
        self, caller: Caller, assignment_id: str, student: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            a, _, staff = await self._assignment(s, caller, assignment_id)
            if staff:
                caller.require("grade")
            else:
                caller.require("classes:read")
                if student not in (None, caller.name):
                    raise Forbidden("students see only their own submissions", reason="not_staff")
                student = caller.name
            await self._score_finished(s, a.id, student)
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
            a, _, staff = await self._assignment(s, caller, sub.assignment_id)
        except NotFound:
            raise missing from None
        if not staff and sub.student != caller.name:
            raise missing
        if staff:
            caller.require("grade")
        await self._score_finished(s, a.id, sub.student)
        return sub, a, staff

    async def submission(self, caller: Caller, submission_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            sub, _, staff = await self._submission(s, caller, submission_id)
            return submission_json(sub, staff=staff)

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
        while sub["status"] != "graded" and loop.time() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            sub = await self.submission(caller, submission_id)
        return sub

    async def results_json(self, caller: Caller, submission_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            sub, _, staff = await self._submission(s, caller, submission_id)
            if sub.status != "graded":
                raise Conflict("the submission is still being graded", reason="not_graded")
            return gradescope_json(sub, staff=staff)

    async def override(
        self, caller: Caller, submission_id: str, data: ScoreOverride
    ) -> dict[str, Any]:
        async with self.db.session() as s:
            sub, a, staff = await self._submission(s, caller, submission_id)
            self._require_staff(caller, staff)
            if data.score is not None and data.score > max(sub.max_score, max_score(a.tests)):
                # Extra credit is allowed only up to the assignment's points.
                raise Invalid.field(
                    "score", f"must be at most the assignment's {_number(sub.max_score)} points"
                )
            sub.override_score = data.score
            sub.override_comment = data.comment if data.score is not None else None
            sub.override_by = caller.name if data.score is not None else None
            sub.override_at = utcnow() if data.score is not None else None
            if sub.status == "graded":
                sub.score = _final_score(sub, a)
            await s.flush()
            return submission_json(sub, staff=True)

    async def regrade(self, caller: Caller, assignment_id: str) -> dict[str, int]:
        """Grade every submission again with the assignment's current tests."""
        async with self.db.session() as s:
            a, _, staff = await self._assignment(s, caller, assignment_id)
            self._require_staff(caller, staff)
            subs = list(await s.scalars(select(Submission).where(Submission.assignment_id == a.id)))
        runs = []
        for sub in subs:
            runs.append(await self._grading_run(a, sub, notify=[caller.name]))
        async with self.db.session() as s:
            for sub, run in zip(subs, runs, strict=True):
                row = await s.get(Submission, sub.id)
                assert row is not None
                row.execution_id = run.id
                row.status = "grading"
                row.max_score = max_score(a.tests)
                s.add(run)
            progress = await self._progress(s, a.id)
        await self.executions.enqueue(runs)
        log.info("regrading %d submissions of assignment %s for %s", len(runs), a.id, caller.name)
        return progress

    async def grades(self, caller: Caller, assignment_id: str) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            a, _, staff = await self._assignment(s, caller, assignment_id)
            self._require_staff(caller, staff)
            await self._score_finished(s, a.id)
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
            ]
        )
        for r in rows:
            w.writerow(
                [
                    _csv_cell(r["student"]),
                    _number(r["latest_score"]),
                    _number(r["best_score"]),
                    _number(r["max_score"]),
                    r["submitted_at"] or "",
                    "" if r["late"] is None else str(r["late"]).lower(),
                    r["attempts"],
                    str(r["overridden"]).lower(),
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
        total = max_score(a.tests)
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
                    "max_score": total,
                    "submitted_at": iso(latest.submitted_at) if latest else None,
                    "late": latest.late if latest else None,
                    "attempts": len(mine),
                    "overridden": bool(latest and latest.override_score is not None),
                }
            )
        return rows

    async def gradebook(self, caller: Caller, class_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            _, _, staff = await self._role(s, caller, class_id)
            self._require_staff(caller, staff)
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
                await self._score_finished(s, a.id)
            if assignments:
                rows = await s.execute(
                    select(Submission.student, Submission.assignment_id, func.max(Submission.score))
                    .where(Submission.assignment_id.in_([a.id for a in assignments]))
                    .group_by(Submission.student, Submission.assignment_id)
                )
                best = {(n, i): v for n, i, v in rows.all() if v is not None}
            names = await self._gradebook_names(s, class_id, {n for n, _ in best})
            return {
                "assignments": [
                    {
                        "id": a.id,
                        "title": a.title,
                        "max_score": max_score(a.tests),
                        "due_at": iso(a.due_at),
                        "published": a.published,
                    }
                    for a in assignments
                ],
                "students": [
                    {"name": n, "scores": {a.id: best.get((n, a.id)) for a in assignments}}
                    for n in names
                ],
            }

    async def gradebook_csv(self, caller: Caller, class_id: str) -> str:
        book = await self.gradebook(caller, class_id)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["student", *(_csv_cell(a["title"]) for a in book["assignments"])])
        w.writerow(["max_score", *(_number(a["max_score"]) for a in book["assignments"])])
        for st in book["students"]:
            w.writerow(
                [
                    _csv_cell(st["name"]),
                    *(_number(st["scores"][a["id"]]) for a in book["assignments"]),
                ]
            )
        return out.getvalue()


# -- helpers ---------------------------------------------------------------------------


def _spec(t: dict[str, Any]) -> dict[str, Any]:
    """A stored test as the input that made it (to validate it again)."""
    out = {k: t[k] for k in ("name", "stdin", "expected_output", "points", "hidden")}
    if t.get("limits"):
        out["limits"] = t["limits"]
    return out


def _my(project_id: str | None, mine: list[Submission]) -> dict[str, Any]:
    scores = [x.score for x in mine if x.score is not None]
    latest = mine[-1] if mine else None
    return {
        "project_id": project_id,
        "attempts": len(mine),
        "latest_score": latest.score if latest else None,
        "best_score": max(scores) if scores else None,
        "submitted_at": iso(latest.submitted_at) if latest else None,
    }


def _final_score(sub: Submission, a: Assignment) -> float | None:
    if sub.override_score is not None:
        return sub.override_score
    if sub.raw_score is None:
        return None
    return apply_late_policy(sub.raw_score, sub.days_late, a.late_policy)


def _score(sub: Submission, a: Assignment, run: Execution) -> None:
    """Score ``sub`` from its finished grading run (the tests as they were run)."""
    tests = run.request.get("tests") or []
    results = (run.result or {}).get("tests") or []
    verdict = run.verdict
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
                "stdout": r.get("stdout", ""),
                "stderr": r.get("stderr", ""),
                "time_ms": r.get("time_ms"),
                "memory_kb": r.get("memory_kb"),
                "message": r.get("message"),
            }
        )
    sub.results = graded
    sub.verdict = verdict
    sub.compile_output = (run.result or {}).get("compile_output")
    sub.max_score = float(sum(t["points"] for t in graded))
    if verdict == INTERNAL_ERROR and not results:
        sub.raw_score = None
        sub.message = (
            "MUSCode could not grade this submission "
            f"({run.message or 'the sandbox failed'}); an instructor can regrade it."
        )
    else:
        sub.raw_score = float(sum(t["points_awarded"] for t in graded))
        passed = sum(1 for t in graded if t["passed"])
        sub.message = (
            "The program did not compile."
            if verdict == COMPILE_ERROR
            else f"{passed} of {len(graded)} tests passed."
        )
    sub.score = _final_score(sub, a)
    sub.status = "graded"
    sub.graded_at = utcnow()
