"""Request bodies of MUSCode's REST routes: capped, and read only for a known caller.

Tornado, and so Jupyter Server, reads a whole request body into memory (up to
``ServerApp.max_body_size``, 512 MiB by default) before a handler runs. MUSCode's REST
handlers take their bodies as a stream instead (``@web.stream_request_body`` on
``MuscodeHandler``), so ``prepare()`` decides from the headers alone, before a byte of
the body is read:

- no credentials: 401 and the connection is closed; nothing of the body is kept;
- a ``Content-Length`` over the route's cap: 413 with a message, the same way;
- otherwise the body is gathered up to the cap; a chunked body that passes it is
  answered with 413 at that point and the connection closed.

A client that sends ``Expect: 100-continue`` gets those answers without sending its
body; one that sends its body at once may see the connection reset instead of the
answer once it has gone (the answer is sent first). Caps: ``MuscodeApp.max_body_size``
(2 MiB) for most routes, ``MuscodeApp.max_upload_body_size`` (20 MiB) for the routes
that carry files and programs (``body_cap = UPLOAD``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import TooLarge, Unauthorized

if TYPE_CHECKING:
    from jupyter_server.extension.handler import ExtensionHandlerMixin
    from tornado.web import RequestHandler

    class _Base(ExtensionHandlerMixin, RequestHandler):
        """What the mixin needs of the handler it is mixed into."""

        async def prepare(self, *args: Any, **kwargs: Any) -> None: ...

else:
    _Base = object

#: ``body_cap`` of the routes that carry files and programs.
UPLOAD = "upload"
#: ``body_cap`` of every other route.
JSON = "json"


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def too_large(limit: int, size: int | None = None) -> TooLarge:
    what = f"the request body is {_size(size)}" if size else "the request body is too large"
    return TooLarge(
        f"{what}; this endpoint takes at most {_size(limit)} ({limit} bytes)",
        reason="body_too_large",
    )


class BodyLimitMixin(_Base):
    """Caps and gates the body of a ``@web.stream_request_body`` MUSCode handler."""

    #: Which cap applies: ``JSON`` (``max_body_size``) or ``UPLOAD`` (``max_upload_body_size``).
    body_cap: ClassVar[str] = JSON
    _body: bytearray | None = None
    _body_limit = 0

    def body_limit(self) -> int:
        app: Any = self.extensionapp  # the caps are the application's settings
        return app.max_upload_body_size if self.body_cap == UPLOAD else app.max_body_size

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await super().prepare(*args, **kwargs)
        self._accept_body()

    def _accept_body(self) -> None:
        """Decide, from the headers and the caller, whether the body is read at all."""
        self.request.body = b""
        headers = self.request.headers
        declared = headers.get("Content-Length", "").strip()
        length = int(declared) if declared.isdigit() else 0
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        if length == 0 and not chunked:
            return
        if self.current_user is None:
            raise Unauthorized(
                "authentication required: send a Jupyter token or a MUSCode bearer token",
                reason="unauthenticated",
            )
        limit = self.body_limit()
        if length > limit:
            raise too_large(limit, length)
        # MUSCode's cap, not the server's, governs this request (a chunked body gets
        # room to pass the cap, so that data_received answers it with a message).
        set_max_body_size = getattr(self.request.connection, "set_max_body_size", None)
        if set_max_body_size is not None:  # HTTP/1 connections (all Tornado serves)
            set_max_body_size(2 * limit if chunked else limit)
        self._body_limit = limit
        self._body = bytearray()
        self.request.body = self._body  # type: ignore[assignment]  # filled as it arrives

    def data_received(self, chunk: bytes) -> None:
        body = self._body
        if body is None:
            return  # refused, or there was to be no body: dropped unread
        if len(body) + len(chunk) > self._body_limit:
            self._body = None
            self.request.body = b""
            error = too_large(self._body_limit)
            self.log.info("%s %s -> 413 %s", self.request.method, self.request.path, error)
            self.send_error(error.status, exc_info=(type(error), error, None))
            return
        body.extend(chunk)
