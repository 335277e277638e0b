"""Every change of a run's status, each one guarded UPDATE: the only place that writes
``executions.status``.

::

    queued ──claim──────────────► running ──finish──► done
    queued ──cancel, abandon────► done
    running ─take_over (retry)──► running    (its worker died; attempts left)
    running ─take_over, interrupt► done      (internal_error)
    queued ──requeue────────────► queued     (handed to the queue again)

The server (:class:`~muscode_ext.services.executions.ExecutionService`), the runner
(:class:`~muscode_ext.services.runner.ExecutionRunner`) and ``muscode-worker`` call
these; each returns what it changed, so the caller announces exactly that. A guard
that no longer holds (another process got there first) changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ..execution.verdicts import CANCELLED, INTERNAL_ERROR
from ..queue import Lane
from ..store import Database, Execution
from ..store.models import RunStatus, utcnow
from .lanes import lane_of

__all__ = [
    "ACTIVE",
    "RunStatus",
    "abandon",
    "cancel",
    "claim",
    "claim_row",
    "finish",
    "interrupt",
    "requeue",
    "stored_as_claimed",
    "take_over",
]

#: Runs that count against a user's active runs.
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def _guarded(*where: Any, **values: Any) -> Any:
    return (
        update(Execution)
        .where(*where)
        .values(**values)
        .returning(Execution)
        .execution_options(synchronize_session=False)
    )


async def claim(db: Database, execution_id: str) -> Execution | None:
    """queued → running for the worker that will run it (one attempt more); None when
    the run is not queued (taken by another worker, cancelled, or never stored)."""
    async with db.session() as s:
        row: Execution | None = await s.scalar(
            _guarded(
                Execution.id == execution_id,
                Execution.status == RunStatus.QUEUED,
                status=RunStatus.RUNNING,
                started_at=utcnow(),
                attempts=Execution.attempts + 1,
            )
        )
        return row


async def claim_row(db: Database, row: Execution) -> Execution | None:
    """:func:`claim` of a run whose stored row the caller holds (the in-process queue's
    hand-over): only what the claim changes is read back, into ``row``; ``row`` itself,
    or None when the run is not queued."""
    async with db.session() as s:
        changed = (
            await s.execute(
                update(Execution)
                .where(Execution.id == row.id, Execution.status == RunStatus.QUEUED)
                .values(
                    status=RunStatus.RUNNING,
                    started_at=utcnow(),
                    attempts=Execution.attempts + 1,
                )
                .returning(Execution.status, Execution.started_at, Execution.attempts)
                .execution_options(synchronize_session=False)
            )
        ).first()
    if changed is None:
        return None
    row.status, row.started_at, row.attempts = changed
    return row


async def stored_as_claimed(db: Database, row: Execution) -> Execution | None:
    """``row``, written already claimed (``running``) by an insert whose end its
    submitter did not see, if that insert was stored; None if it was not."""
    async with db.session() as s:
        stored = (
            await s.execute(
                select(Execution.status, Execution.started_at).where(Execution.id == row.id)
            )
        ).first()
    if stored is None or tuple(stored) != (RunStatus.RUNNING, row.started_at):
        return None
    return row


async def take_over(
    db: Database, execution_id: str, *, max_attempts: int, message: str
) -> tuple[Execution | None, bool]:
    """A running run handed out again because its worker died: ``(row, False)`` to run
    it once more (one attempt more), ``(row, True)`` when it had its ``max_attempts``
    and is now done as ``internal_error`` with ``message``, ``(None, False)`` when it
    is not running or another worker took it over first."""
    async with db.session() as s:
        row = await s.get(Execution, execution_id)
        if row is None or row.status != RunStatus.RUNNING:
            return None, False
        same = (
            Execution.id == execution_id,
            Execution.status == RunStatus.RUNNING,
            Execution.attempts == row.attempts,
        )
        s.expunge(row)
        if row.attempts >= max_attempts:
            done: Execution | None = await s.scalar(
                _guarded(
                    *same,
                    status=RunStatus.DONE,
                    verdict=INTERNAL_ERROR,
                    message=message,
                    finished_at=utcnow(),
                )
            )
            return done, done is not None
        again: Execution | None = await s.scalar(
            _guarded(*same, started_at=utcnow(), attempts=row.attempts + 1)
        )
        return again, False


async def finish(
    db: Database,
    execution_id: str,
    verdict: str,
    message: str | None,
    result: dict[str, Any] | None,
    notebook: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """→ done with the run's outcome (and a notebook run's executed notebook), by the
    worker that ran it; the values stored, or None when there is no such run. Not
    guarded by the status: a worker thought dead that finishes after all stores its
    real result over recovery's guess."""
    done = {
        "status": RunStatus.DONE,
        "verdict": verdict,
        "message": message,
        "result": result,
        "finished_at": utcnow(),
    }
    if notebook is not None:
        done["notebook"] = notebook
    async with db.session() as s:
        stored = await s.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(**done)
            .execution_options(synchronize_session=False)
        )
        return done if stored.rowcount == 1 else None  # type: ignore[attr-defined]


async def cancel(db: Database, execution_id: str, message: str) -> Execution | None:
    """queued → done (``cancelled``); None when it is not queued (it runs: the runner
    is told to stop it instead)."""
    async with db.session() as s:
        row: Execution | None = await s.scalar(
            _guarded(
                Execution.id == execution_id,
                Execution.status == RunStatus.QUEUED,
                status=RunStatus.DONE,
                verdict=CANCELLED,
                finished_at=utcnow(),
                message=message,
            )
        )
        return row


async def abandon(db: Database, ids: list[str], message: str) -> list[Execution]:
    """queued → done (``internal_error``) for runs the queue never took; the runs
    changed."""
    async with db.session() as s:
        rows = await s.scalars(
            _guarded(
                Execution.id.in_(ids),
                Execution.status == RunStatus.QUEUED,
                status=RunStatus.DONE,
                verdict=INTERNAL_ERROR,
                finished_at=utcnow(),
                message=message,
            )
        )
        return list(rows)


async def interrupt(db: Database, message: str) -> list[Execution]:
    """running → done (``internal_error``) for every running run: at the start of a
    server that runs its own queue, they are what it left running when it stopped."""
    async with db.session() as s:
        rows = await s.scalars(
            _guarded(
                Execution.status == RunStatus.RUNNING,
                status=RunStatus.DONE,
                verdict=INTERNAL_ERROR,
                finished_at=utcnow(),
                message=message,
            )
        )
        return list(rows)


async def requeue(db: Database) -> list[tuple[str, Lane]]:
    """The queued runs, oldest first, with their lanes, to hand to the queue again
    (after a restart, or a Redis that lost its data). Duplicates in a queue are
    harmless: :func:`claim` lets one worker run a run."""
    async with db.session() as s:
        rows = await s.execute(
            select(Execution.id, Execution.owner)
            .where(Execution.status == RunStatus.QUEUED)
            .order_by(Execution.created_at)
        )
        return [(execution_id, lane_of(owner)) for execution_id, owner in rows.all()]
