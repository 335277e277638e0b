"""Audit events: class, roster, token and extension changes, and every run's start and finish.

They are Jupyter events (``jupyter_events``), with the schemas in ``event_schemas/``:

- ``https://muscode.dev/events/class/v1``: a class created, updated or deleted;
- ``https://muscode.dev/events/roster/v1``: people enrolled (JSON or CSV) or removed;
- ``https://muscode.dev/events/token/v1``: a bearer token minted or revoked;
- ``https://muscode.dev/events/extension/v1``: a student's due date extended or restored;
- ``https://muscode.dev/events/run/v1``: a run started or finished.

The server emits them on Jupyter Server's own ``event_logger``, beside Jupyter's other
events; a ``muscode-worker`` has an event logger of its own. ``MuscodeApp.audit_log``
adds a JSON-lines file to either. Refused attempts are recorded too (``outcome``
``failure`` with the error's machine reason). Events name people, classes, tokens and
runs by id; a schema lists every field an event may carry (no others are allowed), and
none holds a secret, a token, source code, stdin or output.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_events import EventLogger

from .auth import Caller
from .errors import MuscodeError

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).parent / "event_schemas"
EVENTS_URI = "https://muscode.dev/events"
#: Schema id of each kind of audit event.
SCHEMA_IDS: dict[str, str] = {
    kind: f"{EVENTS_URI}/{kind}/v1" for kind in ("class", "roster", "token", "run", "extension")
}


def register_schemas(logger: EventLogger) -> None:
    """Register MUSCode's event schemas with ``logger`` (once; again is harmless)."""
    for kind, schema_id in SCHEMA_IDS.items():
        if schema_id not in logger.schemas.schema_ids:
            logger.register_event_schema(SCHEMA_DIR / kind / "v1.yaml")


def _actor(caller: Caller) -> dict[str, Any]:
    out: dict[str, Any] = {"actor": caller.name, "via": caller.via}
    if caller.token_id is not None:
        out["token_id"] = caller.token_id
    return out


class Audit:
    """Emits MUSCode's audit events on one :class:`EventLogger`.

    Emitting never fails the action it records: an event that cannot be emitted is
    logged as an error instead.
    """

    def __init__(self, logger: EventLogger | None = None) -> None:
        """``logger``: the event logger to emit on (the server's); None makes a private
        one, which discards events until a handler or listener is added."""
        self.logger = logger if logger is not None else EventLogger()
        register_schemas(self.logger)
        self._file: logging.Handler | None = None

    def log_to_file(self, path: str) -> None:
        """Also write every event of this logger to ``path``, one JSON object a line.

        The file is reopened when it is moved away (logrotate), and opened for
        appending, so the server and its workers may share one file.
        """
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(target, encoding="utf-8")
        self.logger.register_handler(handler)
        self._file = handler

    def close(self) -> None:
        """Detach and close the log file, if any."""
        if self._file is not None:
            self.logger.remove_handler(self._file)
            self._file.close()
            self._file = None

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Emit one event of ``kind`` (a key of :data:`SCHEMA_IDS`); None values are left out."""
        event = {k: v for k, v in data.items() if v is not None}
        try:
            self.logger.emit(schema_id=SCHEMA_IDS[kind], data=event)
        except Exception:
            log.exception("could not emit the MUSCode %s audit event %r", kind, event)

    @contextmanager
    def recording(
        self, kind: str, action: str, caller: Caller, **fields: Any
    ) -> Iterator[dict[str, Any]]:
        """Record one change made by ``caller``: the block fills in what it learns (ids,
        slugs) in the yielded dict; the event is emitted when the block ends, with
        ``outcome`` success, or failure and the reason of the error that ended it."""
        data: dict[str, Any] = {"action": action, **_actor(caller), **fields}
        try:
            yield data
        except MuscodeError as e:
            self.emit(kind, {**data, "outcome": "failure", "reason": e.reason})
            raise
        except Exception:
            self.emit(kind, {**data, "outcome": "failure", "reason": "internal_error"})
            raise
        self.emit(kind, {**data, "outcome": "success"})

    # -- runs -------------------------------------------------------------------------

    def run_started(self, run: Any) -> None:
        """A worker claimed ``run`` (an ``Execution`` row) and starts running it."""
        queued_ms = None
        if run.started_at is not None and run.created_at is not None:
            queued_ms = _ms(run.started_at - run.created_at)
        self.emit(
            "run",
            {
                "action": "start",
                "actor": run.owner,
                "run_id": run.id,
                "language": run.language,
                "project_id": run.project_id,
                "attempt": run.attempts,
                "queued_ms": queued_ms,
            },
        )

    def run_finished(self, run: Any) -> None:
        """``run`` (an ``Execution`` row) is done; its verdict is stored."""
        result = run.result or {}
        duration_ms = None
        if run.started_at is not None and run.finished_at is not None:
            duration_ms = _ms(run.finished_at - run.started_at)
        verdict = run.verdict or "internal_error"
        self.emit(
            "run",
            {
                "action": "finish",
                "actor": run.owner,
                "run_id": run.id,
                "language": run.language,
                "project_id": run.project_id,
                "attempt": run.attempts,
                "verdict": verdict,
                "outcome": "failure" if verdict == "internal_error" else "success",
                "exit_code": result.get("exit_code"),
                "time_ms": result.get("time_ms"),
                "memory_kb": result.get("memory_kb"),
                "duration_ms": duration_ms,
            },
        )


def _ms(delta: Any) -> int:
    return max(0, round(delta.total_seconds() * 1000))
