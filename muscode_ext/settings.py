"""The settings a MUSCode server shares with its ``muscode-worker``\\s, and the old names
of settings that moved to the part that uses them.

Operators write the shared settings as ``MuscodeApp`` options for both processes
(``c.MuscodeApp.db_url`` in a config file, ``--MuscodeApp.redis_url=...``): the
server's ``MuscodeApp`` has them as traits (:class:`SharedSettings` is one of its
bases), and a worker reads the same ``MuscodeApp`` section into :class:`WorkerSettings`
(see :meth:`WorkerSettings.from_config`).

Each part owns its own settings (``c.RedisQueue.claim_after``, ``c.CallbackSender.secret``).
Those that used to be ``MuscodeApp`` options are listed in :data:`MOVED`: the old name
still works for one release; it logs a warning naming the new one and its value is
copied to the new place in the configuration, from where the part, built with
``parent=`` the application, reads it (Jupyter Server's way with its own moved options).
"""

from __future__ import annotations

import os
from copy import deepcopy
from pathlib import Path
from typing import Any, cast

from jupyter_core.paths import jupyter_data_dir
from traitlets import (
    Bool,
    Bunch,
    Dict,
    Float,
    HasTraits,
    Int,
    Set,
    TraitError,
    Type,
    Unicode,
    default,
    observe,
    validate,
)
from traitlets.config import Config, Configurable, LoggingConfigurable

from .audit import Audit
from .events import EventBus, InProcessEventBus
from .events.redis import RedisEventBus
from .execution.base import Limits, Sandbox
from .execution.languages import Language, build_registry
from .execution.local import LocalSandbox
from .queue import InProcessQueue, Queue
from .queue.redis import RedisQueue
from .services.executions import LIMIT_FIELDS
from .setting_checks import check_hosts, check_url
from .store import Database, SchemaMismatch, ensure_schema

#: The old ``MuscodeApp`` options, and where each lives now: (class, trait).
MOVED: dict[str, tuple[str, str]] = {
    "workers": ("Queue", "concurrency"),
    "redis_claim_after": ("RedisQueue", "claim_after"),
    "callback_secret": ("CallbackSender", "secret"),
    "callback_allow_hosts": ("CallbackSender", "allow_hosts"),
    "callback_attempts": ("CallbackSender", "attempts"),
    "callback_first_delay": ("CallbackSender", "first_delay"),
    "run_rate_limit": ("RunLimiter", "user_rate"),
    "grader_rate_limit": ("RunLimiter", "grader_rate"),
    "max_active_runs": ("RunLimiter", "max_active_runs"),
    "max_queue_depth": ("RunLimiter", "max_queue_depth"),
    "service_url": ("Relay", "service_url"),
    "allow_unsafe_sandbox": ("LocalSandbox", "allow_unsafe"),
    "docker_runtime": ("DockerSandbox", "runtime"),
    "docker_image": ("DockerSandbox", "image"),
    "docker_url": ("DockerSandbox", "docker_url"),
    "docker_pool_size": ("DockerSandbox", "pool_size"),
    "docker_work_root": ("DockerSandbox", "work_root"),
}


#: What a Redis URL may start with (redis-py's own forms).
REDIS_SCHEMES = ("redis", "rediss", "unix")


class StartupError(Exception):
    """MUSCode refuses to start; the message says why and what to do."""


def moved(old: str) -> str:
    """The help of an old option: where it went."""
    cls, new = MOVED[old]
    return f"Deprecated: use {cls}.{new} (this name goes after one release)."


def forward_moved(config: Config, old: str, value: Any, logger: Any) -> None:
    """Copy the value of the old option ``MuscodeApp.<old>`` to its new place in
    ``config``, with a warning; a value set under the new name wins."""
    cls, new = MOVED[old]
    section = config[cls]
    if new not in section:
        logger.warning(
            "MuscodeApp.%s is deprecated: use %s.%s (the old name goes after one release)",
            old,
            cls,
            new,
        )
        section[new] = value
    elif section[new] != value:
        logger.warning(
            "MuscodeApp.%s is deprecated and ignored: %s.%s is set too, and wins",
            old,
            cls,
            new,
        )


def default_db_url(data_dir: str) -> str:
    """``MUSCODE_DB_URL``, else a SQLite file in the Jupyter data directory."""
    url = os.environ.get("MUSCODE_DB_URL")
    if url:
        return url
    return f"sqlite:///{Path(data_dir) / 'muscode' / 'muscode.sqlite'}"


class SharedSettings(HasTraits):
    """What a server and its workers agree on: the database, the languages, Redis, the
    parts to use, the audit log and the limits of a run. A base of ``MuscodeApp`` and
    of :class:`WorkerSettings`; its traits are configured as ``MuscodeApp`` options."""

    db_url = Unicode(
        help="""Database URL: sqlite:///path/to.db or postgresql://user@host/db.

        Default: $MUSCODE_DB_URL, else muscode/muscode.sqlite in the Jupyter data
        directory (created and migrated on first start).""",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_db_url(str(getattr(self, "data_dir", "") or jupyter_data_dir()))

    upgrade_db = Bool(
        False,
        help="""Upgrade a database whose schema is behind at start-up.

        Off by default for server databases (PostgreSQL): back it up and run
        `jupyter muscode db upgrade`. A SQLite database is always upgraded.""",
    ).tag(config=True)

    languages = Dict(
        help="""Languages to add, change or remove, by id.

        Each value is a dict of `Language` fields (name, extensions, compile, run,
        version, image, env, default_main) merged over the built-in definition; None
        removes a language. Example: {"python": {"run": ["python3", "-I", "{main}"]}}.""",
    ).tag(config=True)

    redis_url = Unicode(
        help="""Redis URL (redis://host:6379/0) for the run queue, the event bus and the
        rate limits ($MUSCODE_REDIS_URL). Empty: the in-process queue and bus of an
        embedded server. With Redis, runs are executed by `muscode-worker` processes,
        not by the server.""",
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return os.environ.get("MUSCODE_REDIS_URL", "")

    @validate("redis_url")
    def _a_redis_url(self, proposal: dict[str, Any]) -> str:
        url = str(proposal["value"])
        check_url("MuscodeApp.redis_url", url, REDIS_SCHEMES, "redis://host:6379/0")
        return url

    redis_prefix = Unicode(
        "muscode", help="Prefix of every Redis key MUSCode uses (to share a Redis server)."
    ).tag(config=True)

    sandbox_class = Type(
        klass=Sandbox,
        help="""The sandbox backend that runs code: LocalSandbox (bubblewrap with the host's
        runtimes; the default) or DockerSandbox. $MUSCODE_SANDBOX=local|docker chooses
        one of the two by name.""",
    ).tag(config=True)

    @default("sandbox_class")
    def _default_sandbox_class(self) -> type[Sandbox]:
        choice = os.environ.get("MUSCODE_SANDBOX", "local").strip().lower()
        if choice == "docker":
            from .execution.docker import DockerSandbox

            return DockerSandbox
        if choice not in ("", "local"):
            raise StartupError(f"MUSCODE_SANDBOX={choice!r}: use local or docker")
        return LocalSandbox

    queue_class = Type(
        klass=Queue,
        help="""The run queue: InProcessQueue (the server runs the programs itself) or
        RedisQueue (`muscode-worker` processes do). Default: RedisQueue when redis_url
        is set, else InProcessQueue.""",
    ).tag(config=True)

    @default("queue_class")
    def _default_queue_class(self) -> type[Queue]:
        return RedisQueue if self.redis_url else InProcessQueue

    event_bus_class = Type(
        klass=EventBus,
        help="""What carries a run's output, stdin and notices between processes:
        InProcessEventBus or RedisEventBus. Default: RedisEventBus when redis_url is
        set, else InProcessEventBus.""",
    ).tag(config=True)

    @default("event_bus_class")
    def _default_event_bus_class(self) -> type[EventBus]:
        return RedisEventBus if self.redis_url else InProcessEventBus

    audit_log = Unicode(
        help="""File that receives MUSCode's audit events (class, roster and token changes,
        runs started and finished) as JSON lines ($MUSCODE_AUDIT_LOG). The server and its
        workers may share one file; it is reopened when logrotate moves it. Empty: the
        events go only to Jupyter Server's event logger (its `EventLogger.handlers` and
        listeners), and a worker's are discarded.""",
    ).tag(config=True)

    @default("audit_log")
    def _default_audit_log(self) -> str:
        return os.environ.get("MUSCODE_AUDIT_LOG", "")

    run_limits = Dict(
        help=f"""Default limits of a run; a request may lower or raise them up to
        max_run_limits. Keys: {", ".join(LIMIT_FIELDS)}. Units: ms, MiB, count, KiB.
        idle_ms applies to interactive runs only (stdin typed live): the longest one
        wait for input may last; time spent waiting for input does not count toward
        wall_time_ms there (default 300000: 5 min).""",
    ).tag(config=True)

    @default("run_limits")
    def _default_run_limits(self) -> dict[str, int]:
        return Limits().as_dict()

    max_run_limits = Dict(
        help="""The most a request may ask for, per limit (same keys and units as
        run_limits; idle_ms at most 1800000, 30 min, by default).""",
    ).tag(config=True)

    @default("max_run_limits")
    def _default_max_run_limits(self) -> dict[str, int]:
        return Limits(
            cpu_time_ms=20_000,
            wall_time_ms=60_000,
            memory_mb=1024,
            processes=256,
            output_kb=4096,
            file_size_kb=65_536,
            idle_ms=1_800_000,
        ).as_dict()

    compile_limits = Dict(
        help="Limits of a compile step (same keys and units as run_limits).",
    ).tag(config=True)

    @default("compile_limits")
    def _default_compile_limits(self) -> dict[str, int]:
        return Limits(
            cpu_time_ms=20_000,
            wall_time_ms=30_000,
            memory_mb=1024,
            processes=64,
            output_kb=64,
            file_size_kb=65_536,
        ).as_dict()

    @validate("run_limits", "max_run_limits", "compile_limits")
    def _check_limits(self, proposal: dict[str, Any]) -> dict[str, int]:
        value = dict(proposal["value"])
        unknown = set(value) - set(LIMIT_FIELDS)
        if unknown:
            raise TraitError(f"{proposal['trait'].name}: unknown limit(s) {sorted(unknown)}")
        merged = {**Limits().as_dict(), **value}
        for k, v in merged.items():
            if not isinstance(v, int) or v <= 0:
                raise TraitError(f"{proposal['trait'].name}.{k} must be a positive integer")
        return merged

    # -- old names of settings that moved to their part (see MOVED) ------------------

    workers = Int(None, allow_none=True, help=moved("workers")).tag(config=True)
    redis_claim_after = Float(None, allow_none=True, help=moved("redis_claim_after")).tag(
        config=True
    )
    callback_secret = Unicode(None, allow_none=True, help=moved("callback_secret")).tag(config=True)
    # Empty rather than None, so that `c.MuscodeApp.callback_allow_hosts.add(...)` works.
    callback_allow_hosts = Set(Unicode(), help=moved("callback_allow_hosts")).tag(config=True)
    callback_attempts = Int(None, allow_none=True, help=moved("callback_attempts")).tag(config=True)
    callback_first_delay = Float(None, allow_none=True, help=moved("callback_first_delay")).tag(
        config=True
    )
    run_rate_limit = Unicode(None, allow_none=True, help=moved("run_rate_limit")).tag(config=True)
    grader_rate_limit = Unicode(None, allow_none=True, help=moved("grader_rate_limit")).tag(
        config=True
    )
    max_active_runs = Int(None, allow_none=True, help=moved("max_active_runs")).tag(config=True)
    max_queue_depth = Int(None, allow_none=True, help=moved("max_queue_depth")).tag(config=True)
    service_url = Unicode(None, allow_none=True, help=moved("service_url")).tag(config=True)
    allow_unsafe_sandbox = Bool(None, allow_none=True, help=moved("allow_unsafe_sandbox")).tag(
        config=True
    )
    docker_runtime = Unicode(None, allow_none=True, help=moved("docker_runtime")).tag(config=True)
    docker_image = Unicode(None, allow_none=True, help=moved("docker_image")).tag(config=True)
    docker_url = Unicode(None, allow_none=True, help=moved("docker_url")).tag(config=True)
    docker_pool_size = Int(None, allow_none=True, help=moved("docker_pool_size")).tag(config=True)
    docker_work_root = Unicode(None, allow_none=True, help=moved("docker_work_root")).tag(
        config=True
    )

    @validate("callback_allow_hosts")
    def _hosts(self, proposal: dict[str, Any]) -> set[str]:
        check_hosts("MuscodeApp.callback_allow_hosts", proposal["value"])
        return set(proposal["value"])

    @observe(*MOVED)
    def _forward_moved(self, change: Bunch) -> None:
        if change.new is not None:  # None: not set (the default of an old name)
            owner = cast("LoggingConfigurable", self)
            forward_moved(owner.config, change.name, change.new, owner.log)

    # -- what the settings make --------------------------------------------------------

    def make_language_registry(self) -> dict[str, Language]:
        try:
            return build_registry(self.languages)
        except ValueError as e:
            raise StartupError(f"MuscodeApp.languages: {e}") from None

    def open_database(self) -> Database:
        """Check (and where allowed, create or upgrade) the schema, then connect."""
        is_sqlite = self.db_url.startswith("sqlite")
        try:
            done = ensure_schema(self.db_url, auto_upgrade=is_sqlite or self.upgrade_db)
        except SchemaMismatch as e:
            raise StartupError(str(e)) from None
        except ValueError as e:
            raise StartupError(f"MuscodeApp.db_url: {e}") from None
        except Exception as e:
            raise StartupError(f"cannot open the MUSCode database: {e}") from e
        cast("LoggingConfigurable", self).log.info("MUSCode database schema: %s", done)
        return Database(self.db_url)

    def make_audit(self, event_logger: Any = None) -> Audit:
        """Audit events on ``event_logger`` (the server's), or on a new event logger
        configured like any other (``c.EventLogger.handlers``); plus ``audit_log``."""
        if event_logger is None:
            from jupyter_events import EventLogger

            event_logger = EventLogger(parent=self)
        audit = Audit(event_logger)
        if self.audit_log:
            try:
                audit.log_to_file(self.audit_log)
            except OSError as e:
                raise StartupError(
                    f"MuscodeApp.audit_log: cannot open {self.audit_log}: {e}"
                ) from None
        return audit


class WorkerSettings(SharedSettings, LoggingConfigurable):
    """The shared settings in a process that has no ``MuscodeApp``: ``muscode-worker``."""

    data_dir = Unicode(help="The Jupyter data directory (for the default db_url).")

    @classmethod
    def from_config(cls, parent: Configurable, data_dir: str = "") -> WorkerSettings:
        """The settings as ``parent``'s configuration gives them for ``MuscodeApp``.

        Only the ``MuscodeApp`` options this class has are read (the server's others,
        such as its JWT secret, are not the worker's business and are not warned about).
        Parts built with ``parent=`` the result see the whole configuration, moved
        options included.
        """
        config = deepcopy(parent.config)
        if "MuscodeApp" in config:
            names = set(cls.class_trait_names(config=True))
            shared = {k: v for k, v in config["MuscodeApp"].items() if k in names}
            config[cls.__name__].merge(Config(shared))
        try:
            return cls(parent=parent, config=config, data_dir=data_dir)
        except TraitError as e:
            raise StartupError(str(e)) from None


__all__ = [
    "MOVED",
    "SharedSettings",
    "StartupError",
    "WorkerSettings",
    "default_db_url",
    "forward_moved",
]
