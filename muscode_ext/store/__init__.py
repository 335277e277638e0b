"""Persistence: SQLAlchemy models, the async database, Alembic migrations."""

from .db import Database, SchemaMismatch, ensure_schema, upgrade
from .models import (
    Assignment,
    Base,
    Class,
    Execution,
    Extension,
    File,
    Membership,
    Project,
    RevokedToken,
    Submission,
    Token,
    User,
)

__all__ = [
    "Assignment",
    "Base",
    "Class",
    "Database",
    "Execution",
    "Extension",
    "File",
    "Membership",
    "Project",
    "RevokedToken",
    "SchemaMismatch",
    "Submission",
    "Token",
    "User",
    "ensure_schema",
    "upgrade",
]
