"""Executions: validate a run, record it, queue it, run it in the sandbox, store the result.

A run is a database row (``queued``) before it is queued; a worker marks it
``running``, runs it through the execution engine (compile once, run per test), and
stores the verdict and output (``done``). After a restart, queued rows are queued
again and rows left ``running`` are finished as ``internal_error`` with a message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr
from sqlalchemy import select

from ..auth import Caller
from ..errors import DependencyDown, Invalid, NotFound, TooLarge
from ..execution.base import Job, Limits, Sandbox, SandboxUnavailable, SourceFile
from ..execution.engine import TestCase, execute
from ..execution.languages import Language
from ..queue import Queue
from ..store import Database, Execution
from ..store.models import utcnow
from .paths import decode_content, encode_content, normalize_path
from .projects import FileInput, ProjectService, _Input

log = logging.getLogger(__name__)

LIMIT_FIELDS = tuple(f.name for f in fields(Limits))
_JAVA_PUBLIC_CLASS = re.compile(r"\bpublic\s+(?:final\s+|abstract\s+)*class\s+([A-Za-z_]\w*)")


class LimitsInput(_Input):
    cpu_time_ms: StrictInt | None = Field(default=None, gt=0)
    wall_time_ms: StrictInt | None = Field(default=None, gt=0)
    memory_mb: StrictInt | None = Field(default=None, gt=0)
    processes: StrictInt | None = Field(default=None, gt=0)
    output_kb: StrictInt | None = Field(default=None, gt=0)
    file_size_kb: StrictInt | None = Field(default=None, gt=0)


class TestInput(_Input):
    name: StrictStr
    stdin: StrictStr = ""
    expected_output: StrictStr | None = None


class ExecutionCreate(_Input):
    language: StrictStr
    source: StrictStr | None = None
    files: list[FileInput] | None = None
    main: StrictStr | None = None
    project_id: StrictStr | None = None
    stdin: StrictStr = ""
    args: list[StrictStr] = Field(default_factory=list, max_length=64)
    compiler_options: StrictStr = Field(default="", max_length=1000)
    expected_output: StrictStr | None = None
    tests: list[TestInput] | None = None
    limits: LimitsInput | None = None
    callback_url: StrictStr | None = None
    interactive: StrictBool = False


@dataclass(frozen=True)
class ExecutionPolicy:
    """Server defaults and maxima (see the ``MuscodeApp`` traits)."""

    run_limits: Limits
    max_limits: Limits
    compile_limits: Limits
    max_source_size: int
    max_stdin_size: int
    max_tests: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


_EMPTY_RESULT: dict[str, Any] = {
    "exit_code": None,
    "signal": None,
    "stdout": "",
    "stderr": "",
    "compile_output": "",
    "truncated": {"stdout": False, "stderr": False},
    "time_ms": None,
    "wall_time_ms": None,
    "memory_kb": None,
}


def execution_json(row: Execution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "verdict": row.verdict,
        "language": row.language,
        "project_id": row.project_id,
        "owner": row.owner,
        "limits": row.request.get("limits"),
        **_EMPTY_RESULT,
        **(row.result or {}),
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "message": row.message,
    }
    # "tests" appears exactly when tests were given (empty until the run is done).
    if row.request.get("tests") is not None:
        out["tests"] = out.get("tests") or []
    else:
        out.pop("tests", None)
    return out


class ExecutionService:
    """Runs for one server process: submission, the worker side, and queries."""

    def __init__(
        self,
        db: Database,
        sandbox: Sandbox,
        languages: dict[str, Language],
        policy: ExecutionPolicy,
        queue: Queue,
        projects: ProjectService,
    ) -> None:
        self.db = db
        self.sandbox = sandbox
        self.languages = languages
        self.policy = policy
        self.queue = queue
        self.projects = projects
        self._versions: dict[str, str | None] = {}
        self._probe: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Event] = {}
        self._sandbox_state: tuple[float, str | None] = (0.0, None)
        self._started: asyncio.Task[None] | None = None

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the sandbox, the language probe, the workers, and recovery. Idempotent:
        the server's start hook calls it, and so does the first request that needs it."""
        if self._started is None:
            self._started = asyncio.create_task(self._start(), name="muscode-start")
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        await self.sandbox.start()
        self._probe = asyncio.create_task(self._probe_languages(), name="muscode-probe")
        await self.queue.start(self._run)
        await self.recover()

    async def stop(self) -> None:
        if self._started is None:
            return
        await asyncio.gather(self._started, return_exceptions=True)
        self._started = None
        await self.queue.stop()
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
        await self.sandbox.stop()

    async def _probe_languages(self) -> None:
        async def one(lang: Language) -> None:
            try:
                self._versions[lang.id] = await self.sandbox.language_version(lang)
            except Exception as e:
                log.warning("probing %s failed: %s", lang.id, e)
                self._versions[lang.id] = None

        # One check first: it initialises the backend once, before the parallel probes.
        problem = await self.sandbox.check()
        if problem is not None:
            log.warning("the %s sandbox cannot run code: %s", self.sandbox.name, problem)
        await asyncio.gather(*(one(lang) for lang in self.languages.values()))
        missing = sorted(k for k, v in self._versions.items() if v is None)
        if missing:
            log.warning(
                "MUSCode languages not available in the %s sandbox: %s",
                self.sandbox.name,
                ", ".join(missing),
            )

    async def recover(self) -> None:
        """Queue again what was queued; finish what a dead server left running."""
        async with self.db.session() as s:
            running = list(await s.scalars(select(Execution).where(Execution.status == "running")))
            for row in running:
                row.status, row.verdict, row.finished_at = "done", "internal_error", utcnow()
                row.message = "the server stopped while this program ran; run it again"
            queued = list(
                await s.scalars(
                    select(Execution.id)
                    .where(Execution.status == "queued")
                    .order_by(Execution.created_at)
                )
            )
        for execution_id in queued:
            await self.queue.put(execution_id)
        if running or queued:
            log.info(
                "recovered executions: %d re-queued, %d marked interrupted",
                len(queued),
                len(running),
            )

    # -- facts ----------------------------------------------------------------------

    async def sandbox_problem(self) -> str | None:
        """The sandbox's own check, cached for a few seconds."""
        await self.start()
        checked_at, problem = self._sandbox_state
        if time.monotonic() - checked_at > 5:
            problem = await self.sandbox.check()
            self._sandbox_state = (time.monotonic(), problem)
        return problem

    async def versions(self) -> dict[str, str | None]:
        await self.start()
        if self._probe is not None:
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

    def _limits(self, requested: LimitsInput | None) -> Limits:
        values = self.policy.run_limits.as_dict()
        maxima = self.policy.max_limits.as_dict()
        given = requested.model_dump(exclude_none=True) if requested else {}
        errors = []
        for name, value in given.items():
            if value > maxima[name]:
                errors.append(
                    {
                        "field": f"limits.{name}",
                        "message": f"must be at most {maxima[name]} on this server",
                    }
                )
            values[name] = value
        if errors:
            summary = "; ".join(f"{e['field']} {e['message']}" for e in errors)
            raise Invalid(
                f"limits over the server's maximum: {summary}",
                errors=errors,
                reason="limit_too_high",
            )
        return Limits(**values)

    def _source_files(
        self, language: Language, data: ExecutionCreate
    ) -> tuple[list[tuple[str, bytes]], str] | None:
        """Files and main for ``source``/``files`` requests; None for a project run."""
        given = [x is not None for x in (data.source, data.files, data.project_id)]
        if sum(given) != 1:
            raise Invalid(
                "send exactly one of source, files or project_id",
                errors=[
                    {
                        "field": "source",
                        "message": "exactly one of source, files, project_id is required",
                    }
                ],
            )
        if data.source is not None:
            main = language.main_path()
            if language.id == "java":
                m = _JAVA_PUBLIC_CLASS.search(data.source)
                if m:
                    main = f"{m.group(1)}.java"
            return [(main, decode_content(data.source, "utf-8", "source"))], main
        if data.files is not None:
            files: dict[str, bytes] = {}
            for i, f in enumerate(data.files):
                path = normalize_path(f.path, f"files[{i}].path")
                if path in files:
                    raise Invalid.field(f"files[{i}].path", f"{path!r} appears twice")
                files[path] = decode_content(f.content, f.encoding, f"files[{i}].content")
            if not files:
                raise Invalid.field("files", "must hold at least one file")
            return list(files.items()), self._main(language, data.main, list(files))
        return None

    @staticmethod
    def _main(language: Language, main: str | None, paths: Sequence[str]) -> str:
        if main is not None:
            normal = normalize_path(main, "main")
            if normal not in paths:
                raise Invalid.field("main", f"{normal!r} is not one of the files")
            return normal
        candidates = [p for p in paths if p.endswith(language.extensions)]
        for p in candidates:
            if p.rsplit("/", 1)[-1] in (language.main_path(), "main" + language.extensions[0]):
                return p
        if len(candidates) == 1:
            return candidates[0]
        raise Invalid.field(
            "main", f"say which file to run: none or several {language.name} files found"
        )

    async def submit(self, caller: Caller, data: ExecutionCreate) -> dict[str, Any]:
        """Validate and record a run, then queue it. Returns its JSON (``queued``)."""
        caller.require("execute")
        language = self.languages.get(data.language)
        if language is None:
            raise Invalid.field(
                "language",
                f"unknown language {data.language!r}; use one of "
                f"{', '.join(sorted(self.languages))}",
            )
        if data.interactive:
            raise Invalid.field(
                "interactive",
                "interactive runs need the live channel, which "
                "this server does not offer yet; send stdin with the request",
            )
        if data.callback_url is not None:
            raise Invalid.field(
                "callback_url",
                "callbacks are not offered by this server yet; "
                "poll GET /executions/{id} or use wait=true",
            )
        if data.tests is not None and data.expected_output is not None:
            raise Invalid.field("expected_output", "give expected outputs inside tests instead")
        if data.tests is not None and not 1 <= len(data.tests) <= self.policy.max_tests:
            raise Invalid.field("tests", f"must hold 1 to {self.policy.max_tests} tests")
        problem = await self.sandbox_problem()
        if problem is not None:
            raise DependencyDown("executor", f"code cannot run right now: {problem}")
        versions = await self.versions()
        if versions.get(language.id) is None:
            raise Invalid.field(
                "language",
                f"{language.name} is not available on this server's {self.sandbox.name} sandbox",
            )
        limits = self._limits(data.limits)
        try:
            options = shlex.split(data.compiler_options)
        except ValueError as e:
            raise Invalid.field("compiler_options", f"cannot be split into words: {e}") from None

        source = self._source_files(language, data)
        project_id = None
        if source is None:
            assert data.project_id is not None
            project, rows = await self.projects.read_files(caller, data.project_id)
            project_id = project.id
            files = [(f.path, f.content) for f in rows]
            if not files:
                raise Invalid.field("project_id", "the project has no files to run")
            main = self._main(language, data.main, [p for p, _ in files])
        else:
            files, main = source
        size = sum(len(c) for _, c in files)
        if size > self.policy.max_source_size:
            raise TooLarge(
                f"the program is {size} bytes; the limit is {self.policy.max_source_size} bytes",
                reason="source_too_large",
            )
        stdins = [data.stdin] + [t.stdin for t in data.tests or []]
        for i, text in enumerate(stdins):
            n = len(decode_content(text, "utf-8", "stdin" if i == 0 else f"tests[{i - 1}].stdin"))
            if n > self.policy.max_stdin_size:
                raise TooLarge(
                    f"stdin is {n} bytes; the limit is {self.policy.max_stdin_size}",
                    reason="stdin_too_large",
                )

        request = {
            "files": [
                dict(zip(("content", "encoding"), encode_content(c), strict=True), path=p)
                for p, c in files
            ],
            "main": main,
            "stdin": data.stdin,
            "args": data.args,
            "compiler_options": options,
            "expected_output": data.expected_output,
            "tests": [t.model_dump() for t in data.tests] if data.tests is not None else None,
            "limits": limits.as_dict(),
        }
        row = Execution(
            owner=caller.name,
            project_id=project_id,
            language=language.id,
            status="queued",
            request=request,
            created_at=utcnow(),
        )
        async with self.db.session() as s:
            s.add(row)
        await self.queue.put(row.id)
        return execution_json(row)

    # -- queries --------------------------------------------------------------------

    async def _row(self, caller: Caller, execution_id: str) -> Execution:
        async with self.db.session() as s:
            row = await s.get(Execution, execution_id)
        if row is None or not caller.can_see_owner(row.owner):
            raise NotFound(f"execution {execution_id} not found", reason="execution_not_found")
        return row

    async def get(self, caller: Caller, execution_id: str) -> dict[str, Any]:
        caller.require("execute")
        await self.start()
        return execution_json(await self._row(caller, execution_id))

    async def wait(self, caller: Caller, execution_id: str, timeout: float) -> dict[str, Any]:
        """The run once done, or as it is when ``timeout`` seconds have passed."""
        row = await self._row(caller, execution_id)
        if row.status == "done":
            return execution_json(row)
        event = self._waiters.setdefault(execution_id, asyncio.Event())
        row = await self._row(caller, execution_id)  # it may have finished meanwhile
        if row.status != "done":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
            row = await self._row(caller, execution_id)
        return execution_json(row)

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
        caller.require("execute")
        await self.start()
        q = select(Execution)
        if not caller.admin:
            q = q.where(Execution.owner == caller.name)
        if ids is not None:
            q = q.where(Execution.id.in_(ids))
        if project_id is not None:
            q = q.where(Execution.project_id == project_id)
        if status is not None:
            q = q.where(Execution.status == status)
        async with self.db.session() as s:
            if before is not None:
                anchor = await s.get(Execution, before)
                if anchor is None or not caller.can_see_owner(anchor.owner):
                    raise Invalid.field("before", "is not the id of one of your executions")
                q = q.where(Execution.created_at < anchor.created_at)
            rows = await s.scalars(q.order_by(Execution.created_at.desc()).limit(limit))
            return [execution_json(r) for r in rows]

    # -- the worker side ------------------------------------------------------------

    def _job(self, row: Execution) -> tuple[Job, Limits, dict[str, Any]]:
        req = row.request
        language = self.languages[row.language]
        files = tuple(
            SourceFile(
                f["path"],
                base64.b64decode(f["content"])
                if f["encoding"] == "base64"
                else f["content"].encode("utf-8"),
            )
            for f in req["files"]
        )
        job = Job(
            language=language,
            files=files,
            main=req["main"],
            args=tuple(req["args"]),
            compiler_options=tuple(req["compiler_options"]),
            compile_limits=self.policy.compile_limits,
        )
        return job, Limits(**req["limits"]), req

    async def _run(self, execution_id: str) -> None:
        async with self.db.session() as s:
            row = await s.get(Execution, execution_id)
            if row is None or row.status != "queued":
                return
            row.status, row.started_at = "running", utcnow()
        verdict, message, result = "internal_error", None, None
        try:
            job, limits, req = self._job(row)
            tests = None
            if req["tests"] is not None:
                tests = [
                    TestCase(t["name"], t["stdin"].encode("utf-8"), t["expected_output"])
                    for t in req["tests"]
                ]
            outcome = await execute(
                self.sandbox,
                job,
                limits=limits,
                stdin=req["stdin"].encode("utf-8"),
                expected_output=req["expected_output"],
                tests=tests,
            )
            verdict, message, result = outcome.verdict, outcome.message, outcome.as_dict()
        except asyncio.CancelledError:
            message = "the server stopped while this program ran; run it again"
            raise
        except SandboxUnavailable as e:
            message = f"the sandbox could not run this program: {e}"
        except Exception:
            log.exception("execution %s failed", execution_id)
            message = "MUSCode failed to run this program; the error has been logged"
        finally:
            await self._finish(execution_id, verdict, message, result)

    async def _finish(
        self, execution_id: str, verdict: str, message: str | None, result: dict[str, Any] | None
    ) -> None:
        try:
            async with self.db.session() as s:
                row = await s.get(Execution, execution_id)
                if row is not None:
                    row.status, row.verdict, row.message = "done", verdict, message
                    row.result, row.finished_at = result, utcnow()
        except Exception:
            # The row stays "running"; recovery finishes it as internal_error.
            log.exception("could not store the result of execution %s", execution_id)
        event = self._waiters.pop(execution_id, None)
        if event is not None:
            event.set()
