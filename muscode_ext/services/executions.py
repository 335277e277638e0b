"""Executions, the server side: validate a run, record it, queue it, answer about it.

A run is a database row (``queued``) before it is queued; a worker
(:class:`~.runner.ExecutionRunner`) marks it ``running``, runs it, streams its output
on the event bus and stores the verdict (``done``). When the server starts, queued
rows are queued again; when this server is its own worker (the in-process queue),
rows it left ``running`` are finished as ``internal_error`` with a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, select

from .. import metrics
from ..auth import Caller
from ..errors import Conflict, DependencyDown, Invalid, NotFound, RateLimited, TooLarge
from ..events import EventBus
from ..execution.base import Limits, Sandbox, SandboxUnavailable
from ..execution.languages import Language
from ..queue import INTERACTIVE, Lane, Queue
from ..store import Database, Execution
from . import run_status
from .access import staff_view_of_project
from .callbacks import CallbackSender, check_url
from .lanes import lane_of
from .projects import ProjectService
from .ratelimit import RunLimiter
from .run_requests import (
    LIMIT_FIELDS,
    ExecutionCreate,
    ExecutionPolicy,
    LimitsInput,
    execution_row,
    limits_within,
    main_file,
    run_row,
    source_files,
)
from .run_status import RunStatus
from .runner import INTERRUPTED, ExecutionRunner, Handoff, insert_handed_over, status_notice
from .views import execution_json

log = logging.getLogger(__name__)

#: The app builds the service from these.
__all__ = ["LIMIT_FIELDS", "ExecutionPolicy", "ExecutionService"]


class ExecutionService:
    """Runs for one server process: submission, the worker side, and queries."""

    def __init__(
        self,
        db: Database,
        sandbox: Sandbox,
        languages: dict[str, Language],
        policy: ExecutionPolicy,
        queue: Queue,
        bus: EventBus,
        projects: ProjectService,
        limiter: RunLimiter,
        callbacks: CallbackSender,
        *,
        runner: ExecutionRunner,
    ) -> None:
        """``runner``: the worker side, built with its hooks (see ``parts.build_parts``)."""
        self.db = db
        self.sandbox = sandbox
        self.languages = languages
        self.policy = policy
        self.queue = queue
        self.bus = bus
        self.projects = projects
        self.limiter = limiter
        self.callbacks = callbacks
        self.runner = runner
        self._versions: dict[str, str | None] = {}
        self._probe: asyncio.Task[None] | None = None
        self._sandbox_state: tuple[float, str | None] = (0.0, None)
        self._started: asyncio.Task[None] | None = None
        self._consuming = False
        self._probed_at = 0.0

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the sandbox, the language probe, the workers, and recovery. Idempotent:
        the server's start hook calls it, and so does the first request that needs it.
        If a step fails (the database is down), the next call tries again."""
        task = self._started
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._started = asyncio.create_task(self._start(), name="muscode-start")
        await asyncio.shield(task)

    async def _start(self) -> None:
        if self._probe is None:
            try:
                await self.sandbox.start()
            except SandboxUnavailable as e:
                # Reported by /health and as 503 on runs; the sandbox retries by itself.
                log.warning("the %s sandbox is unavailable: %s", self.sandbox.name, e)
            self._probe = asyncio.create_task(self._probe_languages(), name="muscode-probe")
        if not self._consuming:
            await self.queue.start(self.runner.run)
            self._consuming = True
        await self.recover()

    async def stop(self) -> None:
        if self._started is None:
            return
        await asyncio.gather(self._started, return_exceptions=True)
        self._started = None
        if self._consuming:
            await self.queue.stop()
            self._consuming = False
        await self.callbacks.close()
        await self.bus.close()
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None
            await self.sandbox.stop()

    async def _probe_languages(self, only: Sequence[str] | None = None) -> None:
        self._probed_at = time.monotonic()

        async def one(lang: Language) -> None:
            # A failed probe is tried again: one hiccup (an error, or a probe that ran
            # out of time on a busy machine) must not hide a language until the next
            # re-probe. A runtime that is really missing costs three quick misses.
            version = None
            for attempt in range(1, 4):
                try:
                    version = await self.sandbox.language_version(lang)
                except Exception as e:
                    log.warning("probing %s failed (attempt %d): %s", lang.id, attempt, e)
                if version is not None:
                    break
                await asyncio.sleep(0.2 * attempt)
            self._versions[lang.id] = version

        # One check first: it initialises the backend once, before the parallel probes.
        problem = await self.sandbox.check()
        if problem is not None:
            log.warning("the %s sandbox cannot run code: %s", self.sandbox.name, problem)
        wanted = [lang for lang in self.languages.values() if only is None or lang.id in only]
        await asyncio.gather(*(one(lang) for lang in wanted))
        missing = sorted(k for k, v in self._versions.items() if v is None)
        if missing:
            log.warning(
                "MUSCode languages not available in the %s sandbox: %s",
                self.sandbox.name,
                ", ".join(missing),
            )

    async def recover(self) -> None:
        """Queue again what was queued; finish what this server left running.

        Re-queuing is safe even if a job is still in a queue: a worker claims a run
        with one conditional UPDATE, so a duplicate does nothing.
        """
        running: list[Execution] = []
        if self.queue.runs_in_process:
            running = await run_status.interrupt(self.db, INTERRUPTED)
        for row in running:
            self.runner.ended_unrun(row)
        queued = await run_status.requeue(self.db)
        for execution_id, lane in queued:
            await self.queue.put(execution_id, lane=lane)
        if running or queued:
            log.info(
                "recovered executions: %d re-queued, %d marked interrupted",
                len(queued),
                len(running),
            )

    # -- facts ----------------------------------------------------------------------

    async def sandbox_problem(self) -> str | None:
        """The sandbox's own check, cached for a few seconds."""
        checked_at, problem = self._sandbox_state
        if time.monotonic() - checked_at > 5:
            problem = await self.sandbox.check()
            self._sandbox_state = (time.monotonic(), problem)
        return problem

    async def versions(self) -> dict[str, str | None]:
        """Runtime versions by language id (None: not available in the sandbox).

        Languages found missing are probed again, at most every 30 s, once the sandbox
        works: an engine that comes back makes them available without a restart.
        """
        await self.start()
        if self._probe is not None:
            await asyncio.shield(self._probe)
            missing = [k for k, v in self._versions.items() if v is None]
            if (
                missing
                and time.monotonic() - self._probed_at > 30
                and await self.sandbox_problem() is None
            ):
                self._probe = asyncio.create_task(self._probe_languages(missing))
                await asyncio.shield(self._probe)
        return self._versions

    async def list_languages(self) -> list[dict[str, Any]]:
        versions = await self.versions()
        usable = await self.sandbox_problem() is None
        return [
            {
                "id": lang.id,
                "name": lang.name,
                "version": versions.get(lang.id),
                "extensions": list(lang.extensions),
                "compiled": lang.compiled,
                "available": usable and versions.get(lang.id) is not None,
            }
            for lang in self.languages.values()
        ]

    # -- submission -----------------------------------------------------------------

    async def submit(self, caller: Caller, data: ExecutionCreate) -> dict[str, Any]:
        """Validate and record a run, then queue it. Returns its JSON (``queued``).

        With the in-process queue the run is queued while its row is written: the
        runner may start the program meanwhile, but claims the run only once the write
        is over, and shows or stores nothing of it before the claim (a row that was
        never written is never claimed). A hello world answers a few ms sooner. A worker
        free as the run arrives claims it in the write (see :func:`.runner.insert_handed_over`).
        """
        rows = await self._validate_many(caller, [data])
        if self.queue.runs_in_process:
            await insert_handed_over(self.db, self.queue, rows[0])
        else:
            await self._insert(rows)
            await self.enqueue(rows)
        return execution_json(rows[0])

    async def submit_batch(self, caller: Caller, runs: list[ExecutionCreate]) -> list[str]:
        """Validate every run first (one bad run rejects the batch), then queue them all."""
        if not 1 <= len(runs) <= self.policy.max_batch:
            raise Invalid.field("submissions", f"must hold 1 to {self.policy.max_batch} runs")
        rows = await self._validate_many(caller, runs)
        await self._insert(rows)
        await self.enqueue(rows)
        return [row.id for row in rows]

    async def _validate_many(self, caller: Caller, runs: list[ExecutionCreate]) -> list[Execution]:
        """The rows of valid, admitted runs (one bad run rejects them all); not stored."""
        caller.require("execute")
        rows = []
        for i, data in enumerate(runs):
            try:
                rows.append(await self._prepare(caller, data))
            except (Invalid, TooLarge, NotFound) as e:
                if len(runs) == 1:
                    raise
                prefix = f"submissions[{i}]"
                errors = [
                    {"field": f"{prefix}.{x['field']}", "message": x["message"]}
                    for x in (e.errors or [])
                ]
                raise type(e)(
                    f"{prefix}: {e.message}", reason=e.reason, errors=errors or None
                ) from None
        await self.admit(caller, len(rows))
        return rows

    async def _insert(self, rows: list[Execution]) -> None:
        async with self.db.session() as s:
            s.add_all(rows)

    async def admit(self, caller: Caller, count: int, lane: Lane = INTERACTIVE) -> None:
        """Back-pressure after validation (a bad request costs no quota), on ``lane``'s depth."""
        try:
            self.limiter.check_depth(self.queue.depth(lane), count)
            grader = caller.via == "token" and caller.has("grade")
            if not (caller.admin or grader):
                async with self.db.session() as s:
                    active = await s.scalar(
                        select(func.count())
                        .select_from(Execution)
                        .where(
                            Execution.owner == caller.name,
                            Execution.status.in_(run_status.ACTIVE),
                        )
                    )
                self.limiter.check_active(int(active or 0), count)
            await self.limiter.hit(caller, count)
        except (RateLimited, DependencyDown) as e:
            metrics.REJECTED.labels(e.reason).inc()
            raise

    async def enqueue(self, rows: list[Execution]) -> None:
        """Queue stored runs; on a queue failure the rest are finished and 503 raised."""
        for i, row in enumerate(rows):
            try:
                await self.queue.put(row.id, handoff=Handoff(row), lane=lane_of(row.owner))
            except DependencyDown:
                # The client hears 503: the runs not queued must not run later unseen.
                await self._abandon([r.id for r in rows[i:]])
                raise

    async def _abandon(self, ids: list[str]) -> None:
        abandoned = await run_status.abandon(
            self.db, ids, "the run queue was unavailable; submit it again"
        )
        for row in abandoned:
            self.runner.audit.run_finished(row)

    async def _prepare(self, caller: Caller, data: ExecutionCreate) -> Execution:
        """Validate one run and build its row (not yet stored)."""
        if data.language not in self.languages:
            await self.check_runnable(data.language)  # raises: unknown language
        language = self.languages[data.language]
        if data.interactive and data.tests is not None:
            raise Invalid.field("interactive", "an interactive run cannot carry tests")
        if data.callback_url is not None:
            await check_url(self.callbacks.policy, data.callback_url)
        if data.tests is not None and data.expected_output is not None:
            raise Invalid.field("expected_output", "give expected outputs inside tests instead")
        if data.tests is not None and not 1 <= len(data.tests) <= self.policy.max_tests:
            raise Invalid.field("tests", f"must hold 1 to {self.policy.max_tests} tests")
        await self.check_runnable(language.id)
        limits = limits_within(self.policy, data.limits)
        try:
            options = shlex.split(data.compiler_options)
        except ValueError as e:
            raise Invalid.field("compiler_options", f"cannot be split into words: {e}") from None

        source = source_files(language, data)
        project_id = None
        if source is None:
            assert data.project_id is not None
            project, rows = await self.projects.read_files(caller, data.project_id)
            project_id = project.id
            files = [(f.path, f.content) for f in rows]
            if not files:
                raise Invalid.field("project_id", "the project has no files to run")
            main = main_file(language, data.main, [p for p, _ in files])
        else:
            files, main = source
        return run_row(
            self.policy,
            data,
            owner=caller.name,
            project_id=project_id,
            language=language.id,
            files=files,
            main=main,
            limits=limits,
            compiler_options=options,
        )

    async def check_runnable(self, language_id: str, field: str = "language") -> Language:
        """The language if this server can run it now: 503 when the sandbox is down,
        422 (naming ``field``) when the language is unknown or unavailable."""
        language = self.languages.get(language_id)
        if language is None:
            raise Invalid.field(
                field,
                f"unknown language {language_id!r}; use one of {', '.join(sorted(self.languages))}",
            )
        problem = await self.sandbox_problem()
        if problem is not None:
            raise DependencyDown("executor", f"code cannot run right now: {problem}")
        versions = await self.versions()
        if versions.get(language.id) is None:
            raise Invalid.field(
                field,
                f"{language.name} is not available on this server's {self.sandbox.name} sandbox",
            )
        return language

    def limits_within(
        self, requested: LimitsInput | None, base: Limits | None = None, field: str = "limits"
    ) -> Limits:
        """``base`` (else the server's run limits) with ``requested`` applied; 422 naming
        ``field`` when a value is over the server's maximum."""
        return limits_within(self.policy, requested, base, field)

    async def graded_run(
        self,
        *,
        owner: str,
        language: str,
        files: Sequence[tuple[str, bytes]],
        main: str,
        tests: list[dict[str, Any]],
        limits: Limits,
        submission_id: str | None,
        build_scope: str | None = None,
    ) -> Execution:
        """A grading run on behalf of the server (no caller, no rate limit), not yet
        stored: compiled once, run per test. The caller stores it with what it grades,
        then hands it to :meth:`enqueue`. The run names the submission it grades
        (``submission_id``; None: a check of an assignment's tests). 503 when the
        sandbox is down, 422 when the language is unavailable."""
        await self.check_runnable(language)
        row = execution_row(
            owner=owner,
            project_id=None,
            language=language,
            files=files,
            main=main,
            limits=limits,
            tests=tests,
            build_scope=build_scope,
        )
        row.submission_id = submission_id
        return row

    # -- queries --------------------------------------------------------------------

    async def _row(
        self, caller: Caller, execution_id: str, *, read_only: bool = False
    ) -> Execution:
        """The run if the caller may see it; 404 otherwise (never 403: no leaks).

        Its owner (with ``execute``) and admins always may; with ``read_only`` (the
        caller only reads it) the staff of the class of the run's project too.
        """
        async with self.db.session() as s:
            row = await s.get(Execution, execution_id)
            visible = row is not None and (
                (caller.has("execute") and caller.can_see_owner(row.owner))
                or (
                    read_only
                    and row.project_id is not None
                    and await staff_view_of_project(s, caller, row.project_id) == row.owner
                )
            )
        if row is None or not visible:
            raise NotFound(f"execution {execution_id} not found", reason="execution_not_found")
        return row

    @staticmethod
    def _require_read(caller: Caller) -> None:
        """Reading runs needs ``execute``, or ``grade`` (then only runs staff may read)."""
        if not caller.has("grade"):
            caller.require("execute")

    async def get(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        self._require_read(caller)
        await self.start()
        return execution_json(await self._row(caller, execution_id, read_only=True))

    async def wait(
        self,
        caller: Caller,
        execution_id: str,
        timeout: float,
        *,
        submitted: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The run once done, or as it is when ``timeout`` seconds have passed.

        ``submitted`` is the run as :meth:`submit` just returned it to this caller: it
        is theirs and not done, so there is nothing to look up before listening (the
        bus keeps a finished run's events for a while, so none is missed).
        """
        if submitted is None:
            row = await self._row(caller, execution_id)
            if row.status == RunStatus.DONE:
                return execution_json(row)

        async def until_done() -> dict[str, Any] | None:
            async for event in self.bus.subscribe(execution_id):
                if event.get("type") == "done" and isinstance(event.get("result"), dict):
                    return dict(event["result"])
            return None

        result = None
        with contextlib.suppress(asyncio.TimeoutError):
            result = await asyncio.wait_for(until_done(), timeout)
        # The done event carries the stored result; without it, ask the database.
        return (
            result if result is not None else execution_json(await self._row(caller, execution_id))
        )

    async def list_runs(
        self,
        caller: Caller,
        *,
        ids: list[str] | None = None,
        project_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """The caller's runs (an admin's: everyone's), newest first. With ``project_id``
        of a class project, its class's TAs and instructors get its owner's runs of it."""
        self._require_read(caller)
        await self.start()
        async with self.db.session() as s:
            owner: str | None = None if caller.admin else caller.name
            staff_of = None
            if project_id is not None and not caller.admin:
                staff_of = await staff_view_of_project(s, caller, project_id)
            if staff_of is not None:
                owner = staff_of
            else:
                caller.require("execute")
            q = select(Execution)
            if owner is not None:
                q = q.where(Execution.owner == owner)
            if ids is not None:
                q = q.where(Execution.id.in_(ids))
            if project_id is not None:
                q = q.where(Execution.project_id == project_id)
            if status is not None:
                q = q.where(Execution.status == status)
            if before is not None:
                anchor = await s.get(Execution, before)
                if (
                    anchor is None
                    or (owner is not None and anchor.owner != owner)
                    or (project_id is not None and anchor.project_id != project_id)
                ):
                    raise Invalid.field("before", "is not the id of one of these executions")
                q = q.where(Execution.created_at < anchor.created_at)
            rows = await s.scalars(q.order_by(Execution.created_at.desc()).limit(limit))
            return [execution_json(r) for r in rows]

    # -- control --------------------------------------------------------------------

    async def cancel(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        """Stop a run: a queued one is finished at once, a running one is told to stop."""
        caller.require("execute")
        row = await self._row(caller, execution_id)
        if row.status == RunStatus.DONE:
            raise Conflict(
                f"execution {execution_id} has already finished ({row.verdict})",
                reason="already_finished",
            )
        cancelled = await run_status.cancel(self.db, execution_id, "cancelled before it started")
        if cancelled is not None:
            done = execution_json(cancelled)
            await self.bus.publish(execution_id, {"type": "done", "result": done})
            await self.bus.notify(
                cancelled.owner, status_notice(cancelled, RunStatus.DONE, cancelled.verdict)
            )
            await self.bus.finished(execution_id)
            self.runner.ended_unrun(cancelled)
            return done
        await self.bus.control(execution_id, {"type": "cancel"})
        return execution_json(await self._row(caller, execution_id))

    async def send_input(self, caller: Caller, execution_id: str, message: dict[str, Any]) -> None:
        """Pass stdin or end-of-input from a websocket client to the running program."""
        row = await self._row(caller, execution_id)
        if not row.request.get("interactive"):
            raise Invalid.field("type", "this run is not interactive; its stdin came with it")
        if row.status == RunStatus.DONE:
            raise Conflict("the program has finished", reason="already_finished")
        await self.bus.control(execution_id, message)

    async def stream(self, caller: Caller, execution_id: str) -> AsyncIterator[dict[str, Any]]:
        """Everything the run printed so far, then the live rest, ending with ``done``.

        Read-only: the class staff who may read the run may watch it too (stdin and
        cancel stay the owner's, see :meth:`send_input` and :meth:`cancel`)."""
        caller.require("execute")
        await self.start()
        row = await self._row(caller, execution_id, read_only=True)
        if row.status == RunStatus.DONE and not self.bus_has(execution_id):
            yield {"type": "status", "status": RunStatus.DONE}
            result = execution_json(row)
            for stream in ("stdout", "stderr"):
                if result.get(stream):
                    yield {"type": stream, "data": result[stream]}
            yield {"type": "done", "result": result}
            return
        if row.status == RunStatus.QUEUED:
            yield {"type": "status", "status": RunStatus.QUEUED}
        async for event in self.bus.subscribe(execution_id):
            yield event

    def bus_has(self, execution_id: str) -> bool:
        """Whether the bus still holds the run's channel (the in-process bus forgets)."""
        known = getattr(self.bus, "known", None)
        return bool(known(execution_id)) if known is not None else True

    async def notices(self, caller: Caller) -> AsyncIterator[dict[str, Any]]:
        caller.require("execute")
        async for notice in self.bus.notices(caller.name):
            yield notice
