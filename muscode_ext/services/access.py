"""Who may see what in a class: the access checks every service shares.

A class, and everything in it, is visible to its members and to admins; anyone else
gets 404, so existence never leaks. A bearer token bound to a class (its ``class_id``
claim) counts only in that class. TAs and instructors are the class's staff: they read
its students' projects, runs and submissions; only instructors (and admins) change the
class and its assignments. Students see published assignments and their own work.
MUSCode's own users (the grader) have a "/" in their name and are nobody's student
(``names.py``: no person, token or roster can take such a name).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import Caller
from ..errors import Forbidden, NotFound
from ..names import is_internal_user
from ..store import Assignment, Class, Membership, Project

ROLES: tuple[str, ...] = ("student", "ta", "instructor")
#: Roles that may read the projects of their class's students.
STAFF_ROLES = frozenset({"ta", "instructor"})


def token_class(caller: Caller) -> str | None:
    """The class a bearer token is bound to (its ``class_id`` claim), if any."""
    value = caller.claims.get("class_id")
    return value if isinstance(value, str) else None


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


async def class_for(s: AsyncSession, caller: Caller, class_id: str) -> tuple[Class, str | None]:
    """The live class and the caller's role in it; 404 unless member or admin (and,
    for a class-bound token, unless it is that class)."""
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


async def class_role(
    s: AsyncSession, caller: Caller, class_id: str
) -> tuple[Class, str | None, bool]:
    """The class, the caller's role in it, and whether the caller is its staff
    (TA, instructor or admin). 404 unless a member or an admin."""
    c, role = await class_for(s, caller, class_id)
    return c, role, caller.admin or role in STAFF_ROLES


async def is_class_staff(s: AsyncSession, caller: Caller, class_id: str | None) -> bool:
    """Is the caller a TA or instructor of the live class ``class_id``?

    A token bound to a class (``class_id`` claim) only counts for that class.
    """
    if class_id is None:
        return False
    bound = token_class(caller)
    if bound is not None and bound != class_id:
        return False
    return await role_in(s, class_id, caller.name) in STAFF_ROLES


def owns(caller: Caller, owner: str) -> bool:
    """What writing a project over REST needs: the ``projects`` scope, and the project
    is the caller's own (or the caller is an admin). Staff read, never write, there."""
    return caller.has("projects") and caller.can_see_owner(owner)


async def may_read_project(s: AsyncSession, caller: Caller, project: Project) -> bool:
    """What reading a live project's files needs: writing it (``owns``), or ``projects``
    or ``grade`` and being the staff of its class (a class-bound token: only there)."""
    if project.deleted_at is not None:
        return False
    if owns(caller, project.owner):
        return True
    reads = caller.has("projects") or caller.has("grade")
    return reads and await is_class_staff(s, caller, project.class_id)


async def may_edit_live(s: AsyncSession, caller: Caller, project: Project) -> bool:
    """What typing into a live project's file in a shared room (``/collab``) needs:
    what a REST write needs (``owns``), or the ``projects`` scope (the scope of every
    file write) and being the staff of the project's class: live help, where the owner
    sees each keystroke as it is made. ``grade`` alone only watches."""
    if project.deleted_at is not None:
        return False
    if owns(caller, project.owner):
        return True
    return caller.has("projects") and await is_class_staff(s, caller, project.class_id)


async def staff_view_of_project(s: AsyncSession, caller: Caller, project_id: str) -> str | None:
    """Whose runs of project ``project_id`` the caller may read as a TA or instructor
    of its class (a class-bound token: only in that class): the project's owner, or
    None. Only the owner's own runs of a live class project; never runs of MUSCode's
    internal users (names with a "/", such as the grader), nor of anyone else."""
    project = await s.get(Project, project_id)
    if (
        project is None
        or project.deleted_at is not None
        or is_internal_user(project.owner)
        or not await is_class_staff(s, caller, project.class_id)
    ):
        return None
    return project.owner


async def assignment_for(
    s: AsyncSession, caller: Caller, assignment_id: str
) -> tuple[Assignment, str | None, bool]:
    """The live assignment the caller may see (students: published only), the
    caller's role, and staff-ness; 404 otherwise."""
    a = await s.get(Assignment, assignment_id)
    missing = NotFound(f"assignment {assignment_id} not found", reason="assignment_not_found")
    if a is None or a.deleted_at is not None:
        raise missing
    try:
        _, role, staff = await class_role(s, caller, a.class_id)
    except NotFound:
        raise missing from None
    if not staff and not a.published:
        raise missing
    return a, role, staff


def require_instructor(caller: Caller, role: str | None, what: str) -> None:
    """403 unless the caller may change ``what`` of the class: ``classes:write``, and
    an instructor of it or an admin."""
    caller.require("classes:write")
    if not caller.admin and role != "instructor":
        raise Forbidden(
            f"only the class's instructors and admins may change {what}", reason="not_instructor"
        )


def require_staff(caller: Caller, staff: bool) -> None:
    """403 unless the caller grades (``grade``) and is the class's staff."""
    caller.require("grade")
    if not staff:
        raise Forbidden("only the class's instructors and TAs may do this", reason="not_staff")
