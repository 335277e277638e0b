"""notebook assignments: an assignment's format, a submission's manually graded cells

Assignments get ``format`` (existing ones are ``files``); submissions get ``manual``
(the manually graded cells of a notebook assignment, as graded) and ``manual_scores``
(the staff's scores of them). Both start empty.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=16), nullable=False, server_default="files")
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manual", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("manual_scores", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("manual_scores")
        batch_op.drop_column("manual")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("format")
