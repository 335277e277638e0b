"""Verification: an assignment's tests, run on its reference solution.

An instructor stores a reference solution with the assignment (``reference_files``,
never shown to students) and asks for every test to be run on it: the tests pass
there, or one of them is wrong. The run is like a grading run: owned by MUSCode's
grader, so no student (and no ``GET /executions``) ever sees it. The assignment keeps
its latest verification and the fingerprint of what it ran, so its staff can tell
whether the current tests were verified against the current reference.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import Caller
from ...errors import Conflict, Invalid, NotFound
from ...execution.verdicts import ACCEPTED
from ...store import Assignment, Database, Execution
from ...store.models import RunStatus
from ..access import assignment_for, require_staff
from ..executions import ExecutionService
from ..paths import decode_content
from ..run_requests import main_file
from ..views import iso
from .fingerprints import verification_fingerprint
from .grading import Grading
from .scoring import score_run


def reference_main(languages: dict[str, Any], language: str, paths: list[str]) -> str:
    """The reference solution's file to run; 422 naming ``reference_files`` when it
    cannot be told."""
    try:
        return main_file(languages[language], None, paths)
    except Invalid:
        name = languages[language].name
        raise Invalid.field(
            "reference_files",
            f"cannot tell which file to run: give one {name} main file "
            f"(e.g. {languages[language].main_path()})",
        ) from None


def verification_json(a: Assignment, run: Execution, *, full: bool) -> dict[str, Any]:
    """The latest verification of ``a``: a summary, or ``full`` with per-test results."""
    done = run.status == RunStatus.DONE
    out: dict[str, Any] = {
        "execution_id": run.id,
        "status": run.status,
        "verdict": run.verdict,
        "passed": (run.verdict == ACCEPTED) if done else None,
        "current": a.verification_fingerprint is not None
        and a.verification_fingerprint == verification_fingerprint(a),
        "created_at": iso(run.created_at),
        "finished_at": iso(run.finished_at),
    }
    if full:
        scored = score_run(run.request.get("tests") or [], run.result, run.verdict, run.message)
        out["message"] = run.message or (scored.message if done else None)
        out["compile_output"] = (run.result or {}).get("compile_output")
        out["tests"] = scored.results if done else []
    return out


class VerificationService:
    """Runs of assignments' tests on their reference solutions."""

    def __init__(self, db: Database, executions: ExecutionService, grading: Grading) -> None:
        self.db = db
        self.executions = executions
        self.grading = grading

    async def verify(self, caller: Caller, assignment_id: str) -> dict[str, Any]:
        """Run every test of the assignment on its reference solution (staff)."""
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
        if not a.reference_files:
            raise Conflict(
                "this assignment has no reference solution: add reference_files first",
                reason="no_reference_solution",
            )
        files = [
            (f["path"], decode_content(f["content"], "utf-8", "reference_files"))
            for f in a.reference_files
        ]
        main = reference_main(self.executions.languages, a.language, [p for p, _ in files])
        await self.executions.admit(caller, 1)
        run = await self.grading.run_tests(a, files, main)
        async with self.db.session() as s:
            s.add(run)
            row = await s.get(Assignment, a.id)
            assert row is not None
            row.verification_run_id = run.id
            row.verification_fingerprint = verification_fingerprint(a)
            await s.flush()
            view = verification_json(row, run, full=True)
        await self.executions.enqueue([run])
        return view

    async def latest(self, caller: Caller, assignment_id: str) -> dict[str, Any]:
        """The assignment's latest verification, with per-test results (staff)."""
        async with self.db.session() as s:
            a, _, staff = await assignment_for(s, caller, assignment_id)
            require_staff(caller, staff)
            run = await latest_run(s, a)
            if run is None:
                raise NotFound(
                    "the tests have not been run on the reference solution yet",
                    reason="not_verified",
                )
            return verification_json(a, run, full=True)

    async def wait(self, caller: Caller, assignment_id: str, timeout: float) -> dict[str, Any]:
        """The latest verification once done, or as it is after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pause = 0.05
        view = await self.latest(caller, assignment_id)
        while view["status"] != RunStatus.DONE and loop.time() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            view = await self.latest(caller, assignment_id)
        return view


async def latest_run(s: AsyncSession, a: Assignment) -> Execution | None:
    """The assignment's latest verification run, if any."""
    if a.verification_run_id is None:
        return None
    return await s.get(Execution, a.verification_run_id)
