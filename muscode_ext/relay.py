"""Relay mode: a student's Jupyter server passes MUSCode's API on to the hub service.

Under JupyterHub, MUSCode runs once, as the hub-managed service ``muscode``. A page
served by a student's own server (``/user/<name>/lab``) cannot call the service with
the browser's hub session: JupyterHub accepts a cookie-authenticated ``fetch`` only
with the service's own XSRF token, which a page on another path cannot read. So the
student's server relays. The lab calls ``api/muscode/v1/...`` on its own server, as on
an embedded one (Jupyter's own cookie, XSRF and origin checks apply), and the server
calls the service with its JupyterHub API token: a token the hub issued to the
student's server, owned by the student, whose scopes the hub limits to what the
student may do anyway (``Spawner.server_token_scopes`` in ``hub_config/``). The
student's server holds no database, Redis, Docker or MUSCode credentials.

Only paths under ``api/muscode/v1/`` are relayed, websockets (a run's stream,
``/events``) included.

The relay is a part of its own (``c.Relay.service_url``, ``$MUSCODE_SERVICE_URL``): a
server with a service URL builds it instead of MUSCode's database, queue and sandbox,
and serves :data:`relay_handlers` instead of MUSCode's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httpclient, web
from tornado.websocket import (
    WebSocketClientConnection,
    WebSocketClosedError,
    WebSocketHandler,
    websocket_connect,
)
from traitlets import Unicode, default, validate
from traitlets.config import LoggingConfigurable

from .handlers.base import API_PREFIX, AUTH_RESOURCE
from .setting_checks import check_url

#: Request headers passed on to the service (the rest, cookies included, stay here).
FORWARDED = ("Content-Type", "Accept", "If-Match", "If-None-Match")
#: Response headers passed back to the browser.
RETURNED = ("Content-Type", "ETag", "Location", "Retry-After", "Content-Disposition")
#: Longest a relayed request may take (``?wait=true`` runs wait up to 300 s).
TIMEOUT = 330.0
#: Largest message a client may send over a relayed websocket.
MAX_MESSAGE = 64 * 1024


class Relay(LoggingConfigurable):
    """Where the service is, and the token this server presents to it."""

    service_url = Unicode(
        help="""Relay mode ($MUSCODE_SERVICE_URL): the URL of the MUSCode hub service, e.g.
        http://127.0.0.1:10101/services/muscode/. A student's JupyterHub server set this
        way keeps no database or sandbox: it relays MUSCode's API (websockets included)
        to the service with its own JupyterHub API token. Empty: MUSCode runs here.""",
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get("MUSCODE_SERVICE_URL", "")

    @validate("service_url")
    def _http_url(self, proposal: dict[str, Any]) -> str:
        url = str(proposal["value"])
        if not url:
            return url
        check_url("Relay.service_url", url, ("http", "https"), "http://hub:8081/services/muscode/")
        return url if url.endswith("/") else url + "/"

    token = Unicode(
        help="""The token this server presents to the service. Default: the JupyterHub API
        token the hub gave this server ($JUPYTERHUB_API_TOKEN).""",
    )

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @property
    def service_path(self) -> str:
        return urlsplit(self.service_url).path

    def url(self, path: str, query: str = "", websocket: bool = False) -> str:
        url = f"{self.service_url}api/muscode/v1/{path}" + (f"?{query}" if query else "")
        return "ws" + url[4:] if websocket else url

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    async def start(self) -> None:
        """Nothing to start: the relay holds no connection between requests."""

    async def stop(self) -> None:
        """Nothing to stop (see :meth:`start`)."""


def _query(query: str) -> str:
    """The query string without this server's own credentials (never relayed)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k not in ("token", "_xsrf")])


def _safe(path: str) -> str:
    """``path`` if it stays under the API (no dot segments, no empty ones)."""
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) and path != "":
        raise web.HTTPError(404, "not a MUSCode API path")
    return path


class _RelayMixin(ExtensionHandlerMixin):
    auth_resource = AUTH_RESOURCE

    @property
    def relay(self) -> Relay:
        relay = getattr(self.extensionapp, "relay", None)
        assert isinstance(relay, Relay)
        return relay


class RelayHandler(_RelayMixin, APIHandler):
    """Every REST verb of ``api/muscode/v1/...``, passed on to the service."""

    def check_xsrf_cookie(self) -> None:
        # Checked after authentication, as Jupyter Server itself does (see base.py).
        if not hasattr(self, "_jupyter_current_user"):
            return
        super().check_xsrf_cookie()

    async def _relay(self, path: str) -> None:
        method = self.request.method or "GET"
        headers = {k: v for k in FORWARDED if (v := self.request.headers.get(k))}
        headers.update(self.relay.headers())
        request = httpclient.HTTPRequest(
            self.relay.url(_safe(path), _query(self.request.query)),
            method=method,
            headers=headers,
            body=self.request.body if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=TIMEOUT,
        )
        try:
            reply = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as e:
            reply = None
            problem = str(e)
        if reply is None or reply.code == 599:
            if reply is not None:
                problem = str(reply.error)
            self.log.warning("MUSCode service %s unreachable: %s", self.relay.service_url, problem)
            self.set_status(503)
            self.finish(
                json.dumps(
                    {
                        "message": "the MUSCode service is unreachable; try again in a moment",
                        "reason": "muscode_service",
                    }
                )
            )
            return
        self.set_status(reply.code, reply.reason)
        for name in RETURNED:
            value = reply.headers.get(name)
            if value is None:
                continue
            if name == "Location" and value.startswith(self.relay.service_path):
                value = self.base_url.rstrip("/") + "/" + value[len(self.relay.service_path) :]
            self.set_header(name, value)
        content_type = reply.headers.get("Content-Type", "application/json")
        self.finish(reply.body or b"", set_content_type=content_type)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def get(self, path: str) -> None:
        await self._relay(path)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def post(self, path: str) -> None:
        await self._relay(path)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def put(self, path: str) -> None:
        await self._relay(path)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def patch(self, path: str) -> None:
        await self._relay(path)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def delete(self, path: str) -> None:
        await self._relay(path)


class RelayWebsocketHandler(_RelayMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """A relayed websocket (a run's stream, ``/events``): frames pass both ways as they
    are; either side closing closes the other."""

    upstream: WebSocketClientConnection | None = None

    def set_default_headers(self) -> None:
        pass  # JupyterHandler's page headers do not apply to a websocket upgrade

    @ws_authenticated
    async def get(self, path: str) -> None:
        self.path_ = _safe(path)
        await super().get(path)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()
        request = httpclient.HTTPRequest(
            self.relay.url(self.path_, _query(self.request.query), websocket=True),
            headers=self.relay.headers(),
            request_timeout=30,
        )
        try:
            self.upstream = await websocket_connect(request, max_message_size=MAX_MESSAGE * 16)
        except Exception as e:
            code = getattr(e, "code", 0)
            self.log.warning("MUSCode service websocket %s refused: %s", self.path_, e)
            self.close(4000 + code if 400 <= code < 600 else 1011, "the MUSCode service refused")
            return
        self._pump = asyncio.create_task(self._downstream(self.upstream))

    async def _downstream(self, upstream: WebSocketClientConnection) -> None:
        try:
            while True:
                message = await upstream.read_message()
                if message is None:
                    code = upstream.close_code or 1000
                    self.close(code, upstream.close_reason)
                    return
                await self.write_message(message, binary=isinstance(message, bytes))
        except (WebSocketClosedError, asyncio.CancelledError):
            pass

    async def on_message(self, message: str | bytes) -> None:
        if len(message) > MAX_MESSAGE:
            self.close(1009, "message too big")
            return
        if self.upstream is not None:
            with contextlib.suppress(WebSocketClosedError):
                await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.cancel()
        if self.upstream is not None:
            self.upstream.close()


_WS_PATHS = r"(?P<path>executions/[^/]+/stream|events|collab/[^/]+)"

relay_handlers = [
    (rf"{API_PREFIX}/{_WS_PATHS}", RelayWebsocketHandler),
    (rf"{API_PREFIX}/(?P<path>.*)", RelayHandler),
]
