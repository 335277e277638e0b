"""Minted bearer tokens (``/tokens``): grader and script credentials.

A token is shown once, when minted; only its id (the JWT's ``jti``) and metadata are
stored. Its scopes never exceed the minter's, and a token cannot mint tokens (revoking
it would otherwise leave its children alive). Revoking puts the id on the denylist the
authenticator checks on every request, so it takes effect at once. Minting and revoking
(and refused attempts) are audit events that name the token by its id, never its value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import select

from ..audit import Audit
from ..auth import ALL_SCOPES, Caller, TokenAuthority
from ..errors import Forbidden, Invalid, NotFound
from ..names import user_name_problem
from ..store import Class, Database, Token
from ..store.models import new_id, utcnow
from .access import role_in

#: The longest life a minted token may have (seconds): 180 days.
MAX_EXPIRES_IN = 180 * 24 * 3600


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: StrictStr = Field(min_length=1, max_length=255)
    scopes: list[StrictStr] = Field(min_length=1)
    class_id: StrictStr | None = None
    expires_in: StrictInt = Field(gt=0, le=MAX_EXPIRES_IN, description="seconds")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def token_json(t: Token) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "owner": t.owner,
        "scopes": list(t.scopes),
        "class_id": t.class_id,
        "created_at": _iso(t.created_at),
        "expires_at": _iso(t.expires_at),
        "revoked_at": _iso(t.revoked_at),
    }


class TokenService:
    def __init__(
        self,
        db: Database,
        authority: TokenAuthority | None,
        revoke: Callable[[str, datetime | None], Awaitable[None]],
        audit: Audit | None = None,
    ) -> None:
        self.db = db
        self.authority = authority
        self._revoke = revoke
        self.audit = audit if audit is not None else Audit()

    async def create(self, caller: Caller, data: TokenCreate) -> dict[str, Any]:
        """Mint a token; the reply holds it, the only time it is ever shown."""
        with self.audit.recording(
            "token",
            "mint",
            caller,
            name=data.name,
            owner=caller.name,
            scopes=sorted(set(data.scopes)),
            class_id=data.class_id,
        ) as event:
            minted = await self._create(caller, data)
            event.update(subject_token_id=minted["id"], expires_at=minted["expires_at"])
            return minted

    async def _create(self, caller: Caller, data: TokenCreate) -> dict[str, Any]:
        if self.authority is None:
            raise Forbidden("bearer tokens are disabled on this server", reason="tokens_disabled")
        if caller.via == "token":
            raise Forbidden(
                "a bearer token cannot mint tokens; sign in to mint one", reason="token_minting"
            )
        problem = user_name_problem(caller.name)
        if problem is not None:  # unreachable through the checked ways in; kept as a rule
            raise Forbidden(f"no token can name this user: {problem}", reason="invalid_user_name")
        unknown = sorted(set(data.scopes) - set(ALL_SCOPES))
        if unknown:
            raise Invalid.field("scopes", f"unknown scope(s): {', '.join(unknown)}")
        beyond = sorted(set(data.scopes) - caller.scopes)
        if beyond:
            raise Forbidden(
                f"a token cannot carry scopes you lack: {', '.join(beyond)}",
                reason="scope_exceeds_caller",
            )
        if data.class_id is not None:
            async with self.db.session() as s:
                c = await s.get(Class, data.class_id)
                role = await role_in(s, data.class_id, caller.name)
            if c is None or c.deleted_at is not None or (role is None and not caller.admin):
                raise NotFound(f"class {data.class_id} not found", reason="class_not_found")
            if role != "instructor" and not caller.admin:
                raise Forbidden(
                    "only the class's instructors may mint tokens bound to it",
                    reason="not_instructor",
                )
        token_id = new_id()
        now = utcnow()
        lifetime = timedelta(seconds=data.expires_in)
        extra = {"class_id": data.class_id} if data.class_id is not None else None
        token, _ = self.authority.issue(
            caller.name, data.scopes, expires_in=lifetime, jti=token_id, extra=extra
        )
        row = Token(
            id=token_id,
            owner=caller.name,
            name=data.name,
            scopes=sorted(set(data.scopes)),
            class_id=data.class_id,
            created_at=now,
            expires_at=now + lifetime,
        )
        async with self.db.session() as s:
            s.add(row)
        return {**token_json(row), "token": token}

    async def list_tokens(self, caller: Caller) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Token).where(Token.owner == caller.name).order_by(Token.created_at)
            )
            return [token_json(t) for t in rows]

    async def revoke(self, caller: Caller, token_id: str) -> None:
        with self.audit.recording(
            "token", "revoke", caller, subject_token_id=token_id[:64]
        ) as event:
            async with self.db.session() as s:
                t = await s.get(Token, token_id)
                if t is None or (t.owner != caller.name and not caller.admin):
                    raise NotFound(f"token {token_id} not found", reason="token_not_found")
                if t.revoked_at is None:
                    t.revoked_at = utcnow()
                expires_at = t.expires_at
                event.update(name=t.name, owner=t.owner, scopes=list(t.scopes))
                event.update(class_id=t.class_id)
            await self._revoke(token_id, expires_at)
