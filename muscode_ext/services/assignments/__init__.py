"""Assignments and autograding: the domain behind ``/assignments``, ``/submissions``
and the grades of classes.

- :mod:`.authoring`: instructors write assignments (starter files, tests with points,
  some hidden, a reference solution); their class reads them;
- :mod:`.verification`: the tests, run on the reference solution;
- :mod:`.extensions`: one student's own due date;
- :mod:`.submissions`: students start, check and submit; staff override and regrade;
- :mod:`.grading`: the grading run of a submission, scored when it is done;
- :mod:`.gradebook`: grade sheets and gradebooks, JSON and CSV;
- :mod:`.scoring`: the pure rules (points, late policies, overrides, what a student may
  see); :mod:`.fingerprints`: what a grade or a verification was made against;
- :mod:`.views`: the JSON of assignments and submissions.

Hidden tests reach students as name, points and pass/fail only: never their input,
expected output, the program's output on them or their verdict; the reference
solution and its runs never reach them at all.
"""

from __future__ import annotations

from ...audit import Audit
from ...events import EventBus
from ...store import Database
from ..classes import ClassService
from ..executions import ExecutionService
from ..projects import ProjectService
from .authoring import AuthoringService
from .extensions import ExtensionInput, ExtensionService
from .gradebook import GradebookService
from .grading import GRADER, Grading
from .inputs import (
    AssignmentCreate,
    AssignmentUpdate,
    CheckCreate,
    ScoreOverride,
    SubmissionCreate,
)
from .submissions import SubmissionService
from .verification import VerificationService

__all__ = [
    "GRADER",
    "AssignmentCreate",
    "AssignmentService",
    "AssignmentUpdate",
    "CheckCreate",
    "ExtensionInput",
    "ScoreOverride",
    "SubmissionCreate",
]


class AssignmentService:
    """The assignment domain of one process, its parts built together. ``projects``
    and ``executions`` are None in a worker process, which only scores submissions
    (:meth:`on_run_done`); ``classes`` lends its audit log (extensions are audited
    like the class's other staff changes)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        classes: ClassService | None = None,
        projects: ProjectService | None = None,
        executions: ExecutionService | None = None,
    ) -> None:
        self.grading = Grading(db, bus, executions)
        self.gradebook = GradebookService(db)
        self.extensions = ExtensionService(db, classes.audit if classes is not None else Audit())
        self._authoring: AuthoringService | None = None
        self._submissions: SubmissionService | None = None
        self._verification: VerificationService | None = None
        if projects is not None and executions is not None:
            self._authoring = AuthoringService(db, projects, executions)
            self._submissions = SubmissionService(db, projects, executions, self.grading)
            self._verification = VerificationService(db, executions, self.grading)
        #: The runner's done hook: scores the submission a grading run was for.
        self.on_run_done = self.grading.on_run_done

    @property
    def authoring(self) -> AuthoringService:
        assert self._authoring is not None, "a worker's AssignmentService only scores"
        return self._authoring

    @property
    def submissions(self) -> SubmissionService:
        assert self._submissions is not None, "a worker's AssignmentService only scores"
        return self._submissions

    @property
    def verification(self) -> VerificationService:
        assert self._verification is not None, "a worker's AssignmentService only scores"
        return self._verification
