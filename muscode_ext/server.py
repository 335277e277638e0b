"""``MuscodeServer``: what a server that runs MUSCode itself (not a relay) holds.

The parts that run programs (:class:`~.parts.Parts`), the domain services built on
them, and who may do what. ``MuscodeApp`` builds it from its settings; MUSCode's
handlers reach it as ``self.muscode``. It knows nothing of the application or of the
handlers, so neither imports the other through it.
"""

from __future__ import annotations

from typing import Any

from . import __version__
from .audit import Audit
from .auth import Authenticator, BearerIdentityProvider, Caller
from .errors import DependencyDown
from .parts import Parts
from .services.assignments import AssignmentService
from .services.classes import ClassService
from .services.collab import CollabService
from .services.executions import ExecutionService
from .services.projects import ProjectService
from .services.sockets import Sockets
from .services.tokens import TokenService
from .store import Database


class MuscodeServer:
    """The parts and services of one MUSCode server process, started and stopped as one."""

    def __init__(
        self,
        parts: Parts,
        *,
        authenticator: Authenticator,
        projects: ProjectService,
        class_service: ClassService,
        token_service: TokenService,
        executions: ExecutionService,
        assignments: AssignmentService,
        collab: CollabService,
        sockets: Sockets,
    ) -> None:
        self.parts = parts
        self.authenticator = authenticator
        self.projects = projects
        self.class_service = class_service
        self.token_service = token_service
        self.executions = executions
        self.assignments = assignments
        self.collab = collab
        #: The open websockets and the credentials they rely on.
        self.sockets = sockets
        self._identity: BearerIdentityProvider | None = None

    @property
    def db(self) -> Database:
        return self.parts.db

    @property
    def audit(self) -> Audit:
        return self.parts.audit

    async def start(self) -> str | None:
        """Start running programs; returns why the sandbox cannot run code yet, if so."""
        await self.sockets.start()
        await self.executions.start()
        return await self.executions.sandbox_problem()

    async def stop(self) -> None:
        await self.sockets.stop()
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


__all__ = ["MuscodeServer"]
