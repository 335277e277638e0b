"""``/classes`` and their members (JSON or a CSV roster)."""

from __future__ import annotations

from ..errors import BadRequest, UnsupportedMediaType
from ..services.classes import ClassCreate, ClassUpdate, MembersAdd, MemberUpdate
from .base import API_PREFIX, MuscodeHandler, api


class ClassListHandler(MuscodeHandler):
    @api
    async def get(self) -> None:
        archived = self.query_bool("include_archived")
        self.write_json(await self.muscode.class_service.list_classes(self.caller, archived))

    @api
    async def post(self) -> None:
        c = await self.muscode.class_service.create(self.caller, self.parse(ClassCreate))
        self.write_json(c, 201, location=self.url("classes", c["id"]))


class ClassHandler(MuscodeHandler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.muscode.class_service.get(self.caller, class_id))

    @api
    async def patch(self, class_id: str) -> None:
        self.write_json(
            await self.muscode.class_service.update(self.caller, class_id, self.parse(ClassUpdate))
        )

    @api
    async def delete(self, class_id: str) -> None:
        await self.muscode.class_service.delete(self.caller, class_id)
        self.no_content()


class MemberListHandler(MuscodeHandler):
    @api
    async def get(self, class_id: str) -> None:
        self.write_json(await self.muscode.class_service.members(self.caller, class_id))

    @api
    async def post(self, class_id: str) -> None:
        data = self.parse(MembersAdd)
        self.write_json(
            await self.muscode.class_service.add_members(self.caller, class_id, data.members)
        )


class RosterImportHandler(MuscodeHandler):
    """``POST /classes/{id}/members.csv``: a roster as ``text/csv`` (a ``name`` column,
    an optional ``role`` column, other columns ignored)."""

    @api
    async def post(self, class_id: str) -> None:
        ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in ("text/csv", "text/plain"):
            raise UnsupportedMediaType(
                f"send the roster with Content-Type: text/csv (got {ctype or 'none'!r})"
            )
        try:
            text = self.request.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("the roster is not valid UTF-8") from None
        self.write_json(await self.muscode.class_service.import_roster(self.caller, class_id, text))


class MemberHandler(MuscodeHandler):
    @api
    async def patch(self, class_id: str, name: str) -> None:
        data = self.parse(MemberUpdate)
        self.write_json(
            await self.muscode.class_service.set_role(self.caller, class_id, name, data)
        )

    @api
    async def delete(self, class_id: str, name: str) -> None:
        await self.muscode.class_service.remove_member(self.caller, class_id, name)
        self.no_content()


_ID = r"(?P<class_id>[^/]+)"
_NAME = r"(?P<name>[^/]+)"

default_handlers = [
    (rf"{API_PREFIX}/classes", ClassListHandler),
    (rf"{API_PREFIX}/classes/{_ID}", ClassHandler),
    (rf"{API_PREFIX}/classes/{_ID}/members", MemberListHandler),
    (rf"{API_PREFIX}/classes/{_ID}/members\.csv", RosterImportHandler),
    (rf"{API_PREFIX}/classes/{_ID}/members/{_NAME}", MemberHandler),
]
