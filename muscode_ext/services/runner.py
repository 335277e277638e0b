"""The worker side of a run: claim it, run it in the sandbox, stream it, store it.

Used by the in-process queue of an embedded server and by ``muscode-worker``
processes alike. Claiming is one conditional UPDATE, so of two workers handed the
same job only one runs it. A run whose worker died is handed out again by the queue:
it is run once more (``max_attempts``), then finished as ``internal_error``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from .. import metrics
from ..aio import wait_ended
from ..audit import Audit
from ..events import EventBus
from ..execution.base import Job, Limits, Sandbox, SandboxUnavailable, SourceFile, Stream
from ..execution.engine import TestCase, execute
from ..execution.languages import Language
from ..store import Database, Execution
from ..store.models import utcnow
from .callbacks import CallbackSender
from .views import execution_json

log = logging.getLogger(__name__)

SANDBOX_FAILED = "the sandbox could not run this program"
INTERRUPTED = "the server stopped while this program ran; run it again"
WORKER_DIED = "the worker running this program stopped twice; run it again"


#: Called once a run is stored as done (e.g. to score the submission it grades).
DoneHook = Callable[[Execution], Awaitable[None]]


def status_notice(row: Execution, status: str, verdict: str | None = None) -> dict[str, Any]:
    """What ``GET /events`` subscribers hear about a run."""
    return {
        "type": "execution",
        "id": row.id,
        "status": status,
        "verdict": verdict,
        "language": row.language,
        "project_id": row.project_id,
    }


class ExecutionRunner:
    """Runs queued executions; one instance per worker process (or embedded server)."""

    def __init__(
        self,
        db: Database,
        sandbox: Sandbox,
        languages: dict[str, Language],
        compile_limits: Limits,
        bus: EventBus,
        *,
        callbacks: CallbackSender | None = None,
        max_attempts: int = 2,
        on_done: DoneHook | None = None,
        audit: Audit | None = None,
    ) -> None:
        self.db = db
        self.sandbox = sandbox
        self.languages = languages
        self.compile_limits = compile_limits
        self.bus = bus
        self.max_attempts = max_attempts
        self.callbacks = callbacks
        self.on_done = on_done
        #: Emits each run's start and finish audit events.
        self.audit = audit if audit is not None else Audit()

    # -- claiming -------------------------------------------------------------------

    async def _claim(self, execution_id: str, *, redelivered: bool) -> Execution | None:
        """Mark the run ``running`` if this worker may run it; None if not."""
        now = utcnow()
        async with self.db.session() as s:
            claimed = await s.scalar(
                update(Execution)
                .where(Execution.id == execution_id, Execution.status == "queued")
                .values(status="running", started_at=now, attempts=Execution.attempts + 1)
                .returning(Execution)
                .execution_options(synchronize_session=False)
            )
            if claimed is not None:
                return claimed
            if not redelivered:
                return None
            # Handed out again because its worker died mid-run.
            row = await s.get(Execution, execution_id)
            if row is None or row.status != "running":
                return None
            if row.attempts >= self.max_attempts:
                row.status, row.verdict, row.message = "done", "internal_error", WORKER_DIED
                row.finished_at = now
                await s.flush()
                failed = row
            else:
                retry = await s.execute(
                    update(Execution)
                    .where(
                        Execution.id == execution_id,
                        Execution.status == "running",
                        Execution.attempts == row.attempts,
                    )
                    .values(started_at=now, attempts=row.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if retry.rowcount != 1:  # type: ignore[attr-defined]
                    return None
                await s.refresh(row)
                log.warning("execution %s: its worker died; running it again", execution_id)
                return row
        await self._announce_done(failed)
        return None

    # -- running --------------------------------------------------------------------

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
            compile_limits=self.compile_limits,
        )
        return job, Limits(**req["limits"]), req

    async def run(
        self, execution_id: str, *, redelivered: bool = False, handoff: Any = None
    ) -> None:
        """Run one execution to its end. Never raises (except cancellation).

        ``handoff`` (a :class:`Handoff`) comes from the in-process queue: the program
        then starts while the run is claimed (once its row is written), and nothing of
        the run is published (status, output) or stored until the claim has; a run
        claimed by no one (cancelled while queued, or never stored) is stopped and
        dropped. Otherwise the claim comes first, and it reads the row.
        """
        cancel = asyncio.Event()
        if isinstance(handoff, Handoff) and handoff.row.id == execution_id and not redelivered:
            row = handoff.row
            claim = self._claim_handed_over(handoff)
            begun = asyncio.ensure_future(self._begin(execution_id, claim, cancel))
        else:
            claimed = await self._claim(execution_id, redelivered=redelivered)
            if claimed is None:
                return
            row = claimed
            begun = asyncio.ensure_future(self._begin(execution_id, _ready(claimed), cancel))
            await begun

        stdin_queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        listener = asyncio.create_task(self._listen(execution_id, cancel, stdin_queue))

        async def on_output(stream: Stream, chunk: bytes) -> None:
            if await begun is None:
                return  # not ours to run: nothing of it is shown
            text = chunk.decode("utf-8", errors="replace")
            await self.bus.publish(execution_id, {"type": stream, "data": text})

        verdict, message, result = "internal_error", None, None
        try:
            job, limits, req = self._job(row)
            tests = None
            if req["tests"] is not None:
                tests = [
                    TestCase(
                        t["name"],
                        t["stdin"].encode("utf-8"),
                        t["expected_output"],
                        Limits(**t["limits"]) if t.get("limits") else None,
                    )
                    for t in req["tests"]
                ]
            given = req["stdin"].encode("utf-8")
            stdin: bytes | AsyncIterator[bytes] = given
            if req.get("interactive"):
                stdin = _drain(stdin_queue, first=given)
            outcome = await execute(
                self.sandbox,
                job,
                limits=limits,
                stdin=stdin,
                expected_output=req["expected_output"],
                tests=tests,
                on_output=on_output,
                cancel=cancel,
            )
            verdict, message, result = outcome.verdict, outcome.message, outcome.as_dict()
        except asyncio.CancelledError:
            message = INTERRUPTED
            raise
        except SandboxUnavailable as e:
            message = f"{SANDBOX_FAILED}: {e}"
        except Exception:
            log.exception("execution %s failed", execution_id)
            message = "MUSCode failed to run this program; the error has been logged"
        finally:
            listener.cancel()
            await wait_ended(listener)
            claimed_row = await begun
            if claimed_row is not None:
                await self._store(claimed_row, verdict, message, result)

    async def _claim_handed_over(self, handoff: Handoff) -> Execution | None:
        if handoff.written is not None:
            # Whether or not the write worked: the claim finds the row only if it did.
            await asyncio.wait([handoff.written])
        return await self._claim(handoff.row.id, redelivered=False)

    async def _begin(
        self, execution_id: str, claim: Awaitable[Execution | None], cancel: asyncio.Event
    ) -> Execution | None:
        """Announce the run once ``claim`` has it; without it, stop the run."""
        try:
            row = await claim
        except Exception:
            # The row stays queued: recovery (or the queue's redelivery) runs it later.
            log.exception("could not mark execution %s running", execution_id)
            row = None
        if row is None:
            cancel.set()
            return None
        self.audit.run_started(row)
        await self.bus.publish(row.id, {"type": "status", "status": "running"})
        await self.bus.notify(row.owner, status_notice(row, "running"))
        return row

    async def _listen(
        self, execution_id: str, cancel: asyncio.Event, stdin: asyncio.Queue[bytes | None]
    ) -> None:
        async for message in self.bus.controls(execution_id):
            kind = message.get("type")
            if kind == "cancel":
                cancel.set()
            elif kind == "stdin":
                stdin.put_nowait(str(message.get("data", "")).encode("utf-8"))
            elif kind == "eof":
                stdin.put_nowait(None)

    async def _store(
        self, row: Execution, verdict: str, message: str | None, result: dict[str, Any] | None
    ) -> None:
        stored = False
        done = {
            "status": "done",
            "verdict": verdict,
            "message": message,
            "result": result,
            "finished_at": utcnow(),
        }
        try:
            async with self.db.session() as s:
                update_done = await s.execute(
                    update(Execution)
                    .where(Execution.id == row.id)
                    .values(**done)
                    .execution_options(synchronize_session=False)
                )
                stored = update_done.rowcount == 1  # type: ignore[attr-defined]
        except Exception:
            # The row stays "running": recovery (or the queue's redelivery) finishes it.
            log.exception("could not store the result of execution %s", row.id)
        if stored:
            # The claimed row plus what was just written: the stored run, unread.
            for key, value in done.items():
                setattr(row, key, value)
            _observe(row, self.sandbox.name)
            await self._announce_done(row)

    async def _announce_done(self, row: Execution) -> None:
        self.audit.run_finished(row)
        try:
            await self.bus.publish(row.id, {"type": "done", "result": execution_json(row)})
            await self.bus.notify(row.owner, status_notice(row, "done", row.verdict))
            await self.bus.finished(row.id)
        except Exception:
            log.exception("could not announce the end of execution %s", row.id)
        if self.on_done is not None:
            try:
                await self.on_done(row)
            except Exception:
                # What the hook records (a submission's score) is also derived on read.
                log.exception("could not finish what waited on execution %s", row.id)
        url = row.request.get("callback_url")
        if url and self.callbacks is not None:
            self.callbacks.send_later(url, execution_json(row))


@dataclass
class Handoff:
    """A run passed to the in-process queue with its row; ``written`` (when given) is
    done once the submitter's write of that row is over, successful or not."""

    row: Execution
    written: asyncio.Future[None] | None = None


async def _ready(row: Execution) -> Execution:
    return row


def _observe(row: Execution, backend: str) -> None:
    """Record a finished run in the Prometheus metrics."""
    verdict = row.verdict or "internal_error"
    metrics.RUNS.labels(row.language, verdict).inc()
    if row.started_at is not None:
        metrics.QUEUE_WAIT.observe((row.started_at - row.created_at).total_seconds())
        if row.finished_at is not None:
            duration = (row.finished_at - row.started_at).total_seconds()
            metrics.RUN_DURATION.labels(row.language).observe(duration)
    if verdict == "internal_error" and (row.message or "").startswith(SANDBOX_FAILED):
        metrics.SANDBOX_FAILURES.labels(backend).inc()


async def _drain(queue: asyncio.Queue[bytes | None], first: bytes) -> AsyncIterator[bytes]:
    """Interactive stdin: what came with the request, then chunks until end of input."""
    if first:
        yield first
    while True:
        chunk = await queue.get()
        if chunk is None:
            return
        yield chunk
