"""``MuscodeApp``: the Jupyter Server extension, its configuration and its wiring.

``jupyter muscode`` starts a Jupyter Server with MUSCode; ``jupyter lab`` and
``jupyter server`` load it too (``jupyter-config/`` enables it). Every setting below
is a trait: set it in a Jupyter config file (``c.MuscodeApp.db_url = ...``), on the
command line (``--MuscodeApp.db_url=...``) or, for deployments, through the
environment variable named in its help.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from jupyter_core.application import JupyterApp
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, Set, TraitError, Type, Unicode, default, validate
from traitlets.config import Application

from . import __version__, metrics
from .audit import Audit
from .auth import (
    Authenticator,
    BearerIdentityProvider,
    Caller,
    TokenAuthority,
    running_under_hub,
    secret_problem,
)
from .errors import DependencyDown
from .events import EventBus, InProcessEventBus
from .execution.base import Limits, Sandbox
from .execution.languages import Language, build_registry
from .execution.local import LocalSandbox
from .handlers import all_handlers
from .hub import HubClient
from .queue import InProcessQueue, Queue
from .relay import Relay, relay_handlers
from .services.assignments import AssignmentService
from .services.callbacks import CallbackPolicy, CallbackSender, normalise_hosts
from .services.classes import ClassService
from .services.collab import CollabService
from .services.executions import LIMIT_FIELDS, ExecutionPolicy, ExecutionService
from .services.projects import ProjectService, SizeCaps
from .services.ratelimit import RunLimiter, RunLimits, parse_rate
from .services.tokens import TokenService
from .store import Database, SchemaMismatch, ensure_schema
from .store import upgrade as upgrade_schema
from .store.db import schema_state


class StartupError(Exception):
    """MUSCode refuses to start; the message says why and what to do."""


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return fallback
    try:
        return int(value)
    except ValueError:
        raise StartupError(f"{name}={value!r} is not a whole number") from None


def default_db_url(data_dir: str) -> str:
    """``MUSCODE_DB_URL``, else a SQLite file in the Jupyter data directory."""
    url = os.environ.get("MUSCODE_DB_URL")
    if url:
        return url
    return f"sqlite:///{Path(data_dir) / 'muscode' / 'muscode.sqlite'}"


class MuscodeApp(ExtensionApp):
    """MUSCode for Jupyter: a classroom coding platform in the Jupyter stack."""

    name = "muscode"
    description = __doc__ or ""
    version = __version__
    extension_url = "/api/muscode/v1/health"
    load_other_extensions = True

    # -- configuration ---------------------------------------------------------------

    db_url = Unicode(
        help="""Database URL: sqlite:///path/to.db or postgresql://user@host/db.

        Default: $MUSCODE_DB_URL, else muscode/muscode.sqlite in the Jupyter data
        directory (created and migrated on first start).""",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_db_url(self.data_dir)

    upgrade_db = Bool(
        False,
        help="""Upgrade a database whose schema is behind at start-up.

        Off by default for server databases (PostgreSQL): back it up and run
        `jupyter muscode db upgrade`. A SQLite database is always upgraded.""",
    ).tag(config=True)

    allow_bearer_tokens = Bool(
        True,
        help="Accept `Authorization: Bearer <JWT>` MUSCode tokens (graders, scripts).",
    ).tag(config=True)

    jwt_secret = Unicode(
        help="""Secret key (HS256) that signs MUSCode bearer tokens.

        Default: $MUSCODE_JWT_SECRET, else a random key kept in muscode/jwt_secret in
        the Jupyter data directory (mode 0600). With bearer tokens on, MUSCode refuses
        to start with an empty, placeholder or short (< 32 characters) secret.""",
    ).tag(config=True)

    @default("jwt_secret")
    def _default_jwt_secret(self) -> str:
        if "MUSCODE_JWT_SECRET" in os.environ:
            return os.environ["MUSCODE_JWT_SECRET"]
        path = Path(self.data_dir) / "muscode" / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        return value

    admin_users = Set(
        Unicode(),
        help="""User names that are MUSCode admins ($MUSCODE_ADMIN_USERS, comma-separated).

        The hub's admins and the single user of an embedded server are admins too.""",
    ).tag(config=True)

    @default("admin_users")
    def _default_admin_users(self) -> set[str]:
        raw = os.environ.get("MUSCODE_ADMIN_USERS", "")
        return {name.strip() for name in raw.split(",") if name.strip()}

    embedded_user = Unicode(
        help="""On an embedded server (not under JupyterHub): the user name MUSCode records
        for the person using it. Jupyter's token login is anonymous, so this gives their
        projects a stable owner. Default: the operating-system login name.""",
    ).tag(config=True)

    @default("embedded_user")
    def _default_embedded_user(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "owner"

    max_file_size = Int(
        help="Largest file in a project, in bytes ($MUSCODE_MAX_FILE_SIZE; default 2 MiB).",
    ).tag(config=True)

    @default("max_file_size")
    def _default_max_file_size(self) -> int:
        return _env_int("MUSCODE_MAX_FILE_SIZE", 2 * 1024 * 1024)

    max_project_size = Int(
        help="Most bytes in one project's files ($MUSCODE_MAX_PROJECT_SIZE; default 20 MiB).",
    ).tag(config=True)

    @default("max_project_size")
    def _default_max_project_size(self) -> int:
        return _env_int("MUSCODE_MAX_PROJECT_SIZE", 20 * 1024 * 1024)

    max_project_files = Int(
        help="Most files in one project ($MUSCODE_MAX_PROJECT_FILES; default 1000).",
    ).tag(config=True)

    @default("max_project_files")
    def _default_max_project_files(self) -> int:
        return _env_int("MUSCODE_MAX_PROJECT_FILES", 1000)

    @validate("max_file_size", "max_project_size", "max_project_files")
    def _positive(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive, not {value}")
        return value

    languages = Dict(
        help="""Languages to add, change or remove, by id.

        Each value is a dict of `Language` fields (name, extensions, compile, run,
        version, image, env, default_main) merged over the built-in definition; None
        removes a language. Example: {"python": {"run": ["python3", "-I", "{main}"]}}.""",
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

    allow_unsafe_sandbox = Bool(
        False,
        help="""Let the local sandbox run code WITHOUT bubblewrap (rlimits only) when
        bubblewrap is missing. Only for a single user running their own code on their
        own machine: student code could then read and change that user's files.""",
    ).tag(config=True)

    docker_runtime = Unicode(
        "runc",
        help="OCI runtime of the Docker sandbox: runc, or runsc (gVisor) for defence in depth.",
    ).tag(config=True)

    docker_image = Unicode(
        "",
        help="Runner image of the Docker sandbox; empty uses each language's `image`.",
    ).tag(config=True)

    docker_url = Unicode(
        help="Docker Engine API URL (unix:///var/run/docker.sock); default: $DOCKER_HOST or "
        "the local socket.",
    ).tag(config=True)

    docker_pool_size = Int(
        2, help="Pre-created containers the Docker sandbox keeps ready per image (0: none)."
    ).tag(config=True)

    docker_work_root = Unicode(
        help="""Directory of the Docker sandbox's per-run directories, which the engine
        bind-mounts into the run's container ($MUSCODE_DOCKER_WORK_ROOT; empty: under the
        system temp dir). When MUSCode itself runs in a container and talks to the host's
        engine, mount a host directory here at the same path, writable by MUSCode's user
        (docker/docker-compose.yml uses /var/lib/muscode/runs).""",
    ).tag(config=True)

    @default("docker_work_root")
    def _default_docker_work_root(self) -> str:
        return os.environ.get("MUSCODE_DOCKER_WORK_ROOT", "")

    workers = Int(
        2,
        help="""Runs executed at the same time by one process: the server with the
        in-process queue, or each `muscode-worker` with Redis.""",
    ).tag(config=True)

    service_url = Unicode(
        help="""Relay mode ($MUSCODE_SERVICE_URL): the URL of the MUSCode hub service, e.g.
        http://127.0.0.1:10101/services/muscode/. A student's JupyterHub server set this
        way keeps no database or sandbox: it relays MUSCode's API (websockets included)
        to the service with its own JupyterHub API token. Empty: MUSCode runs here.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get("MUSCODE_SERVICE_URL", "")

    redis_url = Unicode(
        help="""Redis URL (redis://host:6379/0) for the run queue and the event bus
        ($MUSCODE_REDIS_URL). Empty: the in-process queue and bus of an embedded server.
        With Redis, runs are executed by `muscode-worker` processes, not by the server.""",
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return os.environ.get("MUSCODE_REDIS_URL", "")

    redis_prefix = Unicode(
        "muscode", help="Prefix of every Redis key MUSCode uses (to share a Redis server)."
    ).tag(config=True)

    redis_claim_after = Float(
        30.0,
        help="""Seconds after which a job whose worker stopped sending heartbeats (it was
        killed) is handed to another worker. Workers renew their claim every third of it.""",
    ).tag(config=True)

    run_limits = Dict(
        help=f"""Default limits of a run; a request may lower or raise them up to
        max_run_limits. Keys: {", ".join(LIMIT_FIELDS)}. Units: ms, MiB, count, KiB.""",
    ).tag(config=True)

    @default("run_limits")
    def _default_run_limits(self) -> dict[str, int]:
        return Limits().as_dict()

    max_run_limits = Dict(
        help="The most a request may ask for, per limit (same keys and units as run_limits).",
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

    max_source_size = Int(
        256 * 1024, help="Largest program (all its files) a run may carry, in bytes."
    ).tag(config=True)

    max_stdin_size = Int(1024 * 1024, help="Largest stdin of a run or test, in bytes.").tag(
        config=True
    )

    max_tests = Int(100, help="Most tests one execution may carry.").tag(config=True)

    run_rate_limit = Unicode(
        "30/minute",
        help="""Runs one user may start, as a rate ('30/minute', '5 per second'). Over it:
        429 with Retry-After.""",
    ).tag(config=True)

    grader_rate_limit = Unicode(
        "1200/minute",
        help="Runs a bearer token with the `grade` scope may start (its own, higher rate).",
    ).tag(config=True)

    max_active_runs = Int(
        4,
        help="""Runs one user may have queued or running at once (0: no cap). Admins and
        grader tokens are exempt; they are held back by the rate and the queue depth.""",
    ).tag(config=True)

    max_queue_depth = Int(
        2000,
        help="Runs that may wait in the queue; past it, new runs get 503 (0: no cap).",
    ).tag(config=True)

    callback_secret = Unicode(
        help="""Key that signs result callbacks (X-MUSCode-Signature: sha256=HMAC of the
        body), from $MUSCODE_CALLBACK_SECRET. Empty: runs with a callback_url are refused.""",
    ).tag(config=True)

    @default("callback_secret")
    def _default_callback_secret(self) -> str:
        return os.environ.get("MUSCODE_CALLBACK_SECRET", "")

    callback_allow_hosts = Set(
        Unicode(),
        help="""Hosts callbacks may reach even though they are loopback, private or
        link-local (e.g. a grader on the school network). Others must be public.""",
    ).tag(config=True)

    callback_attempts = Int(4, help="Deliveries tried per callback (with backoff).").tag(
        config=True
    )

    callback_first_delay = Float(
        1.0, help="Seconds before the first retry of a callback; doubled each time."
    ).tag(config=True)

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

    # -- wiring ----------------------------------------------------------------------

    #: Set in relay mode (``service_url``): this server only passes the API on.
    relay: Relay | None = None

    def initialize_settings(self) -> None:
        if self.service_url:
            try:
                self.relay = Relay(self.service_url)
            except ValueError as e:
                raise StartupError(f"MuscodeApp.{e}") from None
            self.log.info("MUSCode relays its API to the service at %s", self.service_url)
            return
        if self.allow_bearer_tokens:
            problem = secret_problem(self.jwt_secret)
            if problem:
                raise StartupError(
                    f"{problem}. Set MUSCODE_JWT_SECRET (or MuscodeApp.jwt_secret) to a random "
                    "string of at least 32 characters, e.g. from `openssl rand -hex 32`, or "
                    "turn bearer tokens off with --MuscodeApp.allow_bearer_tokens=False."
                )
        self.language_registry = self.make_language_registry()
        self.db = self.open_database()
        self.audit = self.make_audit(getattr(self.serverapp, "event_logger", None))
        self.tokens = TokenAuthority(self.jwt_secret) if self.allow_bearer_tokens else None
        self.authenticator = Authenticator(
            self.db,
            self.tokens,
            admin_users=self.admin_users,
            embedded_user=None if running_under_hub() else self.embedded_user,
        )
        self.projects = ProjectService(
            self.db,
            SizeCaps(self.max_file_size, self.max_project_size, self.max_project_files),
            lambda: self.language_registry.keys(),
        )
        # Under JupyterHub, classes are mirrored as hub groups with the service's token.
        self.class_service = ClassService(
            self.db, HubClient.from_env() if running_under_hub() else None, self.audit
        )
        self.token_service = TokenService(
            self.db, self.tokens, self.authenticator.revoke, self.audit
        )
        self._identity: BearerIdentityProvider | None = None
        self.sandbox = self.make_sandbox()
        self.executions = ExecutionService(
            self.db,
            self.sandbox,
            self.language_registry,
            self.execution_policy(),
            self.make_queue(consume=not self.redis_url),
            self.make_event_bus(),
            self.projects,
            self.make_limiter(),
            self.make_callbacks(),
        )
        self.executions.runner.audit = self.audit
        self.assignments = AssignmentService(
            self.db,
            self.executions.bus,
            classes=self.class_service,
            projects=self.projects,
            executions=self.executions,
        )
        self.collab = CollabService(self.db, self.projects)
        # Grading runs score their submission as soon as they are done.
        self.executions.runner.on_done = self.assignments.on_run_done
        metrics.watch_queue_depth(self.executions.queue.depth)

    # -- parts, shared with `muscode-worker` -------------------------------------------

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
        self.log.info("MUSCode database schema: %s", done)
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

    def execution_policy(self) -> ExecutionPolicy:
        run_limits = Limits(**self.run_limits)
        max_limits = Limits(**self.max_run_limits)
        for name in LIMIT_FIELDS:
            if getattr(run_limits, name) > getattr(max_limits, name):
                raise StartupError(f"MuscodeApp.run_limits.{name} is above max_run_limits")
        return ExecutionPolicy(
            run_limits=run_limits,
            max_limits=max_limits,
            compile_limits=Limits(**self.compile_limits),
            max_source_size=self.max_source_size,
            max_stdin_size=self.max_stdin_size,
            max_tests=self.max_tests,
        )

    def make_queue(self, *, consume: bool) -> Queue:
        r"""The in-process queue, or with ``redis_url`` the Redis one (``consume``: this
        process runs jobs; the server does not, its ``muscode-worker``\s do)."""
        if not self.redis_url:
            return InProcessQueue(self.workers)
        from .queue.redis import RedisQueue

        return RedisQueue(
            self.redis_url,
            concurrency=self.workers,
            consume=consume,
            claim_after=self.redis_claim_after,
            prefix=self.redis_prefix,
        )

    def make_limiter(self) -> RunLimiter:
        try:
            limits = RunLimits(
                user_rate=parse_rate(self.run_rate_limit, "run_rate_limit"),
                grader_rate=parse_rate(self.grader_rate_limit, "grader_rate_limit"),
                max_active_per_user=self.max_active_runs,
                max_queue_depth=self.max_queue_depth,
            )
        except ValueError as e:
            raise StartupError(f"MuscodeApp.{e}") from None
        return RunLimiter(limits, self.redis_url, self.redis_prefix)

    def make_callbacks(self) -> CallbackSender:
        return CallbackSender(
            CallbackPolicy(
                secret=self.callback_secret,
                allow_hosts=normalise_hosts(self.callback_allow_hosts),
                attempts=self.callback_attempts,
                first_delay=self.callback_first_delay,
            )
        )

    def make_event_bus(self) -> EventBus:
        if not self.redis_url:
            return InProcessEventBus()
        from .events.redis import RedisEventBus

        return RedisEventBus(self.redis_url, prefix=self.redis_prefix)

    def make_sandbox(self) -> Sandbox:
        cls: Any = self.sandbox_class
        if issubclass(cls, LocalSandbox):
            return cls(allow_unsafe=self.allow_unsafe_sandbox)
        if cls.__name__ == "DockerSandbox":
            return cls(
                runtime=self.docker_runtime,
                image=self.docker_image or None,
                pool_size=self.docker_pool_size,
                docker_url=self.docker_url or None,
                work_root=self.docker_work_root or None,
            )
        return cls()

    def initialize_handlers(self) -> None:
        self.handlers.extend(relay_handlers if self.relay is not None else all_handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await super()._start_jupyter_server_extension(serverapp)
        if self.relay is not None:
            return
        await self.executions.start()
        problem = await self.executions.sandbox_problem()
        if problem:
            self.log.warning("MUSCode cannot run code yet: %s", problem)

    async def stop_extension(self) -> None:
        if self.relay is not None:
            return
        await self.collab.close()
        await self.executions.stop()
        await self.db.dispose()
        self.audit.close()

    def identity_provider_for(self, inner: Any) -> BearerIdentityProvider:
        """The server's identity provider, with MUSCode bearer tokens checked first."""
        if self._identity is None:
            self._identity = BearerIdentityProvider(inner, self.authenticator)
        return self._identity

    # -- service facts ---------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        checks: dict[str, str] = {}
        try:
            await self.db.ping()
            checks["database"] = "ok"
        except DependencyDown:
            checks["database"] = "unavailable"
        queue_problem = await self.executions.queue.check()
        checks["queue"] = "ok" if queue_problem is None else f"unavailable: {queue_problem}"
        problem = await self.executions.sandbox_problem()
        checks["executor"] = "ok" if problem is None else f"unavailable: {problem}"
        status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
        return {"status": status, "checks": checks, "version": __version__}

    async def describe_caller(self, caller: Caller) -> dict[str, Any]:
        return {**caller.as_dict(), "classes": await self.class_service.classes_of(caller.name)}

    # -- entry point -----------------------------------------------------------------

    @classmethod
    def make_serverapp(cls, **kwargs: Any) -> Any:
        # `jupyter muscode` must not come up half-started without its extension.
        kwargs.setdefault("reraise_server_extension_failures", True)
        return super().make_serverapp(**kwargs)


class _DbCommand(JupyterApp):
    db_url = Unicode(help="Database URL (default: $MUSCODE_DB_URL, else the SQLite default).").tag(
        config=True
    )
    aliases = {"db-url": "_DbCommand.db_url"}

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_db_url(self.data_dir)


class DbUpgradeApp(_DbCommand):
    """Apply MUSCode's database migrations (back the database up first)."""

    name = "jupyter-muscode-db-upgrade"
    description = "Upgrade the MUSCode database schema to this version's."
    aliases = {"db-url": "DbUpgradeApp.db_url"}

    def start(self) -> None:
        before, head = schema_state(self.db_url)
        if before == head:
            print(f"MUSCode database is current (revision {head}).")
            return
        upgrade_schema(self.db_url)
        print(f"MUSCode database upgraded from {before or 'empty'} to {head}.")


class DbCurrentApp(_DbCommand):
    """Print the database's schema revision and this version's."""

    name = "jupyter-muscode-db-current"
    description = "Show the MUSCode database schema revision."
    aliases = {"db-url": "DbCurrentApp.db_url"}

    def start(self) -> None:
        current, head = schema_state(self.db_url)
        state = "current" if current == head else "behind: run `jupyter muscode db upgrade`"
        print(f"database revision: {current or 'empty'}; this MUSCode needs {head} ({state})")


class DbApp(JupyterApp):
    name = "jupyter-muscode-db"
    description = "Manage the MUSCode database: `upgrade`, `current`."
    subcommands = {
        "upgrade": (DbUpgradeApp, DbUpgradeApp.description),
        "current": (DbCurrentApp, DbCurrentApp.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("usage: jupyter muscode db upgrade|current [--db-url=URL]", file=sys.stderr)
            self.exit(2)
        assert self.subapp is not None
        self.subapp.start()


MuscodeApp.subcommands = {"db": (DbApp, DbApp.description)}


def main(argv: list[str] | None = None) -> None:
    """``jupyter muscode``: serve MUSCode; ``jupyter muscode db upgrade``: migrate."""
    try:
        MuscodeApp.launch_instance(argv)
    except StartupError as e:
        print(f"MUSCode cannot start: {e}", file=sys.stderr)
        sys.exit(1)


__all__ = ["Application", "MuscodeApp", "StartupError", "main"]
