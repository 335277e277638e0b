"""Service endpoints: ``/health``, ``/me``, ``/openapi.yaml``."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.auth.decorator import allow_unauthenticated

from .base import API_PREFIX, MuscodeHandler, api

OPENAPI = Path(__file__).parent.parent / "openapi.yaml"


class HealthHandler(MuscodeHandler):
    """Liveness for load balancers and operators; needs no login."""

    @allow_unauthenticated
    async def get(self) -> None:
        report = await self.muscode.health()
        self.set_header("Cache-Control", "no-store")
        self.write_json(report, 503 if report["checks"]["database"] != "ok" else 200)


class MeHandler(MuscodeHandler):
    @api
    async def get(self) -> None:
        self.write_json(await self.muscode.describe_caller(self.caller))


class OpenAPIHandler(MuscodeHandler):
    @api
    async def get(self) -> None:
        self.finish(OPENAPI.read_bytes(), set_content_type="application/yaml; charset=UTF-8")


default_handlers = [
    (rf"{API_PREFIX}/health", HealthHandler),
    (rf"{API_PREFIX}/me", MeHandler),
    (rf"{API_PREFIX}/openapi.yaml", OpenAPIHandler),
]
