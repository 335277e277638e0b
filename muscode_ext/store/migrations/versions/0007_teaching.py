"""teaching: reference solutions, extensions, archived classes, stale grades

Assignments keep a reference solution and their latest verification run (with the
fingerprint of what it ran); submissions keep the fingerprint of the tests they were
graded against and the maximum an override was given against; classes may be
archived; a student may have their own due date for an assignment (``extensions``).
Existing overrides were given against their submission's maximum: it is recorded.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_submissions = sa.table(
    "submissions",
    sa.column("max_score", sa.Float()),
    sa.column("override_score", sa.Float()),
    sa.column("override_max", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_files", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("verification_run_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("verification_fingerprint", sa.String(length=64), nullable=True)
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_max", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("tests_fingerprint", sa.String(length=64), nullable=True))

    op.create_table(
        "extensions",
        sa.Column("assignment_id", sa.String(length=36), nullable=False),
        sa.Column("student", sa.String(length=255), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=255), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_extensions_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student"], ["users.name"], name=op.f("fk_extensions_student_users")
        ),
        sa.PrimaryKeyConstraint("assignment_id", "student", name=op.f("pk_extensions")),
    )

    # An override so far was given against its submission's maximum.
    op.get_bind().execute(
        sa.update(_submissions)
        .where(_submissions.c.override_score.is_not(None))
        .values(override_max=_submissions.c.max_score)
    )


def downgrade() -> None:
    op.drop_table("extensions")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("tests_fingerprint")
        batch_op.drop_column("override_max")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("verification_fingerprint")
        batch_op.drop_column("verification_run_id")
        batch_op.drop_column("reference_files")
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
