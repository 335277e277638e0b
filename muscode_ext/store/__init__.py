"""Persistence: SQLAlchemy models, the async database, Alembic migrations."""

from .db import Database, SchemaMismatch, ensure_schema, upgrade
from .models import Base, Execution, File, Project, RevokedToken, User

__all__ = [
    "Base",
    "Database",
    "Execution",
    "File",
    "Project",
    "RevokedToken",
    "SchemaMismatch",
    "User",
    "ensure_schema",
    "upgrade",
]
