"""``/projects`` and ``/projects/{id}/files``."""

from __future__ import annotations

import re

from ..errors import Invalid
from ..services.projects import FileInput, FileUpdate, ProjectCreate, ProjectUpdate
from .base import API_PREFIX, MuscodeHandler, api
from .bodies import UPLOAD

_ETAG_VERSION = re.compile(r'^\s*(?:W/)?"?v?(\d+)(?:-[0-9a-f]+)?"?\s*$')


class ProjectListHandler(MuscodeHandler):
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self) -> None:
        projects = await self.muscode.projects.list_projects(
            self.caller,
            owner=self.get_query_argument("owner", None) or None,
            class_id=self.get_query_argument("class_id", None) or None,
            include_deleted=self.query_bool("include_deleted"),
        )
        self.write_json(projects)

    @api
    async def post(self) -> None:
        project = await self.muscode.projects.create(self.caller, self.parse(ProjectCreate))
        self.write_json(project, 201, location=self.url("projects", project["id"]))


class ProjectHandler(MuscodeHandler):
    @api
    async def get(self, project_id: str) -> None:
        self.write_json(
            await self.muscode.projects.get(
                self.caller, project_id, include_deleted=self.query_bool("include_deleted")
            )
        )

    @api
    async def patch(self, project_id: str) -> None:
        self.write_json(
            await self.muscode.projects.update(self.caller, project_id, self.parse(ProjectUpdate))
        )

    @api
    async def delete(self, project_id: str) -> None:
        await self.muscode.projects.delete(self.caller, project_id)
        self.no_content()


class ProjectRestoreHandler(MuscodeHandler):
    @api
    async def post(self, project_id: str) -> None:
        self.write_json(await self.muscode.projects.restore(self.caller, project_id))


class FileListHandler(MuscodeHandler):
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self, project_id: str) -> None:
        self.write_json(await self.muscode.projects.list_files(self.caller, project_id))

    @api
    async def post(self, project_id: str) -> None:
        f = await self.muscode.projects.create_file(self.caller, project_id, self.parse(FileInput))
        self.write_json(f, 201, location=self.url("projects", project_id, "files", f["id"]))


class FileHandler(MuscodeHandler):
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self, project_id: str, file_id: str) -> None:
        prefer = self.get_query_argument("encoding", None)
        if prefer not in (None, "utf-8", "base64"):
            raise Invalid.field("encoding", "must be utf-8 or base64")
        f, tag = await self.muscode.projects.get_file(self.caller, project_id, file_id, prefer)
        self.set_header("ETag", tag)
        if self.request.headers.get("If-None-Match", "").strip() == tag:
            self.set_status(304)
            self.finish()
            return
        self.write_json(f)

    def compute_etag(self) -> None:
        # Our ETag names the file version; tornado's body hash would hide it.
        return None

    @api
    async def put(self, project_id: str, file_id: str) -> None:
        if_match = self._if_match()
        f, tag = await self.muscode.projects.update_file(
            self.caller, project_id, file_id, self.parse(FileUpdate), if_match
        )
        self.set_header("ETag", tag)
        self.write_json(f)

    @api
    async def delete(self, project_id: str, file_id: str) -> None:
        await self.muscode.projects.delete_file(self.caller, project_id, file_id)
        self.no_content()

    def _if_match(self) -> int | None:
        header = self.request.headers.get("If-Match")
        if header is None:
            return None
        m = _ETAG_VERSION.match(header)
        if not m:
            raise Invalid.field("If-Match", "must be the file's ETag or its version number")
        return int(m.group(1))


_ID = r"(?P<project_id>[^/]+)"
_FILE = r"(?P<file_id>[^/]+)"

default_handlers = [
    (rf"{API_PREFIX}/projects", ProjectListHandler),
    (rf"{API_PREFIX}/projects/{_ID}", ProjectHandler),
    (rf"{API_PREFIX}/projects/{_ID}/restore", ProjectRestoreHandler),
    (rf"{API_PREFIX}/projects/{_ID}/files", FileListHandler),
    (rf"{API_PREFIX}/projects/{_ID}/files/{_FILE}", FileHandler),
]
