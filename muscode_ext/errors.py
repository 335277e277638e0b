"""Domain errors: what services raise, mapped once to HTTP by ``handlers.base``.

Each error carries a sentence for the user (what went wrong and what to fix), a
machine ``reason`` and the HTTP status it maps to. Validation errors also carry
per-field messages.
"""

from __future__ import annotations

from typing import Any


class MuscodeError(Exception):
    """Base of every error a caller may see. ``status`` is the HTTP status."""

    status = 500
    reason = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "reason": self.reason}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class BadRequest(MuscodeError):
    status = 400
    reason = "bad_request"


class Unauthorized(MuscodeError):
    status = 401
    reason = "unauthorized"


class Forbidden(MuscodeError):
    status = 403
    reason = "forbidden"


class NotFound(MuscodeError):
    status = 404
    reason = "not_found"


class Conflict(MuscodeError):
    status = 409
    reason = "conflict"


class TooLarge(MuscodeError):
    status = 413
    reason = "too_large"


class UnsupportedMediaType(MuscodeError):
    status = 415
    reason = "unsupported_media_type"


class Invalid(MuscodeError):
    """A well-formed request whose content cannot be accepted (422)."""

    status = 422
    reason = "invalid"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class RateLimited(MuscodeError):
    status = 429
    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class DependencyDown(MuscodeError):
    """A service MUSCode needs is unreachable (503); ``reason`` names it."""

    status = 503

    def __init__(
        self, dependency: str, message: str | None = None, *, reason: str | None = None
    ) -> None:
        super().__init__(
            message or f"the {dependency} is unavailable; try again shortly",
            reason=reason or f"{dependency}_unavailable",
        )
        self.dependency = dependency
