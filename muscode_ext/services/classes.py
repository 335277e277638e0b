"""Classes and their rosters: the domain rules behind ``/classes``.

A class is visible to its members and to admins; anyone else gets 404. Only the class's
instructors and admins change it or its roster. An archived class is listed only when
asked for (``include_archived``) and takes no new submissions; it stays readable.
Under JupyterHub every class is mirrored by a hub group named after its slug: the hub
is changed first, so a hub that is down (503) leaves MUSCode's database unchanged;
MUSCode changes only groups it made (``hub.py``).
Every change, and every refused attempt at one, is an audit event (``audit.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Audit
from ..auth import Caller
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..hub import HubClient
from ..names import check_user_name
from ..store import Class, Database, Membership, User
from ..store.models import new_id, utcnow
from .access import ROLES, STAFF_ROLES, class_for, require_instructor, token_class
from .inputs import StrictInput

Role = Literal["student", "ta", "instructor"]
#: Told of each stored roster change: (class id, user or None, new role or None).
RosterHook = Callable[[str, "str | None", "str | None"], Awaitable[None]]

# Lower-case letters, digits and inner dashes: safe as a hub group name and in URLs.
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class ClassCreate(StrictInput):
    slug: StrictStr
    name: StrictStr = Field(min_length=1, max_length=255)
    term: StrictStr = Field(default="", max_length=64)


class ClassUpdate(StrictInput):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    term: StrictStr | None = Field(default=None, max_length=64)
    archived: StrictBool | None = None


class MemberInput(StrictInput):
    name: StrictStr
    role: Role = "student"


class MembersAdd(StrictInput):
    members: list[MemberInput] = Field(min_length=1)


class MemberUpdate(StrictInput):
    role: Role


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def class_json(c: Class, role: str | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "slug": c.slug,
        "name": c.name,
        "term": c.term,
        "created_at": _iso(c.created_at),
        "archived": c.archived_at is not None,
        "archived_at": _iso(c.archived_at),
        "role": role,
    }


def check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise Invalid.field(
            "slug",
            "use 1 to 64 lower-case letters, digits and inner dashes (e.g. cs101-fall)",
        )
    return slug


#: Header names of the column of user names; the first found wins (LMS exports often
#: have a "username" beside a "name" that is a person's full name).
NAME_COLUMNS = ("username", "user_name", "login", "name")


def parse_roster(text: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A CSV roster: (name → role of its good lines, errors of its bad ones).

    The first line names the columns, in any order and case: the user names' column
    (:data:`NAME_COLUMNS`) is required, ``role`` is optional (an empty or missing role
    is ``student``; roles are read in any case), every other column is ignored. Commas,
    semicolons or tabs separate the columns. Errors are ``{"line", "message"}``; a file
    without a name column, or naming nobody, is refused (422).
    """
    first = text.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower().replace(" ", "_") for h in next(reader, [])]
    column = next((header.index(n) for n in NAME_COLUMNS if n in header), None)
    if column is None:
        found = ", ".join(repr(h) for h in header if h) or "none"
        raise Invalid(
            "the roster's first line must name its columns, one of them 'name' (or "
            f"'username'); found {found}",
            errors=[{"field": "line 1", "message": "no name column"}],
            reason="no_name_column",
        )
    role_at = header.index("role") if "role" in header else None
    wanted: dict[str, str] = {}
    lines: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    for row in reader:
        line = reader.line_num
        if all(not cell.strip() for cell in row):
            continue
        name = row[column].strip() if column < len(row) else ""
        role = ""
        if role_at is not None and role_at < len(row):
            role = row[role_at].strip().lower()
        role = role or "student"
        if not name:
            errors.append({"line": line, "message": "no name"})
            continue
        try:
            check_user_name(name)
        except Invalid as e:
            errors.append(
                {"line": line, "message": e.errors[0]["message"] if e.errors else e.message}
            )
            continue
        if role not in ROLES:
            message = f"role {role!r} is not one of {', '.join(ROLES)}"
            errors.append({"line": line, "message": message})
        elif name in wanted:
            errors.append({"line": line, "message": f"{name!r} is already on line {lines[name]}"})
        else:
            wanted[name] = role
            lines[name] = line
    if not wanted and not errors:
        raise Invalid.field("line 2", "the roster lists nobody")
    return wanted, errors


class ClassService:
    """Classes and memberships; mirrors them to hub groups when ``hub`` is given."""

    def __init__(
        self,
        db: Database,
        hub: HubClient | None = None,
        audit: Audit | None = None,
        *,
        on_roster_change: RosterHook | None = None,
    ) -> None:
        """``on_roster_change(class_id, user, role)``: called once a change is stored
        (``role`` None: the user left; ``user`` None: the class was deleted)."""
        self.db = db
        self.hub = hub
        self.audit = audit if audit is not None else Audit()
        self._on_roster_change = on_roster_change

    async def _roster_changed(self, class_id: str, user: str | None, role: str | None) -> None:
        if self._on_roster_change is not None:
            await self._on_roster_change(class_id, user, role)

    # -- checks ---------------------------------------------------------------------

    @staticmethod
    def _require_manager(caller: Caller, role: str | None) -> None:
        require_instructor(caller, role, "it")

    @staticmethod
    async def _ensure_users(s: AsyncSession, names: list[str]) -> None:
        found = set(await s.scalars(select(User.name).where(User.name.in_(names))))
        for name in names:
            if name not in found:
                s.add(User(name=name))
        await s.flush()

    # -- classes --------------------------------------------------------------------

    async def list_classes(
        self, caller: Caller, include_archived: bool = False
    ) -> list[dict[str, Any]]:
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
            if not include_archived:
                q = q.where(Class.archived_at.is_(None))
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

    async def memberships_of(self, name: str) -> list[dict[str, Any]]:
        """The live classes ``name`` belongs to, with their name, term and ``name``'s role
        (for the service's landing page)."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(Class, Membership.role)
                .join(Membership, Membership.class_id == Class.id)
                .where(Membership.user_name == name, Class.deleted_at.is_(None))
                .order_by(Class.slug)
            )
            return [
                {
                    "slug": c.slug,
                    "name": c.name,
                    "term": c.term,
                    "role": role,
                    "archived": c.archived_at is not None,
                }
                for c, role in rows.all()
            ]

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
        class_id = new_id()
        if self.hub is not None:
            await self.hub.create_class_group(slug, class_id, [caller.name])
        now = utcnow()
        c = Class(id=class_id, slug=slug, name=data.name, term=data.term, created_at=now)
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
            c, role = await class_for(s, caller, class_id)
            return class_json(c, role)

    async def update(self, caller: Caller, class_id: str, data: ClassUpdate) -> dict[str, Any]:
        fields = sorted(data.model_dump(exclude_unset=True))
        with self.audit.recording("class", "update", caller, class_id=class_id, fields=fields):
            return await self._update(caller, class_id, data)

    async def _update(self, caller: Caller, class_id: str, data: ClassUpdate) -> dict[str, Any]:
        changes = data.model_dump(exclude_unset=True)
        if not changes:
            raise Invalid(
                "send at least one of name, term, archived to change",
                errors=[{"field": "body", "message": "no field to change"}],
            )
        async with self.db.session() as s:
            c, role = await class_for(s, caller, class_id)
            self._require_manager(caller, role)
            if data.name is not None:
                c.name = data.name
            if data.term is not None:
                c.term = data.term
            if data.archived is not None and data.archived != (c.archived_at is not None):
                c.archived_at = utcnow() if data.archived else None
            await s.flush()
            return class_json(c, role)

    async def delete(self, caller: Caller, class_id: str) -> None:
        with self.audit.recording("class", "delete", caller, class_id=class_id) as event:
            async with self.db.session() as s:
                c, role = await class_for(s, caller, class_id)
                event["slug"] = c.slug
                self._require_manager(caller, role)
                if self.hub is not None:
                    roster = await self._roster_names(s, c.id)
                    await self.hub.delete_class_group(c.slug, c.id, roster)
                c.deleted_at = utcnow()
            await self._roster_changed(class_id, None, None)

    # -- members --------------------------------------------------------------------

    async def members(self, caller: Caller, class_id: str) -> list[dict[str, Any]]:
        """The roster; staff and admins only (students see only their own class entry)."""
        caller.require("classes:read")
        async with self.db.session() as s:
            _, role = await class_for(s, caller, class_id)
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
            wanted: dict[str, str] = {}
            for i, m in enumerate(members):
                name = check_user_name(m.name, f"members[{i}].name")
                if name in wanted:
                    raise Invalid.field(f"members[{i}].name", f"{name!r} is listed twice")
                wanted[name] = m.role
            event["members"] = [{"name": n, "role": r} for n, r in wanted.items()]
            async with self.db.session() as s:
                c = await self._managed(s, caller, class_id, event)
                what = await self._enrol(s, c, wanted)
                roster = await self._roster(s, class_id)
            for name, how in what.items():
                if how == "changed":
                    await self._roster_changed(class_id, name, wanted[name])
            return roster

    @staticmethod
    async def _roster_names(s: AsyncSession, class_id: str) -> list[str]:
        return list(
            await s.scalars(select(Membership.user_name).where(Membership.class_id == class_id))
        )

    async def _managed(
        self, s: AsyncSession, caller: Caller, class_id: str, event: dict[str, Any]
    ) -> Class:
        """The class, if the caller manages its roster (404 or 403 otherwise)."""
        c, role = await class_for(s, caller, class_id)
        event["slug"] = c.slug
        self._require_manager(caller, role)
        return c

    async def _enrol(self, s: AsyncSession, c: Class, wanted: dict[str, str]) -> dict[str, str]:
        """Enrol ``wanted`` (name: role) in ``c``, the hub group first; returns what
        each was before (``new``, ``same`` or ``changed``)."""
        if self.hub is not None:
            roster = await self._roster_names(s, c.id)
            await self.hub.claim_class_group(c.slug, c.id, roster)
            await self.hub.add_to_group(c.slug, list(wanted))
        await self._ensure_users(s, list(wanted))
        existing = {
            m.user_name: m
            for m in await s.scalars(
                select(Membership).where(
                    Membership.class_id == c.id, Membership.user_name.in_(list(wanted))
                )
            )
        }
        now = utcnow()
        what: dict[str, str] = {}
        for name, new_role in wanted.items():
            m = existing.get(name)
            if m is None:
                s.add(Membership(class_id=c.id, user_name=name, role=new_role, created_at=now))
                what[name] = "new"
            else:
                what[name] = "same" if m.role == new_role else "changed"
                m.role = new_role
        await s.flush()
        return what

    async def set_role(
        self, caller: Caller, class_id: str, name: str, data: MemberUpdate
    ) -> dict[str, Any]:
        """Change a member's role in place; returns the member."""
        members = [{"name": name[:255], "role": data.role}]
        with self.audit.recording(
            "roster", "update", caller, class_id=class_id, members=members
        ) as event:
            async with self.db.session() as s:
                await self._managed(s, caller, class_id, event)
                m = await s.get(Membership, (class_id, name))
                if m is None:
                    raise NotFound(f"{name!r} is not in this class", reason="member_not_found")
                m.role = data.role
                member = {"name": m.user_name, "role": m.role}
            await self._roster_changed(class_id, name, data.role)
            return member

    async def import_roster(self, caller: Caller, class_id: str, text: str) -> dict[str, Any]:
        """Enrol from a CSV roster (:func:`parse_roster`): the good lines are applied
        even when others are bad. Returns ``{"added", "updated", "unchanged", "errors"}``;
        a file without a name column, or naming nobody, is refused (422)."""
        with self.audit.recording("roster", "import", caller, class_id=class_id) as event:
            async with self.db.session() as s:
                c = await self._managed(s, caller, class_id, event)
                wanted, errors = parse_roster(text)
                event["members"] = [{"name": n, "role": r} for n, r in wanted.items()]
                what = await self._enrol(s, c, wanted) if wanted else {}
            for name, how in what.items():
                if how == "changed":
                    await self._roster_changed(class_id, name, wanted[name])

            def those(kind: str) -> list[dict[str, str]]:
                return [{"name": n, "role": wanted[n]} for n, w in what.items() if w == kind]

            return {
                "added": those("new"),
                "updated": those("changed"),
                "unchanged": those("same"),
                "errors": errors,
            }

    async def remove_member(self, caller: Caller, class_id: str, name: str) -> None:
        members = [{"name": name}]
        with self.audit.recording(
            "roster", "remove", caller, class_id=class_id, members=members
        ) as event:
            async with self.db.session() as s:
                c, role = await class_for(s, caller, class_id)
                event["slug"] = c.slug
                self._require_manager(caller, role)
                m = await s.get(Membership, (class_id, name))
                if m is None:
                    raise NotFound(f"{name!r} is not in this class", reason="member_not_found")
                if self.hub is not None:
                    roster = await self._roster_names(s, c.id)
                    await self.hub.claim_class_group(c.slug, c.id, roster)
                    await self.hub.remove_from_group(c.slug, [name])
                await s.delete(m)
            await self._roster_changed(class_id, name, None)
