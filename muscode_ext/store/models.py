"""SQLAlchemy 2 typed models. Every schema change comes with an Alembic revision."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10
    from enum import Enum

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class RunStatus(StrEnum):
    """Where a run is in its life: ``queued`` → ``running`` → ``done`` (stored as these
    strings). Every change of it is one guarded UPDATE in
    :mod:`muscode_ext.services.run_status`."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person or program seen by MUSCode, recorded on first sight."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevokedToken(Base):
    """Denylist of bearer-token ids (``jti``) revoked before they expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: After this the token is dead anyway and the row may be pruned.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Project(Base):
    """A student's (or instructor's) set of files. Deleting is soft."""

    __tablename__ = "projects"
    __table_args__ = (
        # A live project's name is unique per owner; deleted ones do not count.
        Index(
            "uq_projects_owner_name_live",
            "owner",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(64))
    class_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    #: The assignment this project was started from (``POST /assignments/{id}/start``).
    assignment_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    files: Mapped[list[File]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="File.path"
    )


class File(Base):
    """One file of a project. Content is stored as bytes, exactly as given."""

    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("project_id", "path", name="uq_files_project_path"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="files")


class Execution(Base):
    """One run: a row before it is queued, so nothing is ever lost."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_owner_created", "owner", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("users.name"))
    project_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    language: Mapped[str] = mapped_column(String(64))
    #: A :class:`RunStatus`; changed only through ``services/run_status.py``.
    status: Mapped[str] = mapped_column(String(16), index=True, default=RunStatus.QUEUED)
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: What to run: files, main, stdin, args, options, expected output, tests, limits.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The result fields of API.md once done (stdout, stderr, times, tests...).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: A notebook run's executed notebook (nbformat 4, outputs capped) once done.
    notebook: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: How many times a worker started this run (a run whose worker died is retried once).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The submission this run grades (None: not a grading run).
    submission_id: Mapped[str | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True, index=True
    )


class Class(Base):
    """A course section. Under JupyterHub it is mirrored by a hub group named ``slug``.

    Deleting is soft, and a deleted class keeps its slug so a hub group is never reused.
    An archived class stays readable but takes no new submissions.
    """

    __tablename__ = "classes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    term: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Membership(Base):
    """One person's role (student | ta | instructor) in one class."""

    __tablename__ = "memberships"

    class_id: Mapped[str] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Token(Base):
    """Metadata of a minted bearer token; the token itself is never stored.

    ``id`` is the token's ``jti``; revoking adds it to :class:`RevokedToken` as well.
    """

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    class_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Assignment(Base):
    """A piece of work set for a class: starter files, test cases, a due date.

    Deleting is soft: submissions and grades stay readable in the database.
    """

    __tablename__ = "assignments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(64))
    #: ``files`` (tests run the program) or ``nbgrader`` (``starter_files`` hold one
    #: nbgrader source notebook and its data files; its graded cells are the tests).
    format: Mapped[str] = mapped_column(String(16), default="files", server_default="files")
    #: ``[{"path", "content"}]``
    starter_files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``[{"name", "stdin", "expected_output", "compare", "tolerance", "points",
    #: "hidden", "limits"}]``
    tests: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: The reference solution ``[{"path", "content"}]`` (staff only), or None.
    reference_files: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: The latest run of the tests on the reference solution, and the fingerprint of
    #: what it ran (the tests, limits, language and reference as they were then).
    verification_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    verification_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: ``{"mode": "accept" | "penalty" | "no_credit", "penalty_per_day": percent}``
    late_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Run limits for every test (a test's own limits win), or None for the server's.
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Submission(Base):
    """A snapshot of a student's project handed in for grading.

    The files are copied, so later edits (or a deleted project) never change what was
    graded. ``execution_id`` is the grading run (the latest one after a regrade); every
    grading run of it names it in ``Execution.submission_id``.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", "student", "attempt", name="uq_submissions_attempt"),
        Index("ix_submissions_assignment_student", "assignment_id", "student"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    student: Mapped[str] = mapped_column(ForeignKey("users.name"))
    project_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer)
    #: ``[{"path", "content", "encoding"}]`` as submitted
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    main: Mapped[str] = mapped_column(String(1024))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    days_late: Mapped[int] = mapped_column(Integer, default=0)
    execution_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    #: grading | graded
    status: Mapped[str] = mapped_column(String(16), default="grading")
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    compile_output: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Per test, as graded: the test as it was, and its run's verdict and output.
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    raw_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    override_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The maximum the override was given against (the submission's then).
    override_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    override_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    override_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Who asked for the latest regrade (told of its progress), or None.
    regraded_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The fingerprint of the tests (and limits, language) of its latest grading run;
    #: None for runs older than fingerprints.
    tests_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Notebook assignments: the manually graded cells as graded (``[{"name", "points",
    #: "points_awarded", "message", "answer"}]``; None for file assignments) and the
    #: staff's scores of them (``{grade_id: points}``).
    manual: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    manual_scores: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)


class Extension(Base):
    """One student's own due date for one assignment (replacing the assignment's)."""

    __tablename__ = "extensions"

    assignment_id: Mapped[str] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    student: Mapped[str] = mapped_column(ForeignKey("users.name"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
