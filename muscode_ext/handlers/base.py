"""What every MUSCode handler shares: auth wiring, JSON in and out, the error mapping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado import web

from ..auth import Caller
from ..errors import BadRequest, Invalid, MuscodeError, Unauthorized, UnsupportedMediaType
from ..server import MuscodeServer
from .bodies import BodyLimitMixin

API_PREFIX = "/api/muscode/v1"
#: Every handler checks permissions against this Jupyter authorization resource.
AUTH_RESOURCE = "muscode"

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def api(method: F) -> F:
    """Authenticate and authorize one REST verb (``@web.authenticated`` + ``@authorized``).

    Every verb of every MUSCode REST handler carries this; a test walks the handler
    table and fails on any that does not.
    """
    wrapped = web.authenticated(authorized(resource=AUTH_RESOURCE)(method))
    wrapped.__muscode_auth__ = True  # type: ignore[attr-defined]
    return cast("F", wraps(method)(wrapped))


def websocket(method: F) -> F:
    """Authenticate a websocket's upgrade (``@ws_authenticated``); the handler then
    checks the ``execute`` permission itself before upgrading."""
    wrapped = ws_authenticated(method)
    wrapped.__muscode_auth__ = True  # type: ignore[attr-defined]
    return cast("F", wrapped)


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


if TYPE_CHECKING:
    _HandlerBase = JupyterHandler
else:
    _HandlerBase = object


class MuscodeMixin(ExtensionHandlerMixin, _HandlerBase):
    """What REST and websocket handlers share: identity, errors, JSON helpers."""

    auth_resource = AUTH_RESOURCE
    _caller: Caller | None = None

    @property
    def muscode(self) -> MuscodeServer:
        """What MUSCode runs in this server: its services, and who may do what."""
        server = getattr(self.extensionapp, "server", None)
        assert isinstance(server, MuscodeServer), "MUSCode's handlers run only where it does"
        return server

    @property
    def identity_provider(self) -> Any:
        return self.muscode.identity_provider_for(self.settings["identity_provider"])

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().prepare(*args, **kwargs)
        except web.HTTPError as e:
            # Jupyter answers a missing login with 403 on non-GET verbs; an API says 401.
            if e.status_code == 403 and self.current_user is None:
                raise Unauthorized(
                    "authentication required: send a Jupyter token or a MUSCode bearer token",
                    reason="unauthenticated",
                ) from None
            raise
        self._caller: Caller | None = getattr(self, "_muscode_caller", None)
        if self._caller is None and self.current_user is not None:
            self._caller = await self.muscode.authenticator.from_jupyter_user(self.current_user)

    def check_xsrf_cookie(self) -> None:
        # Tornado checks XSRF before prepare() has authenticated the request. Jupyter
        # Server's own check waits for the user; JupyterHub's OAuth patch of it (under
        # the hub) does not, and would refuse token-authenticated POSTs. Defer to after
        # authentication, as Jupyter Server does; prepare() checks again then.
        if not hasattr(self, "_jupyter_current_user"):
            return
        super().check_xsrf_cookie()

    @property
    def caller(self) -> Caller:
        if self._caller is None:  # only reachable from a handler that forgot @api
            raise Unauthorized("authentication required")
        return self._caller

    def get_login_url(self) -> str:
        # An API answers 401 with a sentence instead of redirecting to a login page.
        raise Unauthorized(
            "authentication required: send a Jupyter token or a MUSCode bearer token",
            reason="unauthenticated",
        )

    # -- input ----------------------------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a 400/415 that says what is wrong."""
        ctype = self.request.headers.get("Content-Type", "")
        if ctype and ctype.split(";")[0].strip().lower() != "application/json":
            raise UnsupportedMediaType(
                f"send the body as JSON with Content-Type: application/json (got {ctype!r})"
            )
        raw = self.request.body
        if not raw:
            raise BadRequest("the request needs a JSON body")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the request body is not valid UTF-8") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadRequest(
                f"the request body is not valid JSON: {e}", reason="malformed_json"
            ) from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def parse(self, model: type[M], data: dict[str, Any] | None = None) -> M:
        """Validate the JSON body against ``model`` (422 with per-field messages)."""
        body = self.json_body() if data is None else data
        try:
            return model.model_validate(body)
        except ValidationError as e:
            errors = [
                {"field": _field_name(tuple(err["loc"])), "message": _error_message(err)}
                for err in e.errors()
            ]
            summary = "; ".join(f"{x['field']}: {x['message']}" for x in errors[:5])
            raise Invalid(f"invalid request: {summary}", errors=errors) from None

    def query_bool(self, name: str) -> bool:
        value = self.get_query_argument(name, "false").strip().lower()
        if value in ("1", "true", "yes"):
            return True
        if value in ("", "0", "false", "no"):
            return False
        raise Invalid.field(name, "must be true or false")

    # -- output ---------------------------------------------------------------------

    def url(self, *parts: str) -> str:
        """An absolute path under this server's base URL and the API prefix."""
        return self.base_url.rstrip("/") + API_PREFIX + "".join("/" + p for p in parts)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    # -- errors ---------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MuscodeError):
            self.set_status(exc.status)
            for name, value in exc.headers.items():
                self.set_header(name, value)
            self.finish(json.dumps(exc.body(), ensure_ascii=False))
            return
        if isinstance(exc, web.HTTPError):
            reason = {
                401: "unauthorized",
                403: "forbidden",
                404: "not_found",
                405: "method_not_allowed",
            }.get(status_code, f"http_{status_code}")
            message = exc.log_message or exc.reason or f"HTTP {status_code}"
            self.finish(json.dumps({"message": message, "reason": reason}))
            return
        self.finish(
            json.dumps(
                {
                    "message": "MUSCode hit an internal error; it has been logged",
                    "reason": "internal_error",
                }
            )
        )

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # A caller's mistake is not a server error: one line, no traceback.
        if isinstance(value, MuscodeError):
            level = self.log.warning if value.status >= 500 else self.log.info
            level(
                "%s %s -> %d %s",
                self.request.method,
                self.request.path,
                value.status,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)


@web.stream_request_body  # bodies are read after auth, up to a cap: handlers/bodies.py
class MuscodeHandler(BodyLimitMixin, MuscodeMixin, APIHandler):
    """Base class of MUSCode's REST handlers."""

    def write_json(self, data: Any, status: int = 200, location: str | None = None) -> None:
        self.set_status(status)
        if location is not None:
            self.set_header("Location", location)
        self.finish(
            json.dumps(data, ensure_ascii=False), set_content_type="application/json; charset=UTF-8"
        )


def _error_message(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    return str(err.get("msg", "is invalid"))
