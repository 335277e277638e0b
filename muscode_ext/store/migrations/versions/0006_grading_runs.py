"""executions.submission_id: a grading run names its submission in a column

Grading runs used to carry their submission (and who asked for a regrade) inside
their request JSON, under "grading". They now have ``executions.submission_id`` and
the submission has ``regraded_by``; existing rows are moved over.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_executions = sa.table(
    "executions",
    sa.column("id", sa.String()),
    sa.column("owner", sa.String()),
    sa.column("request", sa.JSON()),
    sa.column("submission_id", sa.String()),
)
_submissions = sa.table(
    "submissions",
    sa.column("id", sa.String()),
    sa.column("assignment_id", sa.String()),
    sa.column("execution_id", sa.String()),
    sa.column("regraded_by", sa.String()),
)
#: The owner of every grading run (MUSCode's own user; no person has a "/").
_GRADER = "muscode/grader"


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_executions_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_executions_submission_id_submissions"),
            "submissions",
            ["submission_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("regraded_by", sa.String(length=255), nullable=True))

    conn = op.get_bind()
    known = set(conn.scalars(sa.select(_submissions.c.id)))
    latest = dict(conn.execute(sa.select(_submissions.c.execution_id, _submissions.c.id)).all())
    runs = conn.execute(
        sa.select(_executions.c.id, _executions.c.request).where(_executions.c.owner == _GRADER)
    ).all()
    for run_id, request in runs:
        grading: Any = (request or {}).pop("grading", None)
        if not isinstance(grading, dict):
            continue
        submission_id = grading.get("submission_id")
        conn.execute(
            sa.update(_executions)
            .where(_executions.c.id == run_id)
            .values(
                request=request,
                submission_id=submission_id if submission_id in known else None,
            )
        )
        notify = grading.get("notify") or []
        if notify and latest.get(run_id) == submission_id:
            conn.execute(
                sa.update(_submissions)
                .where(_submissions.c.id == submission_id)
                .values(regraded_by=str(notify[0]))
            )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            _executions.c.id,
            _executions.c.request,
            _executions.c.submission_id,
            _submissions.c.assignment_id,
            _submissions.c.execution_id,
            _submissions.c.regraded_by,
        ).join(_submissions, _submissions.c.id == _executions.c.submission_id)
    ).all()
    for run_id, request, submission_id, assignment_id, latest, regraded_by in rows:
        notify = [regraded_by] if regraded_by and latest == run_id else []
        request = dict(request or {})
        request["grading"] = {
            "submission_id": submission_id,
            "assignment_id": assignment_id,
            "notify": notify,
        }
        conn.execute(
            sa.update(_executions).where(_executions.c.id == run_id).values(request=request)
        )

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("regraded_by")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_executions_submission_id_submissions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_executions_submission_id"))
        batch_op.drop_column("submission_id")
