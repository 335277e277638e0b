"""``muscode-worker``: runs the programs a MUSCode server queued in Redis.

Start any number of them, on any machine that reaches Redis, the database and a
sandbox::

    MUSCODE_REDIS_URL=redis://redis:6379/0 MUSCODE_DB_URL=postgresql://muscode@db/muscode \\
        muscode-worker --workers=4

A worker reads the same configuration as the server: the ``MuscodeApp`` settings the
two share (:class:`~.settings.SharedSettings`: the database, Redis, the languages, the
sandbox...) and the options of the parts (``c.RedisQueue.claim_after``,
``c.CallbackSender.secret``), from ``jupyter_server_config``, ``jupyter_muscode_config``
and ``jupyter_muscode_worker_config`` files in the Jupyter config path, the
``MUSCODE_*`` environment variables, and the command line. It builds its parts with
the server's own :func:`~.parts.build_parts`, so both agree on all of them.

SIGTERM or SIGINT stops it cleanly: it takes no new runs, hands back one it had just
read, and lets the runs in flight finish for up to ``stop_timeout`` seconds; runs still
going then are stopped and finished as ``internal_error`` with a message. A second
signal stops at once. A worker killed outright (SIGKILL, a crash) loses nothing either:
its runs are taken over by another worker after ``RedisQueue.claim_after``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from datetime import datetime, timezone
from typing import Any

from jupyter_core.application import JupyterApp
from sqlalchemy import select
from traitlets import Float, Int, Unicode
from traitlets.config.loader import ConfigFileNotFound

from ._version import __version__
from .app import MuscodeApp
from .parts import ENGINE_CLASSES, build_parts
from .queue.redis import RedisQueue
from .redis_common import where
from .services import run_status
from .services.runner import ExecutionRunner
from .settings import StartupError, WorkerSettings
from .store import Database, Execution

log = logging.getLogger("muscode_ext.worker")


class WorkerApp(JupyterApp):
    """Run queued MUSCode programs from Redis."""

    name = "muscode-worker"
    description = __doc__ or ""
    version = __version__
    # MuscodeApp for the settings the worker shares with the server (only those are
    # read), then the parts the worker builds.
    classes = [MuscodeApp, *ENGINE_CLASSES]

    aliases = {
        "redis-url": "MuscodeApp.redis_url",
        "db-url": "MuscodeApp.db_url",
        "workers": "Queue.concurrency",
        "log-level": "Application.log_level",
        "config": "JupyterApp.config_file",
    }

    stop_timeout = Float(
        60.0,
        help="""Seconds a stopping worker (SIGTERM, SIGINT) lets its runs in flight finish
        before it stops them (they are then finished as internal_error). 0: stop them at
        once. A second signal always stops at once.""",
    ).tag(config=True)

    metrics_port = Int(
        0,
        help="""Serve this worker's Prometheus metrics (runs, durations, sandbox failures)
        on this port (0: do not serve them).""",
    ).tag(config=True)

    metrics_ip = Unicode("127.0.0.1", help="Address the metrics port listens on.").tag(config=True)

    def _config_file_name_default(self) -> str:
        return "jupyter_muscode_worker_config"

    def load_config_file(self, suppress_errors: bool = True) -> None:  # type: ignore[override]
        """The server's config files first (the same MuscodeApp settings), then the
        worker's own, which win."""
        for name in ("jupyter_server_config", "jupyter_muscode_config"):
            try:
                super(JupyterApp, self).load_config_file(name, path=self.config_file_paths)
            except ConfigFileNotFound:
                pass
            except Exception as e:
                if not suppress_errors or self.raise_config_file_errors:
                    raise
                self.log.warning("Error loading config file %s: %s", name, e)
        super().load_config_file(suppress_errors)

    def start(self) -> None:
        super().start()
        level: Any = self.log_level
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        logging.getLogger("muscode_ext").setLevel(level)
        try:
            code = asyncio.run(self.serve())
        except StartupError as e:
            print(f"muscode-worker cannot start: {e}", file=sys.stderr)
            self.exit(1)
        self.exit(code)

    async def serve(self) -> int:
        """Run jobs until a signal says stop. Returns the process exit code."""
        settings = WorkerSettings.from_config(self, self.data_dir)
        if not settings.redis_url:
            raise StartupError(
                "no Redis to take runs from: set MUSCODE_REDIS_URL or "
                "--MuscodeApp.redis_url=redis://host:6379/0 (the same as the server's)"
            )
        # Run start/finish audit events: this process has no Jupyter Server, so an event
        # logger of its own (MuscodeApp.audit_log, or EventLogger.handlers in config).
        parts = build_parts(settings, consume=True)
        db, sandbox, bus, queue = parts.db, parts.sandbox, parts.bus, parts.queue
        if not isinstance(queue, RedisQueue):
            raise StartupError(
                f"MuscodeApp.queue_class is {type(queue).__name__}: a worker takes runs "
                "from a RedisQueue"
            )
        stopping = asyncio.Event()
        now = asyncio.Event()
        chores: set[asyncio.Task[None]] = set()
        self._install_signals(stopping, now)
        try:
            await sandbox.start()
            problem = await sandbox.check()
            if problem is not None:
                raise StartupError(f"the {sandbox.name} sandbox cannot run code: {problem}")
            problem = await queue.check()
            if problem is not None:
                # Not fatal: the consumers wait for Redis and log when it is back.
                log.warning("%s; waiting for it", problem)
            if self.metrics_port:
                from prometheus_client import start_http_server

                start_http_server(self.metrics_port, addr=self.metrics_ip)
            queue.on_reset = lambda: requeue_queued(db, queue)
            await queue.start(_logged(parts.runner, db, chores))
            log.info(
                "muscode-worker %s ready: consumer %s, %d at a time, %s sandbox, Redis %s; "
                "runs of a stopped worker taken over after %g s",
                __version__,
                queue.consumer,
                queue.concurrency,
                sandbox.name,
                where(settings.redis_url),
                queue.claim_after,
            )
            await stopping.wait()
            left = len(queue.in_flight())
            if left:
                log.info(
                    "stopping: letting %d run(s) finish (at most %.0f s; signal again to "
                    "stop them now)",
                    left,
                    self.stop_timeout,
                )
            drain = asyncio.create_task(queue.drain(self.stop_timeout))
            hurry = asyncio.create_task(now.wait())
            await asyncio.wait({drain, hurry}, return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
            drain.cancel()
            stopped = queue.in_flight()
            if stopped:
                log.warning("stopping %d run(s) still going: %s", len(stopped), ", ".join(stopped))
        finally:
            await queue.stop()
            await asyncio.gather(*chores, return_exceptions=True)
            await parts.callbacks.close()
            await bus.close()
            await sandbox.stop()
            await db.dispose()
            parts.audit.close()
        log.info("muscode-worker stopped")
        return 0

    def _install_signals(self, stopping: asyncio.Event, now: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if stopping.is_set():
                now.set()
                return
            log.info("%s received: stopping", signal.Signals(signum).name)
            stopping.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)


def _logged(runner: ExecutionRunner, db: Database, chores: set[asyncio.Task[None]]) -> Any:
    """The queue's handler: the runner, and one log line per run. The line needs a
    database read; it is written in the background, so the next job is not kept
    waiting for it."""

    async def log_line(execution_id: str, took: float, since: datetime, again: str) -> None:
        try:
            async with db.session() as s:
                row = (
                    await s.execute(
                        select(
                            Execution.language,
                            Execution.status,
                            Execution.verdict,
                            Execution.attempts,
                            Execution.started_at,
                        ).where(Execution.id == execution_id)
                    )
                ).one_or_none()
        except Exception as e:
            log.info(
                "execution %s: ran in %.2f s%s (state unknown: %s)", execution_id, took, again, e
            )
            return
        if row is None:
            log.warning("execution %s: no such run in the database", execution_id)
        elif not _started_since(row.started_at, since):
            # A duplicate entry (re-queued at a restart): another worker had it.
            log.info("execution %s: already taken (%s), skipped", execution_id, row.status)
        elif row.status != "done":
            log.info("execution %s: %s, left to its worker%s", execution_id, row.status, again)
        else:
            log.info(
                "execution %s: %s %s in %.2f s (attempt %d)%s",
                execution_id,
                row.language,
                row.verdict,
                took,
                row.attempts,
                again,
            )

    async def handle(execution_id: str, *, redelivered: bool = False) -> None:
        started, since = time.monotonic(), datetime.now(timezone.utc)
        await runner.run(execution_id, redelivered=redelivered)
        took = time.monotonic() - started
        again = " (taken over from a stopped worker)" if redelivered else ""
        task = asyncio.create_task(log_line(execution_id, took, since, again))
        chores.add(task)
        task.add_done_callback(chores.discard)

    return handle


def _started_since(started_at: datetime | None, since: datetime) -> bool:
    if started_at is None:
        return False
    if started_at.tzinfo is None:  # SQLite gives naive UTC datetimes back
        started_at = started_at.replace(tzinfo=timezone.utc)
    return started_at >= since


async def requeue_queued(db: Database, queue: RedisQueue) -> None:
    """Put every run the database has as ``queued`` into the queue again (after Redis
    lost its data). Duplicates are harmless: a run is claimed once."""
    ids = await run_status.requeue(db)
    for execution_id, lane in ids:
        await queue.put(execution_id, lane=lane)
    if ids:
        log.warning("re-queued %d queued run(s) from the database", len(ids))


def main(argv: list[str] | None = None) -> None:
    """The ``muscode-worker`` console script."""
    WorkerApp.launch_instance(argv)


if __name__ == "__main__":
    main()
