"""The parts that run programs, built by one function for a server and a worker alike.

:func:`build_parts` makes them from the settings (``MuscodeApp``'s own, or a worker's
:class:`~.settings.WorkerSettings`): the database, the languages, the sandbox, the queue,
the event bus, the rate limiter, the callback sender, the audit events, and the runner
with its hooks (the audit, and scoring a grading run once it is done) given at
construction. Each configurable part is built with ``parent=`` the settings, so its
own options (``c.RedisQueue.claim_after``) reach it; the ``*_class`` settings choose
which class each part is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from traitlets import TraitError
from traitlets.config import Configurable

from .audit import Audit
from .events import EventBus, InProcessEventBus
from .events.redis import RedisEventBus
from .execution.base import Limits, Sandbox
from .execution.docker import DockerSandbox
from .execution.languages import Language
from .execution.local import LocalSandbox
from .queue import InProcessQueue, Queue
from .queue.redis import RedisQueue
from .services.assignments import AssignmentService
from .services.callbacks import CallbackSender, RedisClaims
from .services.ratelimit import RunLimiter
from .services.runner import ExecutionRunner
from .settings import SharedSettings, StartupError
from .store import Database

P = TypeVar("P")

#: The sandbox backends MUSCode ships.
SANDBOX_CLASSES: tuple[type[Sandbox], ...] = (LocalSandbox, DockerSandbox)

#: The configurable parts a worker builds (what ``muscode-worker --help-all`` lists).
ENGINE_CLASSES: list[type[Configurable]] = [
    InProcessQueue,
    RedisQueue,
    InProcessEventBus,
    RedisEventBus,
    CallbackSender,
    ExecutionRunner,
    *SANDBOX_CLASSES,
]


@dataclass
class Parts:
    """What runs programs in one process (a server, or a ``muscode-worker``)."""

    db: Database
    languages: dict[str, Language]
    sandbox: Sandbox
    queue: Queue
    bus: EventBus
    limiter: RunLimiter
    callbacks: CallbackSender
    audit: Audit
    runner: ExecutionRunner


def build_parts(settings: SharedSettings, *, consume: bool, event_logger: Any = None) -> Parts:
    """Build the parts from ``settings`` (a ``MuscodeApp`` or a ``WorkerSettings``).

    ``consume``: this process runs the jobs of a queue shared between processes (a
    worker); a server with such a queue only adds jobs to it. ``event_logger``: the
    server's Jupyter event logger for audit events; None makes one of its own.
    Raises :class:`StartupError` saying which setting is wrong.
    """
    # The settings that are cheap to check first, before anything is opened.
    languages = settings.make_language_registry()
    limiter = configured(
        RunLimiter, settings, redis_url=settings.redis_url, prefix=settings.redis_prefix
    )
    # Several processes may finish one run: its callback is claimed where all see it.
    claims = RedisClaims(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    callbacks = configured(CallbackSender, settings, claims=claims)
    queue = make_queue(settings, consume=consume)
    bus = make_event_bus(settings)
    sandbox = make_sandbox(settings)
    db = settings.open_database()
    audit = settings.make_audit(event_logger)
    runner = configured(
        ExecutionRunner,
        settings,
        db,
        sandbox,
        languages,
        Limits(**settings.compile_limits),
        bus,
        callbacks=callbacks,
        audit=audit,
        # Grading runs score their submission as soon as they are done.
        on_done=AssignmentService(db, bus).on_run_done,
    )
    return Parts(db, languages, sandbox, queue, bus, limiter, callbacks, audit, runner)


def configured(cls: Callable[..., P], settings: SharedSettings, *args: Any, **kwargs: Any) -> P:
    """``cls(*args, parent=settings, **kwargs)``; a wrong option of it stops the start
    with a sentence naming the class."""
    try:
        return cls(*args, parent=settings, **kwargs)
    except TraitError as e:
        name = getattr(cls, "__name__", str(cls))
        # A check of a security setting names it already ("CallbackSender.allow_hosts: ...").
        raise StartupError(str(e) if str(e).startswith(f"{name}.") else f"{name}: {e}") from None


def make_queue(settings: SharedSettings, *, consume: bool) -> Queue:
    cls = settings.queue_class
    if issubclass(cls, RedisQueue):
        return configured(
            cls, settings, _redis_url(settings, cls), prefix=settings.redis_prefix, consume=consume
        )
    return configured(cls, settings)


def make_event_bus(settings: SharedSettings) -> EventBus:
    cls = settings.event_bus_class
    if issubclass(cls, RedisEventBus):
        return configured(cls, settings, _redis_url(settings, cls), prefix=settings.redis_prefix)
    return configured(cls, settings)


def _redis_url(settings: SharedSettings, cls: type) -> str:
    if not settings.redis_url:
        raise StartupError(
            f"{cls.__name__} needs Redis: set MUSCODE_REDIS_URL or MuscodeApp.redis_url"
        )
    return settings.redis_url


def make_sandbox(settings: SharedSettings) -> Sandbox:
    return configured(settings.sandbox_class, settings)


__all__ = ["ENGINE_CLASSES", "SANDBOX_CLASSES", "Parts", "build_parts", "configured"]
