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

from traitlets import Int
from traitlets.config import LoggingConfigurable

from .. import metrics
from ..aio import wait_ended
from ..audit import Audit
from ..events import EventBus
from ..execution.base import Job, Limits, Sandbox, SandboxUnavailable, SourceFile, Stream
from ..execution.compare import expected_output
from ..execution.engine import TestCase, execute
from ..execution.languages import Language
from ..queue import Queue
from ..store import Database, Execution
from ..store.models import utcnow
from . import run_status
from .callbacks import CallbackSender
from .notebook_worker import run_notebook_job
from .run_status import RunStatus
from .stdin import BACKLOG_FULL, StdinBacklog, UserShares
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


class ExecutionRunner(LoggingConfigurable):
    """Runs queued executions; one instance per worker process (or embedded server)."""

    max_pending_stdin = Int(
        1024 * 1024,
        help="""Most bytes of stdin an interactive run may hold that its program has not
        read yet (default 1 MiB). A chunk beyond it is dropped and the run's live
        channel gets {"type": "error", "reason": "stdin_backlog_full"}.""",
    ).tag(config=True)

    max_pending_stdin_per_user = Int(
        4 * 1024 * 1024,
        help="""Most bytes of unread stdin one user's active runs may hold together in one
        worker process (default 4 MiB); beyond it, as for max_pending_stdin.""",
    ).tag(config=True)

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        self._stdin_shares = UserShares()

    # -- claiming -------------------------------------------------------------------

    async def _claim(self, execution_id: str, *, redelivered: bool) -> Execution | None:
        """Mark the run ``running`` if this worker may run it; None if not."""
        claimed = await run_status.claim(self.db, execution_id)
        if claimed is not None or not redelivered:
            return claimed
        # Handed out again because its worker died mid-run.
        row, gave_up = await run_status.take_over(
            self.db, execution_id, max_attempts=self.max_attempts, message=WORKER_DIED
        )
        if gave_up:
            assert row is not None
            await self._announce_done(row)
            return None
        if row is not None:
            log.warning("execution %s: its worker died; running it again", execution_id)
        return row

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
            # A user's builds are reused for that user only (a grading run's: its
            # student's, so that Check then Submit compiles once).
            build_scope=req.get("build_scope") or row.owner,
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
            if handoff.claim_in_write():
                claim = self._claimed_in_write(handoff)
            else:
                claim = self._claim_handed_over(handoff)
            begun = asyncio.ensure_future(self._begin(execution_id, claim, cancel))
        else:
            claimed = await self._claim(execution_id, redelivered=redelivered)
            if claimed is None:
                return
            row = claimed
            begun = asyncio.ensure_future(self._begin(execution_id, _ready(claimed), cancel))
            await begun

        backlog = StdinBacklog(
            row.owner,
            self._stdin_shares,
            limit=self.max_pending_stdin,
            user_limit=self.max_pending_stdin_per_user,
        )
        listener = asyncio.create_task(self._listen(execution_id, cancel, backlog))

        async def on_output(stream: Stream, chunk: bytes) -> None:
            if await begun is None:
                return  # not ours to run: nothing of it is shown
            text = chunk.decode("utf-8", errors="replace")
            await self.bus.publish(execution_id, {"type": stream, "data": text})

        async def on_live(message: dict[str, Any]) -> None:
            if await begun is not None:
                await self.bus.publish(execution_id, message)

        verdict, message, result, notebook = "internal_error", None, None, None
        try:
            job, limits, req = self._job(row)
            if req.get("notebook") is not None:
                ran = await run_notebook_job(
                    self.sandbox, job, limits, req["notebook"], publish=on_live, cancel=cancel
                )
                verdict, message, result, notebook = (
                    ran.verdict,
                    ran.message,
                    ran.result,
                    ran.notebook,
                )
                return
            tests = None
            if req["tests"] is not None:
                tests = [
                    TestCase(
                        t["name"],
                        t["stdin"].encode("utf-8"),
                        expected_output(t["expected_output"], t.get("compare"), t.get("tolerance")),
                        Limits(**t["limits"]) if t.get("limits") else None,
                    )
                    for t in req["tests"]
                ]
            given = req["stdin"].encode("utf-8")
            stdin: bytes | AsyncIterator[bytes] = given
            if req.get("interactive"):
                stdin = backlog.chunks(first=given)
            outcome = await execute(
                self.sandbox,
                job,
                limits=limits,
                stdin=stdin,
                expected_output=expected_output(
                    req["expected_output"], req.get("compare"), req.get("tolerance")
                ),
                tests=tests,
                on_output=on_output,
                cancel=cancel,
            )
            verdict, message, result = outcome.verdict, outcome.message, outcome.as_dict()
            if outcome.compile_time_ms is not None or outcome.build_cached:
                # A compile step (or PHP's syntax check) ran, or its result was reused;
                # not a Python file found not to parse by its run.
                build = "reused" if outcome.build_cached else "compiled"
                metrics.BUILDS.labels(row.language, build).inc()
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
            backlog.close()
            claimed_row = await begun
            if claimed_row is not None:
                await self._store(claimed_row, verdict, message, result, notebook)

    async def _claimed_in_write(self, handoff: Handoff) -> Execution | None:
        """The row claimed in its write, once written; None if it was not stored."""
        assert handoff.written is not None
        await asyncio.wait([handoff.written])
        if handoff.stored:
            return handoff.row
        # The submitter failed or was interrupted during the write: the row is this
        # runner's if it was stored after all (as written: running, this claim's start).
        return await run_status.stored_as_claimed(self.db, handoff.row)

    async def _claim_handed_over(self, handoff: Handoff) -> Execution | None:
        if handoff.written is not None:
            # Whether or not the write worked: the claim finds the row only if it did.
            await asyncio.wait([handoff.written])
        # The row is the one stored; the claim reads back only what it changes.
        return await run_status.claim_row(self.db, handoff.row)

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
        await self.bus.publish(row.id, running_event(row))
        await self.bus.notify(row.owner, status_notice(row, RunStatus.RUNNING))
        return row

    async def _listen(self, execution_id: str, cancel: asyncio.Event, stdin: StdinBacklog) -> None:
        async for message in self.bus.controls(execution_id):
            kind = message.get("type")
            if kind == "cancel":
                cancel.set()
            elif kind == "stdin":
                chunk = str(message.get("data", "")).encode("utf-8")
                if stdin.offer(chunk):
                    stdin.told = stdin.told and not stdin.drained()
                elif not stdin.told:
                    # Once per overflow: the channel's replay must not fill with these.
                    stdin.told = True
                    await self.bus.publish(execution_id, backlog_full(stdin))
            elif kind == "eof":
                stdin.end()

    async def _store(
        self,
        row: Execution,
        verdict: str,
        message: str | None,
        result: dict[str, Any] | None,
        notebook: dict[str, Any] | None = None,
    ) -> None:
        done = None
        try:
            done = await run_status.finish(self.db, row.id, verdict, message, result, notebook)
        except Exception:
            # The row stays "running": recovery (or the queue's redelivery) finishes it.
            log.exception("could not store the result of execution %s", row.id)
        if done is not None:
            # The claimed row plus what was just written: the stored run, unread.
            for key, value in done.items():
                setattr(row, key, value)
            _observe(row, self.sandbox.name)
            await self._announce_done(row)

    async def _announce_done(self, row: Execution) -> None:
        self.audit.run_finished(row)
        try:
            await self.bus.publish(row.id, {"type": "done", "result": execution_json(row)})
            await self.bus.notify(row.owner, status_notice(row, RunStatus.DONE, row.verdict))
            await self.bus.finished(row.id)
        except Exception:
            log.exception("could not announce the end of execution %s", row.id)
        if self.on_done is not None:
            try:
                await self.on_done(row)
            except Exception:
                # What the hook records (a submission's score) is also derived on read.
                log.exception("could not finish what waited on execution %s", row.id)
        self.call_back(row)

    def ended_unrun(self, row: Execution) -> None:
        """A run ended without finishing here (cancelled while queued, or interrupted
        by a restart): audit it and send its callback, as for one that ran."""
        self.audit.run_finished(row)
        self.call_back(row)

    def call_back(self, row: Execution) -> None:
        """Send the result callback of a finished run, if it asked for one (in the
        background; once, whichever process gets there first)."""
        url = row.request.get("callback_url")
        if url and self.callbacks is not None:
            self.callbacks.send_later(url, execution_json(row))


@dataclass
class Handoff:
    """A run passed to the in-process queue with its row; ``written`` (when given) is
    done once the submitter's write of that row is over, successful or not.

    A runner that takes the run before that write has begun claims it in the write
    (:meth:`claim_in_write`): the row is written ``running``, one transaction instead
    of an insert and a claim."""

    row: Execution
    written: asyncio.Future[None] | None = None
    #: Set by the submitter as its write of the row begins: the row's values are final.
    writing: bool = False
    #: Set by the submitter once the row is stored (before ``written`` is done).
    stored: bool = False

    def claim_in_write(self) -> bool:
        """Mark the row ``running`` (one attempt) for the runner that took it, if its
        write has not begun; False when it has (the runner claims it as usual)."""
        if self.written is None or self.written.done() or self.writing:
            return False
        self.row.status = RunStatus.RUNNING
        self.row.started_at = utcnow()
        self.row.attempts = (self.row.attempts or 0) + 1
        return True


async def insert_handed_over(db: Database, queue: Queue, row: Execution) -> None:
    """Queue ``row`` (in-process: with a :class:`Handoff`) while it is inserted.

    A worker that was idle takes the run in the loop's next turn, before the insert
    begins, and so claims it in the insert: the row is stored ``running``, one
    transaction instead of an insert and a claim."""
    written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handoff = Handoff(row, written)
    await queue.put(row.id, handoff=handoff)
    await asyncio.sleep(0)  # that turn (a yield, not a wait)
    try:
        async with db.session() as s:
            # From here on the row is as it will be written: a worker that takes it
            # now claims it with an UPDATE instead.
            handoff.writing = True
            s.add(row)
        handoff.stored = True
    finally:
        written.set_result(None)


async def _ready(row: Execution) -> Execution:
    return row


def _observe(row: Execution, backend: str) -> None:
    """Record a finished run in the Prometheus metrics.

    A grading run counts with the verdict ``graded`` and its duration is not observed:
    its verdict may be a hidden test's and its duration holds theirs, and under the
    hub any signed-in user can read the service's metrics."""
    grading = row.submission_id is not None
    verdict = row.verdict or "internal_error"
    metrics.RUNS.labels(row.language, "graded" if grading else verdict).inc()
    if row.started_at is not None:
        metrics.QUEUE_WAIT.observe((row.started_at - row.created_at).total_seconds())
        if row.finished_at is not None and not grading:
            duration = (row.finished_at - row.started_at).total_seconds()
            metrics.RUN_DURATION.labels(row.language).observe(duration)
    if verdict == "internal_error" and (row.message or "").startswith(SANDBOX_FAILED):
        metrics.SANDBOX_FAILURES.labels(backend).inc()


def backlog_full(stdin: StdinBacklog) -> dict[str, Any]:
    """The live channel's word that a stdin chunk was dropped."""
    return {
        "type": "error",
        "reason": BACKLOG_FULL,
        "message": (
            f"stdin dropped: the program has not read the {stdin.pending} bytes already "
            f"sent (at most {stdin.limit} may wait); send more once it reads them"
        ),
    }


def running_event(row: Execution) -> dict[str, Any]:
    """The live channel's ``running`` status of ``row``; an interactive run's carries
    ``idle_ms``, so that a client can say how long the program waits for input."""
    event: dict[str, Any] = {"type": "status", "status": RunStatus.RUNNING}
    if row.request.get("interactive"):
        limits = row.request.get("limits") or {}
        event["idle_ms"] = int(limits.get("idle_ms") or Limits().idle_ms)
    return event
