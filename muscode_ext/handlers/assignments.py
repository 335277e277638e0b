"""``/classes/{id}/assignments``, ``/assignments``, submissions and grades."""

from __future__ import annotations

from urllib.parse import quote

from ..services.assignments import (
    AssignmentCreate,
    AssignmentService,
    AssignmentUpdate,
    CheckCreate,
    ExtensionInput,
    ScoreOverride,
    SubmissionCreate,
)
from .base import API_PREFIX, MuscodeHandler, api
from .bodies import UPLOAD

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
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.service.authoring.list_for_class(self.caller, class_id))

    @api
    async def post(self, class_id: str) -> None:
        a = await self.service.authoring.create(self.caller, class_id, self.parse(AssignmentCreate))
        self.write_json(a, 201, location=self.url("assignments", a["id"]))


class ClassGradesHandler(_Handler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.service.gradebook.gradebook(self.caller, class_id))


class ClassGradesCsvHandler(_Handler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_csv(
            await self.service.gradebook.gradebook_csv(self.caller, class_id), "grades.csv"
        )


class AssignmentHandler(_Handler):
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.authoring.get(self.caller, assignment_id))

    @api
    async def patch(self, assignment_id: str) -> None:
        data = self.parse(AssignmentUpdate)
        self.write_json(await self.service.authoring.update(self.caller, assignment_id, data))

    @api
    async def delete(self, assignment_id: str) -> None:
        await self.service.authoring.delete(self.caller, assignment_id)
        self.no_content()


class StartHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        project, created = await self.service.submissions.start(self.caller, assignment_id)
        location = self.url("projects", project["id"])
        self.write_json(project, 201 if created else 200, location=location)


class CheckHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        wait = self.query_bool("wait")
        data = self.parse(CheckCreate)
        run = await self.service.submissions.check(
            self.caller, assignment_id, data.project_id, data.notebook
        )
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
        self.write_json(
            await self.service.submissions.submissions(self.caller, assignment_id, student)
        )

    @api
    async def post(self, assignment_id: str) -> None:
        wait = self.query_bool("wait")
        sub = await self.service.submissions.submit(
            self.caller, assignment_id, self.parse(SubmissionCreate)
        )
        location = self.url("submissions", sub["id"])
        if wait:
            sub = await self.service.submissions.wait_graded(self.caller, sub["id"], WAIT_SECONDS)
        self.write_json(sub, 200 if sub["status"] == "graded" else 201, location=location)


class RegradeHandler(_Handler):
    @api
    async def post(self, assignment_id: str) -> None:
        self.write_json(await self.service.submissions.regrade(self.caller, assignment_id), 202)


class VerifyHandler(_Handler):
    """``/assignments/{id}/verify``: the tests, run on the reference solution."""

    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.verification.latest(self.caller, assignment_id))

    @api
    async def post(self, assignment_id: str) -> None:
        wait = self.query_bool("wait")
        view = await self.service.verification.verify(self.caller, assignment_id)
        if wait:
            view = await self.service.verification.wait(self.caller, assignment_id, WAIT_SECONDS)
        location = self.url("assignments", assignment_id, "verify")
        self.write_json(view, 200 if view["status"] == "done" else 202, location=location)


class ExtensionListHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.extensions.list_for(self.caller, assignment_id))


class ExtensionHandler(_Handler):
    @api
    async def put(self, assignment_id: str, student: str) -> None:
        data = self.parse(ExtensionInput)
        extension, created = await self.service.extensions.grant(
            self.caller, assignment_id, student, data
        )
        location = self.url("assignments", assignment_id, "extensions", quote(student, safe=""))
        self.write_json(extension, 201 if created else 200, location=location)

    @api
    async def delete(self, assignment_id: str, student: str) -> None:
        await self.service.extensions.withdraw(self.caller, assignment_id, student)
        self.no_content()


class MissingHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.submissions.missing(self.caller, assignment_id))


class GradesHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        self.write_json(await self.service.gradebook.grades(self.caller, assignment_id))


class GradesCsvHandler(_Handler):
    @api
    async def get(self, assignment_id: str) -> None:
        text = await self.service.gradebook.grades_csv(self.caller, assignment_id)
        self.write_csv(text, f"grades-{assignment_id}.csv")


class SubmissionHandler(_Handler):
    @api
    async def get(self, submission_id: str) -> None:
        self.write_json(await self.service.submissions.submission(self.caller, submission_id))

    @api
    async def patch(self, submission_id: str) -> None:
        data = self.parse(ScoreOverride)
        self.write_json(await self.service.submissions.override(self.caller, submission_id, data))


class SubmissionFilesHandler(_Handler):
    @api
    async def get(self, submission_id: str) -> None:
        self.write_json(await self.service.submissions.files(self.caller, submission_id))


class ResultsJsonHandler(_Handler):
    @api
    async def get(self, submission_id: str) -> None:
        self.write_json(await self.service.submissions.results_json(self.caller, submission_id))


_CLASS = r"(?P<class_id>[^/]+)"
_A = r"(?P<assignment_id>[^/]+)"
_S = r"(?P<submission_id>[^/]+)"
_STUDENT = r"(?P<student>[^/]+)"

default_handlers = [
    (rf"{API_PREFIX}/classes/{_CLASS}/assignments", ClassAssignmentsHandler),
    (rf"{API_PREFIX}/classes/{_CLASS}/grades", ClassGradesHandler),
    (rf"{API_PREFIX}/classes/{_CLASS}/grades\.csv", ClassGradesCsvHandler),
    (rf"{API_PREFIX}/assignments/{_A}", AssignmentHandler),
    (rf"{API_PREFIX}/assignments/{_A}/start", StartHandler),
    (rf"{API_PREFIX}/assignments/{_A}/check", CheckHandler),
    (rf"{API_PREFIX}/assignments/{_A}/submissions", SubmissionsHandler),
    (rf"{API_PREFIX}/assignments/{_A}/regrade", RegradeHandler),
    (rf"{API_PREFIX}/assignments/{_A}/verify", VerifyHandler),
    (rf"{API_PREFIX}/assignments/{_A}/extensions", ExtensionListHandler),
    (rf"{API_PREFIX}/assignments/{_A}/extensions/{_STUDENT}", ExtensionHandler),
    (rf"{API_PREFIX}/assignments/{_A}/missing", MissingHandler),
    (rf"{API_PREFIX}/assignments/{_A}/grades", GradesHandler),
    (rf"{API_PREFIX}/assignments/{_A}/grades\.csv", GradesCsvHandler),
    (rf"{API_PREFIX}/submissions/{_S}", SubmissionHandler),
    (rf"{API_PREFIX}/submissions/{_S}/files", SubmissionFilesHandler),
    (rf"{API_PREFIX}/submissions/{_S}/results\.json", ResultsJsonHandler),
]
