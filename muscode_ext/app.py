"""``MuscodeApp``: the Jupyter Server extension, its configuration and its wiring.

``jupyter muscode`` starts a Jupyter Server with MUSCode; ``jupyter lab`` and
``jupyter server`` load it too (``jupyter-config/`` enables it). Every setting is a
trait: set it in a Jupyter config file (``c.MuscodeApp.db_url = ...``), on the command
line (``--MuscodeApp.db_url=...``) or, for deployments, through the environment
variable named in its help.

The app holds the settings of the whole server and chooses the class of each part
(``sandbox_class``, ``queue_class``, ``event_bus_class``); each part owns its own
settings (``c.RedisQueue.claim_after``, ``c.CallbackSender.secret``: see
``jupyter muscode --help-all``). :func:`~.parts.build_parts` builds the parts, for this
server as for ``muscode-worker``. With a service URL the server only relays the API to
the hub service (:class:`~.relay.Relay`) and builds none of them.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from traitlets import Bool, Int, Set, TraitError, Unicode, default, validate
from traitlets.config import Application

from . import __version__, metrics
from .audit import Audit
from .auth import (
    Authenticator,
    ServiceAuthorizer,
    TokenAuthority,
    running_under_hub,
    secret_problem,
)
from .dbapp import DbApp
from .events.redis import RedisEventBus
from .execution.base import Limits
from .handlers import all_handlers
from .handlers.home import home_handlers
from .hub import HubClient
from .names import user_name_problem
from .parts import ENGINE_CLASSES, Parts, build_parts, configured
from .relay import Relay, relay_handlers
from .server import MuscodeServer
from .services.assignments import AssignmentService
from .services.classes import ClassService
from .services.collab import CollabService
from .services.collab_redis import RedisRooms
from .services.executions import LIMIT_FIELDS, ExecutionPolicy, ExecutionService
from .services.projects import ProjectService, SizeCaps
from .services.ratelimit import RunLimiter
from .services.sockets import Sockets
from .services.tokens import TokenService
from .setting_checks import check_user_names
from .settings import SharedSettings, StartupError, default_db_url
from .store import Database


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return fallback
    try:
        return int(value)
    except ValueError:
        raise StartupError(f"{name}={value!r} is not a whole number") from None


class MuscodeApp(ExtensionAppJinjaMixin, ExtensionApp, SharedSettings):
    """MUSCode for Jupyter: a classroom coding platform in the Jupyter stack."""

    name = "muscode"
    description = __doc__ or ""
    version = __version__
    extension_url = "/api/muscode/v1/health"
    load_other_extensions = True
    subcommands = {"db": (DbApp, DbApp.description)}
    # The parts whose own options `--help-all` documents, after the server's.
    classes = [*ExtensionApp.classes, *ENGINE_CLASSES, RunLimiter, Sockets, Relay]

    # -- configuration (the settings shared with workers are in SharedSettings) -----

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
            login = getpass.getuser()
        except (KeyError, OSError):
            return "owner"
        return login if user_name_problem(login) is None else "owner"

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

    max_body_size = Int(
        2 * 1024 * 1024,
        help="""Largest request body of MUSCode's API routes, in bytes (default 2 MiB);
        the routes that carry files and programs take max_upload_body_size. A bigger
        body, or any body without credentials, is refused before it is read (413, 401).
        Jupyter Server's ServerApp.max_body_size still applies to its other routes.""",
    ).tag(config=True)

    max_upload_body_size = Int(
        20 * 1024 * 1024,
        help="""Largest request body of the routes that carry files and programs
        (projects, files, executions, assignments), in bytes (default 20 MiB).""",
    ).tag(config=True)

    @validate(
        "max_file_size",
        "max_project_size",
        "max_project_files",
        "max_body_size",
        "max_upload_body_size",
    )
    def _positive(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive, not {value}")
        return value

    max_source_size = Int(
        256 * 1024, help="Largest program (all its files) a run may carry, in bytes."
    ).tag(config=True)

    max_stdin_size = Int(1024 * 1024, help="Largest stdin of a run or test, in bytes.").tag(
        config=True
    )

    max_tests = Int(100, help="Most tests one execution may carry.").tag(config=True)

    @default("template_paths")
    def _default_template_paths(self) -> list[str]:
        # The service's landing page (handlers/home.py), autoescaped as Jupyter's own.
        return [str(Path(__file__).parent / "templates")]

    # -- wiring ----------------------------------------------------------------------

    #: What this server does: relay the API to the hub service, or run MUSCode itself.
    front: Relay | MuscodeServer
    #: Set in relay mode (a service URL): the API passes on to the service.
    relay: Relay | None = None
    #: Set otherwise: the parts and services of MUSCode, run here.
    server: MuscodeServer | None = None
    #: The handler table of the front.
    _routes: list[tuple[str, Any]]

    def initialize_settings(self) -> None:
        relay = configured(Relay, self)
        if relay.service_url:
            self.log.info("MUSCode relays its API to the service at %s", relay.service_url)
            self.front = self.relay = relay
            self._routes = relay_handlers
        else:
            self.front = self.server = self.make_server()
            self._routes = all_handlers()
            authorizer = getattr(self.serverapp, "authorizer_class", None)
            if isinstance(authorizer, type) and issubclass(authorizer, ServiceAuthorizer):
                # The hub's service: its Services menu opens the root in a browser.
                self._routes = [*self._routes, *home_handlers]

    def initialize_handlers(self) -> None:
        self.handlers.extend(self._routes)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await super()._start_jupyter_server_extension(serverapp)
        problem = await self.front.start()
        if problem:
            self.log.warning("MUSCode cannot run code yet: %s", problem)

    async def stop_extension(self) -> None:
        await self.front.stop()

    def make_server(self) -> MuscodeServer:
        """Build the parts (shared with workers) and the services on them."""
        try:
            # Before anything is opened; the names' own rule is checked again where
            # they are used (the Authenticator), this adds a list given as one name.
            check_user_names("MuscodeApp.admin_users", self.admin_users)
        except TraitError as e:
            raise StartupError(str(e)) from None
        if self.allow_bearer_tokens:
            problem = secret_problem(self.jwt_secret)
            if problem:
                raise StartupError(
                    f"{problem}. Set MUSCODE_JWT_SECRET (or MuscodeApp.jwt_secret) to a random "
                    "string of at least 32 characters, e.g. from `openssl rand -hex 32`, or "
                    "turn bearer tokens off with --MuscodeApp.allow_bearer_tokens=False."
                )
        policy = self.execution_policy()
        # With a queue shared between processes, `muscode-worker`s run the programs.
        parts = build_parts(
            self, consume=False, event_logger=getattr(self.serverapp, "event_logger", None)
        )
        db = parts.db
        tokens = TokenAuthority(self.jwt_secret) if self.allow_bearer_tokens else None
        try:
            authenticator = Authenticator(
                db,
                tokens,
                admin_users=self.admin_users,
                embedded_user=None if running_under_hub() else self.embedded_user,
            )
        except ValueError as e:
            raise StartupError(f"MuscodeApp.{e}") from None
        projects = ProjectService(
            db,
            SizeCaps(self.max_file_size, self.max_project_size, self.max_project_files),
            parts.languages.keys,
        )
        # Open websockets close when the token, or the class role, they relied on ends.
        sockets = configured(Sockets, self, parts.bus, db)

        async def revoke(token_id: str, expires_at: Any) -> None:
            await authenticator.revoke(token_id, expires_at)
            await sockets.token_revoked(token_id)

        # Under JupyterHub, classes are mirrored as hub groups with the service's token.
        classes = ClassService(
            db,
            HubClient.from_env() if running_under_hub() else None,
            parts.audit,
            on_roster_change=sockets.roster_changed,
        )
        executions = ExecutionService(
            db,
            parts.sandbox,
            parts.languages,
            policy,
            parts.queue,
            parts.bus,
            projects,
            parts.limiter,
            parts.callbacks,
            runner=parts.runner,
        )
        metrics.watch_queue_depth(parts.queue.depth)
        return MuscodeServer(
            parts,
            authenticator=authenticator,
            projects=projects,
            class_service=classes,
            token_service=TokenService(db, tokens, revoke, parts.audit),
            executions=executions,
            assignments=AssignmentService(
                db, parts.bus, classes=classes, projects=projects, executions=executions
            ),
            collab=self.make_collab(parts, projects),
            sockets=sockets,
        )

    def make_collab(self, parts: Parts, projects: ProjectService) -> CollabService:
        """Rooms in this process, or, with the Redis event bus, rooms shared by every
        replica through Redis (``services/collab_redis.py``)."""
        if not isinstance(parts.bus, RedisEventBus):
            return CollabService(parts.db, projects)
        rooms = configured(RedisRooms, self, parts.bus.url, prefix=self.redis_prefix)
        # A room's last save waits for a lease its dead holder left to run out.
        return CollabService(parts.db, projects, rooms, final_save_wait=rooms.saver_lease + 1)

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

    # -- what the server runs, reached from the app as well --------------------------

    def _served(self) -> MuscodeServer:
        if self.server is None:
            raise AttributeError("this MUSCode server relays its API: it runs nothing itself")
        return self.server

    @property
    def db(self) -> Database:
        return self._served().db

    @property
    def audit(self) -> Audit:
        return self._served().audit

    @property
    def authenticator(self) -> Authenticator:
        return self._served().authenticator

    @property
    def projects(self) -> ProjectService:
        return self._served().projects

    @property
    def class_service(self) -> ClassService:
        return self._served().class_service

    @property
    def token_service(self) -> TokenService:
        return self._served().token_service

    @property
    def executions(self) -> ExecutionService:
        return self._served().executions

    @property
    def assignments(self) -> AssignmentService:
        return self._served().assignments

    @property
    def collab(self) -> CollabService:
        return self._served().collab

    # -- entry point -----------------------------------------------------------------

    @classmethod
    def make_serverapp(cls, **kwargs: Any) -> Any:
        # `jupyter muscode` must not come up half-started without its extension.
        kwargs.setdefault("reraise_server_extension_failures", True)
        return super().make_serverapp(**kwargs)


def main(argv: list[str] | None = None) -> None:
    """``jupyter muscode``: serve MUSCode; ``jupyter muscode db upgrade``: migrate."""
    try:
        MuscodeApp.launch_instance(argv)
    except StartupError as e:
        print(f"MUSCode cannot start: {e}", file=sys.stderr)
        sys.exit(1)


__all__ = ["Application", "MuscodeApp", "StartupError", "default_db_url", "main"]
