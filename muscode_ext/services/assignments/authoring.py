"""Authoring: instructors write assignments; their class sees them.

An instructor writes an assignment once: starter files, test cases with points (some
hidden), a due date and late policy, limits. The class's instructors (and admins)
create, change and delete assignments; its TAs see them whole, with grading progress;
its students see published ones only, hidden tests as name and points. Anyone else
gets 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import Caller
from ...errors import Invalid, TooLarge
from ...store import Assignment, Database, Project, Submission
from ...store.models import utcnow
from ..access import assignment_for, class_role, require_instructor
from ..executions import ExecutionService
from ..paths import normalize_path
from ..projects import ProjectService
from ..run_requests import LimitsInput
from . import nbgrader
from .extensions import due_for
from .grading import grading_progress, score_finished
from .inputs import (
    AssignmentCreate,
    AssignmentUpdate,
    LatePolicyInput,
    StarterFileInput,
    TestSpec,
    parse_due,
)
from .verification import latest_run, reference_main, verification_json
from .views import assignment_json, my_work


class AuthoringService:
    """Assignments of classes: written by instructors, read by their class."""

    def __init__(
        self, db: Database, projects: ProjectService, executions: ExecutionService
    ) -> None:
        self.db = db
        self.projects = projects
        self.executions = executions

    def _clean(
        self,
        data: AssignmentCreate | AssignmentUpdate,
        fields: set[str],
        language: str | None = None,
        fmt: str = nbgrader.FILES,
    ) -> dict[str, Any]:
        """Validated column values for the ``fields`` given in ``data`` (``language``:
        the assignment's when ``data`` does not change it; ``fmt``: its format)."""
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
        language = data.language if "language" in fields else language
        if "starter_files" in fields and data.starter_files is not None:
            out["starter_files"] = self._files(data.starter_files, "starter_files")
        if "reference_files" in fields:
            out["reference_files"] = self._reference(data.reference_files, language)
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
        if fmt == nbgrader.NBGRADER:
            _check_notebook_assignment(data, fields, out)
        return out

    def _reference(
        self, files: list[StarterFileInput] | None, language: str | None
    ) -> list[dict[str, str]] | None:
        """A reference solution: files like starter files, one of them the file to run."""
        if not files:
            return None
        out = self._files(files, "reference_files")
        if language in self.executions.languages:
            reference_main(self.executions.languages, language, [f["path"] for f in out])
        return out

    def _files(self, files: list[StarterFileInput], field: str) -> list[dict[str, str]]:
        seen: dict[str, int] = {}
        total = 0
        for i, f in enumerate(files):
            path = normalize_path(f.path, f"{field}[{i}].path")
            if path in seen:
                raise Invalid.field(f"{field}[{i}].path", f"{path!r} appears twice")
            size = len(f.content.encode("utf-8"))
            self.projects.check_file_size(path, size)
            seen[path] = i
            total += size
        self.projects.check_project_size(total, len(seen))
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
            compare, tolerance = t.compare_rule(f"tests[{i}].")
            out.append(
                {
                    "name": name,
                    "stdin": t.stdin,
                    "expected_output": t.expected_output,
                    "compare": compare,
                    "tolerance": tolerance,
                    "points": t.points,
                    "hidden": t.hidden,
                    "limits": test_limits,
                }
            )
        return out

    async def create(self, caller: Caller, class_id: str, data: AssignmentCreate) -> dict[str, Any]:
        async with self.db.session() as s:
            _, role, staff = await class_role(s, caller, class_id)
            require_instructor(caller, role, "its assignments")
            fields = set(data.model_fields_set) | {"title", "language", "starter_files"}
            values = self._clean(data, fields - {"format"}, fmt=data.format)
            values["format"] = data.format
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
                a,
                role=role,
                staff=staff,
                my=my_work(None, [], a.due_at),
                grading={"total": 0, "pending": 0, "stale": 0},
            )

    async def list_for_class(self, caller: Caller, class_id: str) -> list[dict[str, Any]]:
        caller.require("classes:read")
        async with self.db.session() as s:
            _, role, staff = await class_role(s, caller, class_id)
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
            a, role, staff = await assignment_for(s, caller, assignment_id)
            await score_finished(s, a.id)
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
        due, extended = await due_for(s, a, caller.name)
        my = my_work(project_id, mine, due, extended)
        if not staff:
            return assignment_json(a, role=role, staff=False, my=my)
        run = await latest_run(s, a)
        return assignment_json(
            a,
            role=role,
            staff=True,
            my=my,
            grading=await grading_progress(s, a),
            verification=None if run is None else verification_json(a, run, full=False),
        )

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
            a, role, staff = await assignment_for(s, caller, assignment_id)
            require_instructor(caller, role, "its assignments")
            if "tests" not in given and "limits" in given:
                # Tests' own limits are checked against the assignment's limits.
                data = data.model_copy(
                    update={"tests": [TestSpec.model_validate(_spec(t)) for t in a.tests]}
                )
                given.add("tests")
            if "limits" not in given and a.limits:
                # New tests' own limits start from the assignment's stored ones.
                data = data.model_copy(update={"limits": LimitsInput.model_validate(a.limits)})
            values = self._clean(data, given, a.language, a.format)
            for name, value in values.items():
                setattr(a, name, value)
            a.updated_at = utcnow()
            await s.flush()
            return await self._view(s, caller, a, role, staff)

    async def delete(self, caller: Caller, assignment_id: str) -> None:
        async with self.db.session() as s:
            a, role, _ = await assignment_for(s, caller, assignment_id)
            require_instructor(caller, role, "its assignments")
            a.deleted_at = utcnow()


def _check_notebook_assignment(
    data: AssignmentCreate | AssignmentUpdate, fields: set[str], out: dict[str, Any]
) -> None:
    """What a notebook assignment must be: Python, one valid nbgrader source notebook
    among its starter files, and no file tests or reference solution (its graded cells
    are its tests, its source notebook holds the solutions)."""
    if "language" in fields and data.language != "python":
        raise Invalid.field("language", "a notebook assignment's language is python")
    if data.tests:
        raise Invalid.field(
            "tests",
            "a notebook assignment is graded by its notebook's graded cells; leave tests out",
        )
    if data.reference_files:
        raise Invalid.field(
            "reference_files",
            "a notebook assignment's solutions are in its source notebook; leave "
            "reference_files out",
        )
    if "starter_files" in out:
        nbgrader.check_starter_files(out["starter_files"])


def _spec(t: dict[str, Any]) -> dict[str, Any]:
    """A stored test as the input that made it (to validate it again)."""
    out = {k: t[k] for k in ("name", "stdin", "expected_output", "points", "hidden")}
    for key in ("limits", "compare", "tolerance"):
        if t.get(key) is not None:
            out[key] = t[key]
    return out
