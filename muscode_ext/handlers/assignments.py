"""``/classes/{id}/assignments``, ``/assignments``, submissions and grades."""

from __future__ import annotations

from ..services.assignments import (
    AssignmentCreate,
    AssignmentService,
    AssignmentUpdate,
    ScoreOverride,
    SubmissionCreate,
)
from .base import API_PREFIX, MuscodeHandler, api

#: How long ``?wait=true`` waits for a check run or a submission's grading.
WAIT_SECONDS = 120.0


class _Handler(MuscodeHandler):
    @property
    def service(self) -> AssignmentService:
        return self.muscode.assignments

    def write_csv(self, text: str, filename: str) -> None:
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(text, set_content_type="text/csv; charset=UTF-8")


class ClassAssignmentsHandler(_Handler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.service.list_for_class(self.caller, class_id))

    @api
    async def post(self, class_id: str) -> None:
        a = await self.service.create(self.caller, class_id, self.parse(AssignmentCreate))
        self.write_json(a, 201, location=self.url("assignments", a["id"]))


class ClassGradesHandler(_Handler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.service.gradebook(self.caller, class_id))


class ClassGradesCsvHandler(_Handler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_csv(await self.service.gradebook_csv(self.caller, class_id), "grades.csv")


class AssignmentHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.get(self.caller, assignment_id))

    @api
    async def patch(self, assignment_id: str) -> None:
        data = self.parse(AssignmentUpdate)
        self.write_json(await self.service.update(self.caller, assignment_id, data))

    @api
    async def delete(self, assignment_id: str) -> None:
        await self.service.delete(self.caller, assignment_id)
        self.no_content()


class StartHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        project, created = await self.service.start(self.caller, assignment_id)
        location = self.url("projects", project["id"])
        self.write_json(project, 201 if created else 200, location=location)


class CheckHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        wait = self.query_bool("wait")
        data = self.parse(SubmissionCreate)
        run = await self.service.check(self.caller, assignment_id, data.project_id)
        location = self.url("executions", run["id"])
        if not wait:
            self.write_json(run, 201, location=location)
            return
        run = await self.muscode.executions.wait(self.caller, run["id"], WAIT_SECONDS)
        self.write_json(run, 200 if run["status"] == "done" else 201, location=location)


class SubmissionsHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        student = self.get_query_argument("student", None)
        self.write_json(await self.service.submissions(self.caller, assignment_id, student))

    @api
    async def post(self, assignment_id: str) -> None:
        wait = self.query_bool("wait")
        sub = await self.service.submit(self.caller, assignment_id, self.parse(SubmissionCreate))
        location = self.url("submissions", sub["id"])
        if wait:
            sub = await self.service.wait_graded(self.caller, sub["id"], WAIT_SECONDS)
        self.write_json(sub, 200 if sub["status"] == "graded" else 201, location=location)


class RegradeHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        self.write_json(await self.service.regrade(self.caller, assignment_id), 202)


class GradesHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.grades(self.caller, assignment_id))


class GradesCsvHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        text = await self.service.grades_csv(self.caller, assignment_id)
        self.write_csv(text, f"grades-{assignment_id}.csv")


class SubmissionHandler(_Handler):
    @api
    async def get(self, submission_id: str) -> None:
        self.write_json(await self.service.submission(self.caller, submission_id))

    @api
    async def patch(self, submission_id: str) -> None:
        data = self.parse(ScoreOverride)
        self.write_json(await self.service.override(self.caller, submission_id, data))


class ResultsJsonHandler(_Handler):
    @api
    async def get(self, submission_id: str) -> None:
        self.write_json(await self.service.results_json(self.caller, submission_id))


_CLASS = r"(?P<class_id>[^/]+)"
_A = r"(?P<assignment_id>[^/]+)"
_S = r"(?P<submission_id>[^/]+)"

default_handlers = [
    (rf"{API_PREFIX}/classes/{_CLASS}/assignments", ClassAssignmentsHandler),
    (rf"{API_PREFIX}/classes/{_CLASS}/grades", ClassGradesHandler),
    (rf"{API_PREFIX}/classes/{_CLASS}/grades\.csv", ClassGradesCsvHandler),
    (rf"{API_PREFIX}/assignments/{_A}", AssignmentHandler),
    (rf"{API_PREFIX}/assignments/{_A}/start", StartHandler),
    (rf"{API_PREFIX}/assignments/{_A}/check", CheckHandler),
    (rf"{API_PREFIX}/assignments/{_A}/submissions", SubmissionsHandler),
    (rf"{API_PREFIX}/assignments/{_A}/regrade", RegradeHandler),
    (rf"{API_PREFIX}/assignments/{_A}/grades", GradesHandler),
    (rf"{API_PREFIX}/assignments/{_A}/grades\.csv", GradesCsvHandler),
    (rf"{API_PREFIX}/submissions/{_S}", SubmissionHandler),
    (rf"{API_PREFIX}/submissions/{_S}/results\.json", ResultsJsonHandler),
]
