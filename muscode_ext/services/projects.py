"""Projects and their files: the domain rules behind ``/projects``.

A project belongs to one user; only its owner (and admins) may see it — and, read-only,
the TAs and instructors of the class it belongs to. Anyone else gets 404, so existence
never leaks. Deleting a project is soft. File updates use
optimistic concurrency: an update names the version it was based on and fails with
409, overwriting nothing, when that version is no longer current.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictInt, StrictStr
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import Caller
from ..errors import Conflict, Invalid, NotFound, TooLarge
from ..store import Database, File, Project
from ..store.models import utcnow
from .access import is_class_staff, owns, role_in
from .inputs import StrictInput
from .paths import check_project_name, decode_content, encode_content, normalize_path


class FileInput(StrictInput):
    path: StrictStr
    content: StrictStr
    encoding: Literal["utf-8", "base64"] = "utf-8"


class ProjectCreate(StrictInput):
    name: StrictStr
    description: StrictStr = ""
    language: StrictStr
    class_id: StrictStr | None = None
    files: list[FileInput] = Field(default_factory=list)


class ProjectUpdate(StrictInput):
    name: StrictStr | None = None
    description: StrictStr | None = None
    language: StrictStr | None = None


class FileUpdate(StrictInput):
    content: StrictStr | None = None
    encoding: Literal["utf-8", "base64"] = "utf-8"
    path: StrictStr | None = None
    version: StrictInt | None = None


@dataclass(frozen=True)
class SizeCaps:
    """Storage caps (bytes / counts); see ``MuscodeApp`` for the traits."""

    max_file_size: int
    max_project_size: int
    max_project_files: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def file_json(f: File, *, content: bool = False, prefer: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "project_id": f.project_id,
        "path": f.path,
        "size": f.size,
        "sha256": f.sha256,
        "version": f.version,
        "created_at": _iso(f.created_at),
        "updated_at": _iso(f.updated_at),
    }
    if content:
        out["content"], out["encoding"] = encode_content(f.content, prefer)
    return out


def etag(f: File) -> str:
    """Strong entity tag of one file version (version and content hash)."""
    return f'"v{f.version}-{f.sha256[:16]}"'


def project_json(p: Project, files: list[File] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "language": p.language,
        "owner": p.owner,
        "class_id": p.class_id,
        "created_at": _iso(p.created_at),
        "updated_at": _iso(p.updated_at),
        "deleted_at": _iso(p.deleted_at),
    }
    if files is not None:
        out["files"] = [file_json(f) for f in files]
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ProjectService:
    """Projects and files, for one server process. Stateless apart from the database."""

    def __init__(
        self, db: Database, caps: SizeCaps, languages: Callable[[], Collection[str]]
    ) -> None:
        self.db = db
        self.caps = caps
        self._languages = languages

    # -- checks ---------------------------------------------------------------------

    def _check_language(self, language: str) -> str:
        known = self._languages()
        if language not in known:
            raise Invalid.field(
                "language", f"unknown language {language!r}; use one of {', '.join(sorted(known))}"
            )
        return language

    def check_file_size(self, path: str, size: int) -> None:
        if size > self.caps.max_file_size:
            raise TooLarge(
                f"file {path!r} is {size} bytes; the limit is {self.caps.max_file_size} bytes",
                reason="file_too_large",
            )

    def check_project_size(self, total: int, count: int) -> None:
        if total > self.caps.max_project_size:
            raise TooLarge(
                f"the project would hold {total} bytes; the limit is "
                f"{self.caps.max_project_size} bytes",
                reason="project_too_large",
            )
        if count > self.caps.max_project_files:
            raise TooLarge(
                f"the project would hold {count} files; the limit is {self.caps.max_project_files}",
                reason="too_many_files",
            )

    @staticmethod
    def _check_path_free(path: str, existing: Collection[str], field: str = "path") -> None:
        if path in existing:
            raise Conflict(f"a file already exists at {path!r}", reason="path_exists")
        for other in existing:
            if other.startswith(path + "/"):
                raise Conflict(f"{path!r} is a folder in this project", reason="path_is_folder")
            if path.startswith(other + "/"):
                raise Conflict(
                    f"{other!r} is a file, so it cannot hold {path!r}", reason="path_is_file"
                )

    async def _project(
        self,
        s: AsyncSession,
        caller: Caller,
        project_id: str,
        *,
        deleted: bool | None = False,
        read_only: bool = False,
    ) -> Project:
        """The project if the caller may see it; 404 otherwise (never 403: no leaks).

        ``deleted``: False only live ones, True only deleted ones, None either.
        ``read_only``: the caller only reads, so the staff (TA, instructor) of the
        project's class may see it too.
        """
        p = await s.get(Project, project_id)
        if (
            p is None
            or not (
                owns(caller, p.owner) or (read_only and await is_class_staff(s, caller, p.class_id))
            )
            or (deleted is False and p.deleted_at is not None)
            or (deleted is True and p.deleted_at is None)
        ):
            raise NotFound(f"project {project_id} not found", reason="project_not_found")
        return p

    @staticmethod
    def _require_read(caller: Caller) -> None:
        """Reading needs ``projects``, or ``grade`` (then only class projects one teaches)."""
        if not caller.has("grade"):
            caller.require("projects")

    async def _file(self, s: AsyncSession, project: Project, file_id: str) -> File:
        f = await s.get(File, file_id)
        if f is None or f.project_id != project.id:
            raise NotFound(f"file {file_id} not found in this project", reason="file_not_found")
        return f

    @staticmethod
    async def _files(s: AsyncSession, project_id: str) -> list[File]:
        rows = await s.scalars(
            select(File).where(File.project_id == project_id).order_by(File.path)
        )
        return list(rows)

    # -- projects -------------------------------------------------------------------

    async def list_projects(
        self,
        caller: Caller,
        *,
        owner: str | None = None,
        class_id: str | None = None,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        self._require_read(caller)
        owner = owner or caller.name
        q = select(Project).where(Project.owner == owner)
        if class_id is not None:
            q = q.where(Project.class_id == class_id)
        if not include_deleted:
            q = q.where(Project.deleted_at.is_(None))
        async with self.db.session() as s:
            # Staff of a class may list a student's projects in that class (class_id given).
            if not (caller.has("projects") and caller.can_see_owner(owner)) and not (
                class_id is not None and await is_class_staff(s, caller, class_id)
            ):
                raise NotFound(
                    f"no projects of {owner!r} that you may see", reason="owner_not_found"
                )
            rows = await s.scalars(q.order_by(Project.created_at, Project.id))
            return [project_json(p) for p in rows]

    async def create(self, caller: Caller, data: ProjectCreate) -> dict[str, Any]:
        caller.require("projects")
        name = check_project_name(data.name)
        language = self._check_language(data.language)
        if data.class_id is not None:
            async with self.db.session() as s:
                if await role_in(s, data.class_id, caller.name) is None:
                    raise Invalid.field(
                        "class_id", f"no class {data.class_id!r} that you belong to"
                    )
        files: dict[str, bytes] = {}
        for i, fi in enumerate(data.files):
            path = normalize_path(fi.path, f"files[{i}].path")
            content = decode_content(fi.content, fi.encoding, f"files[{i}].content")
            self.check_file_size(path, len(content))
            self._check_path_free(path, files.keys(), f"files[{i}].path")
            files[path] = content
        self.check_project_size(sum(map(len, files.values())), len(files))
        now = utcnow()
        project = Project(
            owner=caller.name,
            name=name,
            description=data.description,
            language=language,
            class_id=data.class_id,
            created_at=now,
            updated_at=now,
        )
        project.files = [
            File(
                path=path,
                content=content,
                size=len(content),
                sha256=_sha256(content),
                version=1,
                created_at=now,
                updated_at=now,
            )
            for path, content in sorted(files.items())
        ]
        try:
            async with self.db.session() as s:
                s.add(project)
        except IntegrityError:
            raise Conflict(
                f"you already have a project named {name!r}", reason="project_exists"
            ) from None
        return project_json(project, project.files)

    async def get(
        self, caller: Caller, project_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any]:
        self._require_read(caller)
        async with self.db.session() as s:
            p = await self._project(
                s, caller, project_id, deleted=None if include_deleted else False, read_only=True
            )
            return project_json(p, await self._files(s, p.id))

    async def update(self, caller: Caller, project_id: str, data: ProjectUpdate) -> dict[str, Any]:
        caller.require("projects")
        changes = data.model_dump(exclude_unset=True)
        if not changes:
            raise Invalid(
                "send at least one of name, description, language to change",
                errors=[{"field": "body", "message": "no field to change"}],
            )
        for key in ("name", "description", "language"):
            if key in changes and changes[key] is None:
                raise Invalid.field(key, "must not be null")
        try:
            async with self.db.session() as s:
                p = await self._project(s, caller, project_id)
                if data.name is not None:
                    p.name = check_project_name(data.name)
                if data.description is not None:
                    p.description = data.description
                if data.language is not None:
                    p.language = self._check_language(data.language)
                p.updated_at = utcnow()
                await s.flush()
                return project_json(p, await self._files(s, p.id))
        except IntegrityError:
            raise Conflict(
                f"you already have a project named {data.name!r}", reason="project_exists"
            ) from None

    async def delete(self, caller: Caller, project_id: str) -> None:
        caller.require("projects")
        async with self.db.session() as s:
            p = await self._project(s, caller, project_id)
            p.deleted_at = p.updated_at = utcnow()

    async def restore(self, caller: Caller, project_id: str) -> dict[str, Any]:
        caller.require("projects")
        try:
            async with self.db.session() as s:
                p = await self._project(s, caller, project_id, deleted=None)
                if p.deleted_at is not None:
                    p.deleted_at = None
                    p.updated_at = utcnow()
                    await s.flush()
                return project_json(p, await self._files(s, p.id))
        except IntegrityError:
            raise Conflict(
                "another live project has this one's name; rename that one first",
                reason="project_exists",
            ) from None

    # -- files ----------------------------------------------------------------------

    async def list_files(self, caller: Caller, project_id: str) -> list[dict[str, Any]]:
        self._require_read(caller)
        async with self.db.session() as s:
            p = await self._project(s, caller, project_id, read_only=True)
            return [file_json(f) for f in await self._files(s, p.id)]

    async def create_file(self, caller: Caller, project_id: str, data: FileInput) -> dict[str, Any]:
        caller.require("projects")
        path = normalize_path(data.path)
        content = decode_content(data.content, data.encoding)
        self.check_file_size(path, len(content))
        try:
            async with self.db.session() as s:
                p = await self._project(s, caller, project_id)
                existing = await self._files(s, p.id)
                self._check_path_free(path, {f.path for f in existing})
                self.check_project_size(
                    sum(f.size for f in existing) + len(content), len(existing) + 1
                )
                now = utcnow()
                f = File(
                    project_id=p.id,
                    path=path,
                    content=content,
                    size=len(content),
                    sha256=_sha256(content),
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                s.add(f)
                p.updated_at = now
                await s.flush()
                return file_json(f)
        except IntegrityError:
            raise Conflict(f"a file already exists at {path!r}", reason="path_exists") from None

    async def get_file(
        self, caller: Caller, project_id: str, file_id: str, prefer: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """The file with its content, and its ETag."""
        self._require_read(caller)
        async with self.db.session() as s:
            p = await self._project(s, caller, project_id, read_only=True)
            f = await self._file(s, p, file_id)
            return file_json(f, content=True, prefer=prefer), etag(f)

    async def update_file(
        self,
        caller: Caller,
        project_id: str,
        file_id: str,
        data: FileUpdate,
        if_match: int | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Change content and/or path; only if the file is still at the version given."""
        caller.require("projects")
        base = data.version if data.version is not None else if_match
        if base is None:
            raise Invalid.field(
                "version", "is required: send the version you edited (or an If-Match header)"
            )
        if data.version is not None and if_match is not None and data.version != if_match:
            raise Invalid.field("version", "differs from the If-Match header")
        if data.content is None and data.path is None:
            raise Invalid(
                "send content and/or path to change",
                errors=[{"field": "body", "message": "no field to change"}],
            )
        content = decode_content(data.content, data.encoding) if data.content is not None else None
        path = normalize_path(data.path) if data.path is not None else None
        try:
            async with self.db.session() as s:
                p = await self._project(s, caller, project_id)
                f = await self._file(s, p, file_id)
                if f.version != base:
                    raise Conflict(
                        f"{f.path!r} changed since version {base} (it is at version "
                        f"{f.version}); reload it and apply your change again",
                        reason="stale_version",
                    )
                if path is not None and path != f.path:
                    existing = {x.path for x in await self._files(s, p.id) if x.id != f.id}
                    self._check_path_free(path, existing)
                else:
                    path = None
                if not await self._write(s, p, f, base, content, path):
                    raise Conflict(
                        f"{f.path!r} was changed by someone else just now; reload it and "
                        "apply your change again",
                        reason="stale_version",
                    )
                await s.flush()
                await s.refresh(f)
                return file_json(f), etag(f)
        except IntegrityError:
            raise Conflict(f"a file already exists at {path!r}", reason="path_exists") from None

    async def _write(
        self,
        s: AsyncSession,
        p: Project,
        f: File,
        base: int,
        content: bytes | None,
        path: str | None = None,
    ) -> bool:
        """Write the file's next version if it is still at ``base``: size caps checked,
        and the version check and the write one statement, so of two concurrent writes
        from the same version exactly one happens. False if the other one did."""
        values: dict[str, Any] = {"version": base + 1, "updated_at": utcnow()}
        if content is not None:
            self.check_file_size(path or f.path, len(content))
            others = await s.scalar(
                select(func.coalesce(func.sum(File.size), 0)).where(
                    File.project_id == p.id, File.id != f.id
                )
            )
            count = await s.scalar(select(func.count()).where(File.project_id == p.id))
            self.check_project_size(int(others or 0) + len(content), int(count or 0))
            values.update(content=content, size=len(content), sha256=_sha256(content))
        if path is not None:
            values["path"] = path
        result = await s.execute(
            update(File)
            .where(File.id == f.id, File.version == base)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        p.updated_at = values["updated_at"]
        return True

    async def save_shared(
        self, file_id: str, content: bytes, base: int
    ) -> tuple[int, bytes] | None:
        """A shared editing room's save (its members were checked when they joined):
        the file's next version if it is still at ``base``. Returns the file's version
        and content afterwards (those of another save, if one came first), or None if
        the file or its project is gone."""
        async with self.db.session() as s:
            f = await s.get(File, file_id)
            p = await s.get(Project, f.project_id) if f is not None else None
            if f is None or p is None or p.deleted_at is not None:
                return None
            if f.version == base and await self._write(s, p, f, base, content):
                return base + 1, content
            await s.refresh(f)
            return f.version, f.content

    async def delete_file(self, caller: Caller, project_id: str, file_id: str) -> None:
        caller.require("projects")
        async with self.db.session() as s:
            p = await self._project(s, caller, project_id)
            f = await self._file(s, p, file_id)
            await s.delete(f)
            p.updated_at = utcnow()

    async def read_files(self, caller: Caller, project_id: str) -> tuple[Project, list[File]]:
        """The project and its files (content included), for running them."""
        caller.require("projects")
        async with self.db.session() as s:
            p = await self._project(s, caller, project_id)
            return p, await self._files(s, p.id)
