"""Who the caller is and what they may do: the one place identity and permissions live.

Three ways in:

- the Jupyter user (token or cookie) of the server MUSCode runs in. On an embedded
  server (not under JupyterHub) that person is the server's owner and an admin;
- the JupyterHub user, when the server runs under the hub (its ``admin`` flag and
  ``groups`` come from the hub's user model);
- ``Authorization: Bearer <JWT>``: a MUSCode token (HS256 with ``jwt_secret``; claims
  ``sub``, ``scopes``, ``exp``, optional ``jti``). Bad, expired, foreign-key, ``alg:
  none`` and revoked tokens are refused with 401, never passed on to Jupyter's own
  token check.

Handlers get a :class:`Caller`; services decide with its scopes and roles.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import jwt
from jupyter_core.utils import ensure_async
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User as JupyterUser
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .errors import Forbidden, Unauthorized
from .names import check_setting, user_name_problem
from .store import Database, RevokedToken, User

log = logging.getLogger(__name__)

#: Every scope a MUSCode credential can carry (API.md, "Auth").
ALL_SCOPES: tuple[str, ...] = (
    "execute",
    "projects",
    "classes:read",
    "classes:write",
    "grade",
    "admin",
)
#: What a signed-in person may do; their roles in each class narrow it further.
USER_SCOPES = frozenset(s for s in ALL_SCOPES if s != "admin")

#: JupyterHub custom scopes (hub_config/jupyterhub_config.py) and the MUSCode scope each
#: grants. Hub roles hand them out: every user the student ones, the `instructor` role
#: also classes-write and grade.
HUB_SCOPES: dict[str, str] = {
    "custom:muscode:execute": "execute",
    "custom:muscode:projects": "projects",
    "custom:muscode:classes-read": "classes:read",
    "custom:muscode:classes-write": "classes:write",
    "custom:muscode:grade": "grade",
}
#: What a hub user may do when their hub grants no MUSCode scope at all: a student's.
HUB_DEFAULT_SCOPES = frozenset({"execute", "projects", "classes:read"})

JWT_ALGORITHM = "HS256"
# A JWT is three base64url parts; anything else after "Bearer" is Jupyter's own token.
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)

PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "password", "placeholder", "xxx", "test"}
)
MIN_SECRET_LENGTH = 32


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` may not sign tokens, or None when it is fine."""
    stripped = secret.strip()
    if not stripped:
        return "the JWT secret is empty"
    lowered = stripped.lower()
    if lowered in PLACEHOLDER_SECRETS or "changeme" in lowered.replace("-", "").replace("_", ""):
        return "the JWT secret is a placeholder"
    if len(stripped) < MIN_SECRET_LENGTH:
        return f"the JWT secret is shorter than {MIN_SECRET_LENGTH} characters"
    return None


@dataclass(frozen=True)
class Caller:
    """The authenticated party of one request."""

    name: str
    admin: bool
    scopes: frozenset[str]
    via: Literal["jupyter", "hub", "token"]
    groups: tuple[str, ...] = ()
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        """Raise 403 unless the credential carries ``scope``."""
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the {scope!r} scope", reason="missing_scope")

    def require_admin(self) -> None:
        if not self.admin:
            raise Forbidden("only a MUSCode admin may do this", reason="not_admin")

    def can_see_owner(self, owner: str) -> bool:
        """May the caller see objects owned by ``owner``? (Class roles come later.)"""
        return owner == self.name or self.admin

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "admin": self.admin, "scopes": sorted(self.scopes)}


class TokenAuthority:
    """Issues and verifies MUSCode bearer tokens."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(
        self,
        sub: str,
        scopes: Iterable[str],
        *,
        expires_in: timedelta = timedelta(hours=1),
        jti: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Return (token, claims). ``ValueError`` when ``sub`` is not a valid user name
        (reserved names such as the grader's among them)."""
        problem = user_name_problem(sub)
        if problem is not None:
            raise ValueError(f"no token for this subject: {problem}")
        now = datetime.now(timezone.utc)
        claims: dict[str, Any] = {
            "sub": sub,
            "scopes": sorted(set(scopes)),
            "iat": int(now.timestamp()),
            "exp": int((now + expires_in).timestamp()),
            "jti": jti or uuid.uuid4().hex,
        }
        if extra:
            claims.update(extra)
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM), claims

    def verify(self, token: str) -> dict[str, Any]:
        """Decode and check a token's signature, algorithm, expiry and claim shapes."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sub", "exp", "scopes"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the bearer token has expired", reason="token_expired") from None
        except jwt.InvalidTokenError as e:
            raise Unauthorized(f"invalid bearer token: {e}", reason="invalid_token") from None
        sub, scopes = claims.get("sub"), claims.get("scopes")
        problem = user_name_problem(sub)
        if problem is not None:
            # Reserved names (the grader's) and malformed ones never act as a user.
            raise Unauthorized(
                f"invalid bearer token: 'sub' is not a user name ({problem})",
                reason="invalid_token",
            )
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise Unauthorized(
                "invalid bearer token: 'scopes' must be a list of strings", reason="invalid_token"
            )
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown:
            raise Unauthorized(
                f"invalid bearer token: unknown scope(s) {', '.join(unknown)}",
                reason="invalid_token",
            )
        jti = claims.get("jti")
        if jti is not None and not isinstance(jti, str):
            raise Unauthorized(
                "invalid bearer token: 'jti' must be a string", reason="invalid_token"
            )
        return claims


def bearer_token(authorization: str | None) -> str | None:
    """The JWT in an ``Authorization: Bearer`` header, or None if there is none.

    A Bearer value that is not JWT-shaped is Jupyter's own token and is left to it.
    """
    if not authorization:
        return None
    m = _BEARER.match(authorization)
    if not m or not _JWT_SHAPE.match(m.group(1)):
        return None
    return m.group(1)


class Authenticator:
    """Turns a request's credentials into a :class:`Caller` and records users."""

    def __init__(
        self,
        db: Database,
        authority: TokenAuthority | None,
        *,
        admin_users: Iterable[str] = (),
        embedded_user: str | None = None,
    ) -> None:
        """``embedded_user``: on an embedded server (not under JupyterHub), the name of
        the one person using it; Jupyter's token login is anonymous, so every request
        authenticated by Jupyter is that person. None when running under the hub.

        ``ValueError("admin_users: ...")`` (or ``embedded_user``) when a configured name
        is not a valid user name."""
        admin_users = frozenset(admin_users)
        check_setting("admin_users", admin_users)
        check_setting("embedded_user", embedded_user)
        self.db = db
        self.authority = authority
        self.admin_users = admin_users
        self.embedded_user = embedded_user
        self._seen: set[str] = set()

    async def from_bearer(self, token: str) -> Caller:
        if self.authority is None:
            raise Unauthorized(
                "bearer tokens are disabled on this server", reason="tokens_disabled"
            )
        claims = self.authority.verify(token)
        jti = claims.get("jti")
        if jti is not None and await self.is_revoked(jti):
            raise Unauthorized("the bearer token has been revoked", reason="token_revoked")
        name = claims["sub"]
        scopes = frozenset(claims["scopes"])
        await self.record_user(name)
        return Caller(
            name=name,
            admin="admin" in scopes and name in self.admin_users,
            scopes=scopes,
            via="token",
            token_id=jti,
            claims=claims,
        )

    async def from_jupyter_user(self, user: Any) -> Caller:
        name = getattr(user, "username", None) or getattr(user, "name", None)
        hub_model = getattr(user, "hub_user", None)
        if self.embedded_user is not None and not isinstance(hub_model, dict):
            name = self.embedded_user
        if not isinstance(name, str) or not name:
            raise Unauthorized("the server could not tell who you are")
        problem = user_name_problem(name)
        if problem is not None:
            raise Forbidden(
                f"MUSCode cannot serve this user name: {problem}", reason="invalid_user_name"
            )
        scopes: frozenset[str] = USER_SCOPES
        if isinstance(hub_model, dict):
            admin = bool(hub_model.get("admin")) or name in self.admin_users
            groups = tuple(hub_model.get("groups") or ())
            via: Literal["jupyter", "hub"] = "hub"
            # Under the hub, MUSCode powers come from the hub's roles (custom scopes);
            # without any, a hub user is a student.
            granted = {HUB_SCOPES[s] for s in hub_model.get("scopes") or () if s in HUB_SCOPES}
            scopes = frozenset(granted) or HUB_DEFAULT_SCOPES
            if admin:
                scopes = USER_SCOPES
        else:
            admin = self.embedded_user is not None or name in self.admin_users
            groups = ()
            via = "jupyter"
        await self.record_user(name)
        if admin:
            scopes = scopes | {"admin"}
        return Caller(name=name, admin=admin, scopes=frozenset(scopes), via=via, groups=groups)

    async def is_revoked(self, jti: str) -> bool:
        async with self.db.session() as s:
            return (await s.get(RevokedToken, jti)) is not None

    async def revoke(self, jti: str, expires_at: datetime | None = None) -> None:
        async with self.db.session() as s:
            if await s.get(RevokedToken, jti) is None:
                s.add(RevokedToken(jti=jti, expires_at=expires_at))

    async def record_user(self, name: str) -> None:
        """Record ``name`` in the users table the first time this process sees it."""
        if name in self._seen:
            return
        try:
            async with self.db.session() as s:
                found = await s.scalar(select(User.name).where(User.name == name))
                if found is None:
                    s.add(User(name=name))
        except IntegrityError:
            pass  # another request recorded it first
        self._seen.add(name)


class BearerIdentityProvider:
    """Wraps the server's identity provider so MUSCode bearer tokens are checked first.

    Only MUSCode's handlers see this wrapper; the rest of the server is unchanged.
    """

    def __init__(self, inner: Any, authenticator: Authenticator) -> None:
        self._inner = inner
        self._authenticator = authenticator

    async def get_user(self, handler: Any) -> JupyterUser | None:
        token = bearer_token(handler.request.headers.get("Authorization"))
        if token is None:
            user: JupyterUser | None = await ensure_async(self._inner.get_user(handler))
            return user
        caller = await self._authenticator.from_bearer(token)
        handler._muscode_caller = caller
        # A bearer token is not a cookie: XSRF checks do not apply, as for Jupyter tokens.
        handler._token_authenticated = True
        return JupyterUser(username=caller.name, name=caller.name, display_name=caller.name)

    def is_token_authenticated(self, handler: Any) -> bool:
        if getattr(handler, "_muscode_caller", None) is not None:
            return True
        return bool(self._inner.is_token_authenticated(handler))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


#: The Jupyter authorization resource of every MUSCode handler (``handlers.base``).
MUSCODE_RESOURCE = "muscode"


class ServiceAuthorizer(Authorizer):
    """Authorizer of MUSCode run as a shared service (JupyterHub's ``muscode``).

    Every signed-in user may use MUSCode's API, whose own checks then apply, and nothing
    else of the Jupyter Server it runs in: kernels, terminals, files and the event
    stream would run code or read data as the service, beside its database, Redis and
    Docker credentials. Not for a single-user server, whose owner uses all of it.
    """

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == MUSCODE_RESOURCE


def running_under_hub() -> bool:
    """True when this server was started by JupyterHub (as a user server or service)."""
    return bool(os.environ.get("JUPYTERHUB_API_TOKEN") or os.environ.get("JUPYTERHUB_API_URL"))
