"""Classes and their rosters: the domain rules behind ``/classes``.

A class is visible to its members and to admins; anyone else gets 404. Only the class's
instructors and admins change it or its roster. Under JupyterHub every class is mirrored
by a hub group named after its slug: the hub is changed first, so a hub that is down
(503) leaves MUSCode's database unchanged. Every change, and every refused attempt at
one, is an audit event (``audit.py``).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Audit
from ..auth import Caller
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..hub import HubClient
from ..store import Class, Database, Membership, User
from ..store.models import utcnow

Role = Literal["student", "ta", "instructor"]
ROLES: tuple[str, ...] = ("student", "ta", "instructor")
#: Roles that may read the projects of their class's students.
STAFF_ROLES = frozenset({"ta", "instructor"})

# Lower-case letters, digits and inner dashes: safe as a hub group name and in URLs.
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# JupyterHub user names: no slashes, whitespace or control characters.
_USER = re.compile(r"^[^/\s\x00-\x1f\x7f]{1,255}$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ClassCreate(_Input):
    slug: StrictStr
    name: StrictStr = Field(min_length=1, max_length=255)
    term: StrictStr = Field(default="", max_length=64)


class ClassUpdate(_Input):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    term: StrictStr | None = Field(default=None, max_length=64)


class MemberInput(_Input):
    name: StrictStr
    role: Role = "student"


class MembersAdd(_Input):
    members: list[MemberInput] = Field(min_length=1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def class_json(c: Class, role: str | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "slug": c.slug,
        "name": c.name,
        "term": c.term,
        "created_at": _iso(c.created_at),
        "role": role,
    }


def check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise Invalid.field(
            "slug",
            "use 1 to 64 lower-case letters, digits and inner dashes (e.g. cs101-fall)",
        )
    return slug


def check_user_name(name: str, field: str = "name") -> str:
    if not _USER.match(name):
        raise Invalid.field(field, f"{name!r} is not a valid user name")
    return name


async def role_in(s: AsyncSession, class_id: str, user: str) -> str | None:
    """``user``'s role in the live class ``class_id``, or None."""
    row = await s.execute(
        select(Membership.role)
        .join(Class, Class.id == Membership.class_id)
        .where(
            Membership.class_id == class_id,
            Membership.user_name == user,
            Class.deleted_at.is_(None),
        )
    )
    return row.scalar_one_or_none()


def token_class(caller: Caller) -> str | None:
    """The class a bearer token is bound to (its ``class_id`` claim), if any."""
    value = caller.claims.get("class_id")
    return value if isinstance(value, str) else None


class ClassService:
    """Classes and memberships; mirrors them to hub groups when ``hub`` is given."""

    def __init__(
        self, db: Database, hub: HubClient | None = None, audit: Audit | None = None
    ) -> None:
        self.db = db
        self.hub = hub
        self.audit = audit if audit is not None else Audit()

    # -- checks ---------------------------------------------------------------------

    async def _class(
        self, s: AsyncSession, caller: Caller, class_id: str
    ) -> tuple[Class, str | None]:
        """The live class and the caller's role in it; 404 unless member or admin."""
        c = await s.get(Class, class_id)
        bound = token_class(caller)
        role = await role_in(s, class_id, caller.name) if c is not None else None
        if (
            c is None
            or c.deleted_at is not None
            or (role is None and not caller.admin)
            or (bound is not None and bound != class_id)
        ):
            raise NotFound(f"class {class_id} not found", reason="class_not_found")
        return c, role

    @staticmethod
    def _require_manager(caller: Caller, role: str | None) -> None:
        caller.require("classes:write")
        if not caller.admin and role != "instructor":
            raise Forbidden(
                "only the class's instructors and admins may change it", reason="not_instructor"
            )

    @staticmethod
    async def _ensure_users(s: AsyncSession, names: list[str]) -> None:
        found = set(await s.scalars(select(User.name).where(User.name.in_(names))))
        for name in names:
            if name not in found:
                s.add(User(name=name))
        await s.flush()

    # -- classes --------------------------------------------------------------------

    async def list_classes(self, caller: Caller) -> list[dict[str, Any]]:
        caller.require("classes:read")
        async with self.db.session() as s:
            roles = dict(
                (
                    await s.execute(
                        select(Membership.class_id, Membership.role).where(
                            Membership.user_name == caller.name
                        )
                    )
                ).all()
            )
            q = select(Class).where(Class.deleted_at.is_(None))
            if not caller.admin:
                q = q.where(Class.id.in_(list(roles)))
            bound = token_class(caller)
            if bound is not None:
                q = q.where(Class.id == bound)
            rows = await s.scalars(q.order_by(Class.slug))
            return [class_json(c, roles.get(c.id)) for c in rows]

    async def classes_of(self, name: str) -> list[dict[str, Any]]:
        """``[{"id", "slug", "role"}]`` of the live classes ``name`` belongs to (for /me)."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(Class.id, Class.slug, Membership.role)
                .join(Membership, Membership.class_id == Class.id)
                .where(Membership.user_name == name, Class.deleted_at.is_(None))
                .order_by(Class.slug)
            )
            return [{"id": i, "slug": slug, "role": role} for i, slug, role in rows.all()]

    async def create(self, caller: Caller, data: ClassCreate) -> dict[str, Any]:
        """Create a class; the creator becomes its instructor."""
        with self.audit.recording("class", "create", caller, slug=data.slug[:64]) as event:
            created = await self._create(caller, data)
            event["class_id"] = created["id"]
            return created

    async def _create(self, caller: Caller, data: ClassCreate) -> dict[str, Any]:
        caller.require("classes:write")
        if token_class(caller) is not None:
            raise Forbidden("a class-bound token cannot create classes", reason="token_bound")
        slug = check_slug(data.slug)
        async with self.db.session() as s:
            if await s.scalar(select(Class.id).where(Class.slug == slug)) is not None:
                raise Conflict(f"a class with slug {slug!r} exists already", reason="class_exists")
        if self.hub is not None:
            await self.hub.ensure_group(slug)
            await self.hub.add_to_group(slug, [caller.name])
        now = utcnow()
        c = Class(slug=slug, name=data.name, term=data.term, created_at=now)
        try:
            async with self.db.session() as s:
                s.add(c)
                await s.flush()
                await self._ensure_users(s, [caller.name])
                s.add(
                    Membership(
                        class_id=c.id, user_name=caller.name, role="instructor", created_at=now
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"a class with slug {slug!r} exists already", reason="class_exists"
            ) from None
        return class_json(c, "instructor")

    async def get(self, caller: Caller, class_id: str) -> dict[str, Any]:
        caller.require("classes:read")
        async with self.db.session() as s:
            c, role = await self._class(s, caller, class_id)
            return class_json(c, role)

    async def update(self, caller: Caller, class_id: str, data: ClassUpdate) -> dict[str, Any]:
        fields = sorted(data.model_dump(exclude_unset=True))
        with self.audit.recording("class", "update", caller, class_id=class_id, fields=fields):
            return await self._update(caller, class_id, data)

    async def _update(self, caller: Caller, class_id: str, data: ClassUpdate) -> dict[str, Any]:
        changes = data.model_dump(exclude_unset=True)
        if not changes:
            raise Invalid(
                "send at least one of name, term to change",
                errors=[{"field": "body", "message": "no field to change"}],
            )
        async with self.db.session() as s:
            c, role = await self._class(s, caller, class_id)
            self._require_manager(caller, role)
            if data.name is not None:
                c.name = data.name
            if data.term is not None:
                c.term = data.term
            await s.flush()
            return class_json(c, role)

    async def delete(self, caller: Caller, class_id: str) -> None:
        with self.audit.recording("class", "delete", caller, class_id=class_id) as event:
            async with self.db.session() as s:
                c, role = await self._class(s, caller, class_id)
                event["slug"] = c.slug
                self._require_manager(caller, role)
                if self.hub is not None:
                    await self.hub.delete_group(c.slug)
                c.deleted_at = utcnow()

    # -- members --------------------------------------------------------------------

    async def members(self, caller: Caller, class_id: str) -> list[dict[str, Any]]:
        """The roster; staff and admins only (students see only their own class entry)."""
        caller.require("classes:read")
        async with self.db.session() as s:
            _, role = await self._class(s, caller, class_id)
            if not caller.admin and role not in STAFF_ROLES:
                raise Forbidden("only the class's staff may see its roster", reason="not_staff")
            return await self._roster(s, class_id)

    @staticmethod
    async def _roster(s: AsyncSession, class_id: str) -> list[dict[str, Any]]:
        rows = await s.execute(
            select(Membership.user_name, Membership.role)
            .where(Membership.class_id == class_id)
            .order_by(Membership.user_name)
        )
        return [{"name": n, "role": r} for n, r in rows.all()]

    async def add_members(
        self, caller: Caller, class_id: str, members: list[MemberInput]
    ) -> list[dict[str, Any]]:
        """Enrol people (or change their role); returns the whole roster."""
        with self.audit.recording("roster", "add", caller, class_id=class_id) as event:
            return await self._add_members(caller, class_id, members, event)

    async def _add_members(
        self, caller: Caller, class_id: str, members: list[MemberInput], event: dict[str, Any]
    ) -> list[dict[str, Any]]:
        wanted: dict[str, str] = {}
        for i, m in enumerate(members):
            name = check_user_name(m.name, f"members[{i}].name")
            if name in wanted:
                raise Invalid.field(f"members[{i}].name", f"{name!r} is listed twice")
            wanted[name] = m.role
        event["members"] = [{"name": n, "role": r} for n, r in wanted.items()]
        async with self.db.session() as s:
            c, role = await self._class(s, caller, class_id)
            event["slug"] = c.slug
            self._require_manager(caller, role)
            if self.hub is not None:
                await self.hub.add_to_group(c.slug, list(wanted))
            await self._ensure_users(s, list(wanted))
            existing = {
                m.user_name: m
                for m in await s.scalars(
                    select(Membership).where(
                        Membership.class_id == class_id, Membership.user_name.in_(list(wanted))
                    )
                )
            }
            now = utcnow()
            for name, new_role in wanted.items():
                if name in existing:
                    existing[name].role = new_role
                else:
                    s.add(
                        Membership(class_id=class_id, user_name=name, role=new_role, created_at=now)
                    )
            await s.flush()
            return await self._roster(s, class_id)

    async def import_roster(self, caller: Caller, class_id: str, text: str) -> list[dict[str, Any]]:
        """Enrol from a CSV roster with the header ``name,role`` (role may be empty:
        student). Every bad line is reported with its line number; nothing is changed
        unless all lines are good."""
        with self.audit.recording("roster", "import", caller, class_id=class_id) as event:
            members = self._parse_roster(text)
            return await self._add_members(caller, class_id, members, event)

    @staticmethod
    def _parse_roster(text: str) -> list[MemberInput]:
        reader = csv.reader(io.StringIO(text))
        rows = list(reader)
        if not rows or [h.strip().lower() for h in rows[0]][:2] != ["name", "role"]:
            raise Invalid.field("line 1", "the first line must be the header 'name,role'")
        errors: list[dict[str, str]] = []
        members: list[MemberInput] = []
        seen: dict[str, int] = {}
        for number, row in enumerate(rows[1:], start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            field = f"line {number}"
            if len(row) > 2:
                errors.append({"field": field, "message": "expected 2 columns: name,role"})
                continue
            name = row[0].strip()
            role = (row[1].strip().lower() if len(row) > 1 else "") or "student"
            if not _USER.match(name):
                errors.append({"field": field, "message": f"{name!r} is not a valid user name"})
            elif role not in ROLES:
                errors.append(
                    {"field": field, "message": f"role {role!r} is not one of {', '.join(ROLES)}"}
                )
            elif name in seen:
                errors.append(
                    {"field": field, "message": f"{name!r} is already on line {seen[name]}"}
                )
            else:
                seen[name] = number
                members.append(MemberInput.model_validate({"name": name, "role": role}))
        if errors:
            summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            raise Invalid(f"the roster has {len(errors)} bad line(s): {summary}", errors=errors)
        if not members:
            raise Invalid.field("line 2", "the roster lists nobody")
        return members

    async def remove_member(self, caller: Caller, class_id: str, name: str) -> None:
        members = [{"name": name}]
        with self.audit.recording(
            "roster", "remove", caller, class_id=class_id, members=members
        ) as event:
            async with self.db.session() as s:
                c, role = await self._class(s, caller, class_id)
                event["slug"] = c.slug
                self._require_manager(caller, role)
                m = await s.get(Membership, (class_id, name))
                if m is None:
                    raise NotFound(f"{name!r} is not in this class", reason="member_not_found")
                if self.hub is not None:
                    await self.hub.remove_from_group(c.slug, [name])
                await s.delete(m)
