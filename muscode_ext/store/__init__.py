"""Persistence: SQLAlchemy models, the async database, Alembic migrations."""

from .db import Database, SchemaMismatch, ensure_schema, upgrade
from .models import Base, Class, Execution, File, Membership, Project, RevokedToken, Token, User

__all__ = [
    "Base",
    "Class",
    "Database",
    "Execution",
    "File",
    "Membership",
    "Project",
    "RevokedToken",
    "SchemaMismatch",
    "Token",
    "User",
    "ensure_schema",
    "upgrade",
]
